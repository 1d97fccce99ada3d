"""ReplicaSet controller on the fake API: recorded actions, events, expectations, deletion order, status."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import controller_harness as harness
import pytest

from pocketkube.client import virtualtime
from pocketkube.client.clock import rfc3339, wall
from pocketkube.client.fake import Action, FakeClient
from pocketkube.client.rest import ApiError, ResourceRef
from pocketkube.controllers import podcontrol, refs
from pocketkube.controllers.base import InformerFactory
from pocketkube.controllers.replicaset import REPLICASETS, ReplicaSetController, calculate_status

Obj = dict[str, Any]
NS = "ns"


def get_obj(fake: FakeClient, ref: ResourceRef, name: str, namespace: str) -> Obj:
    found = fake.object(ref, name, namespace)
    assert found is not None, f"{ref.plural} {namespace}/{name} not found"
    return found


def replicaset(name: str = "web", replicas: int = 3, **spec: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": NS, "generation": 1, "uid": f"uid-{name}"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, **spec},
            "status": {"replicas": 0}}


def pod(name: str, *, owner: Obj | None = None, node: str = "n1", phase: str = "Running",
        ready_since: datetime | None = None, labels: dict[str, str] | None = None, created: datetime | None = None,
        **meta: Any) -> Obj:
    m: Obj = {"name": name, "namespace": NS, "uid": f"uid-{name}",
              "labels": {"app": "web", "tier": "fe"} if labels is None else labels, **meta}
    if owner is not None:
        m["ownerReferences"] = [podcontrol.controller_ref(owner, "apps/v1", "ReplicaSet")]
    if created is not None:
        m["creationTimestamp"] = rfc3339(created)
    conditions = [{"type": "Ready", "status": "True" if ready_since else "False",
                   "lastTransitionTime": rfc3339(ready_since or datetime(2020, 1, 1, tzinfo=UTC))}]
    return {"metadata": m, "spec": {"nodeName": node} if node else {},
            "status": {"phase": phase, "conditions": conditions}}


@contextlib.asynccontextmanager
async def running(fake: FakeClient) -> AsyncIterator[ReplicaSetController]:
    """A controller whose informers run (no workers: the test calls sync)."""
    factory = InformerFactory(fake)
    ctrl = ReplicaSetController(fake, factory)
    async with harness.running(factory):
        await ctrl.wait_for_sync()
        yield ctrl


async def settle() -> None:
    await asyncio.sleep(0.01)


def events(ctrl: ReplicaSetController) -> list[tuple[str, str, str]]:
    queued = []
    while not ctrl.recorder.queue.empty():
        e = ctrl.recorder.queue.get_nowait()
        queued.append((e["type"], e["reason"], e["message"]))
    return queued


def writes(fake: FakeClient) -> list[tuple[str, str, str]]:
    return [(a.verb, a.resource_name, a.name) for a in fake.mutations()]


def run(fn: Callable[[], Any]) -> None:
    virtualtime.run(fn())


def test_creates_missing_pods_with_controller_reference_and_events() -> None:
    async def main() -> None:
        fake = FakeClient()
        rs = fake.add(REPLICASETS, replicaset())
        async with running(fake) as ctrl:
            assert await ctrl.sync(f"{NS}/web") is None
            creates = [a for a in fake.mutations() if a.verb == "create"]
            assert len(creates) == 3
            body = creates[0].body
            assert body["metadata"]["generateName"] == "web-"
            assert body["metadata"]["labels"] == {"app": "web", "tier": "fe"}
            assert body["metadata"]["ownerReferences"] == [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"],
                "controller": True, "blockOwnerDeletion": True}]
            assert body["spec"] == {"containers": [{"name": "c", "image": "nginx"}]}
            status = [a for a in fake.mutations() if a.resource_name == "replicasets/status"]
            assert [a.body["status"] for a in status] == [{"replicas": 0, "observedGeneration": 1}]
            names = sorted(p["metadata"]["name"] for p in fake.objects(refs.PODS, NS))
            assert sorted(m for _, _, m in events(ctrl)) == [f"Created pod: {n}" for n in names]
            await settle()
            fake.clear_actions()
            await ctrl.sync(f"{NS}/web")  # the cache shows 3 pods: nothing to do but status
            assert writes(fake) == [("update", "replicasets/status", "web")]
            assert get_obj(fake, REPLICASETS, "web", NS)["status"] == {
                "replicas": 3, "fullyLabeledReplicas": 3, "observedGeneration": 1}
    run(main)


def test_slow_start_batches_stop_at_first_failure() -> None:
    async def main() -> None:
        calls = 0

        async def fn() -> None:
            nonlocal calls
            calls += 1
            if calls == 5:
                raise RuntimeError("refused")
        assert await podcontrol.slow_start_batch(3, 1, fn) == (3, None)
        calls = 0
        successes, err = await podcontrol.slow_start_batch(20, 1, fn)
        assert (calls, successes, str(err)) == (7, 6, "refused")  # batches 1, 2, 4
    run(main)


def forbidden(message: str) -> ApiError:
    return ApiError(403, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                          "reason": "Forbidden", "code": 403})


def test_failed_creates_set_replica_failure_and_lower_expectations() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(REPLICASETS, replicaset(replicas=10))
        calls = 0

        def quota(action: Action) -> tuple[bool, Any]:
            nonlocal calls
            calls += 1
            if calls == 4:
                raise forbidden('pods "web-x" is forbidden: exceeded quota: q')
            return False, None
        fake.prepend_reactor("create", "pods", quota)
        async with running(fake) as ctrl:
            with pytest.raises(ApiError):
                await ctrl.sync(f"{NS}/web")
            assert calls == 7
            assert len(fake.objects(refs.PODS, NS)) == 6  # batches 1, 2, 4 with one refusal
            cond = get_obj(fake, REPLICASETS, "web", NS)["status"]["conditions"][0]
            assert {k: cond[k] for k in ("type", "status", "reason", "message")} == {
                "type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                "message": 'pods "web-x" is forbidden: exceeded quota: q'}
            assert ("Warning", "FailedCreate", 'Error creating: pods "web-x" is forbidden: exceeded quota: q') \
                in events(ctrl)
            await settle()
            assert ctrl.expectations.satisfied(f"{NS}/web")  # 10 expected: 6 seen, 4 taken back
            fake.reactors.clear()
            await ctrl.sync(f"{NS}/web")
            assert len(fake.objects(refs.PODS, NS)) == 10
            assert "conditions" not in get_obj(fake, REPLICASETS, "web", NS)["status"]
    run(main)


def test_expectations_hold_back_until_the_cache_shows_the_pods() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(REPLICASETS, replicaset(replicas=2))
        fake.prepend_reactor("create", "pods", lambda a: (True, {**a.body, "metadata": {
            **a.body["metadata"], "name": "lost"}}))  # answered, never stored: never observed
        async with running(fake) as ctrl:
            await ctrl.sync(f"{NS}/web")
            await settle()
            fake.clear_actions()
            await ctrl.sync(f"{NS}/web")
            assert [a for a in fake.mutations() if a.verb == "create"] == []
            ctrl.expectations.clock = lambda: 1e9  # the TTL passes: act on the cache again
            await ctrl.sync(f"{NS}/web")
            assert len([a for a in fake.mutations() if a.verb == "create"]) == 2
    run(main)


def test_scale_down_deletes_in_upstream_preference_order() -> None:
    async def main() -> None:
        fake = FakeClient()
        now = wall()
        rs = fake.add(REPLICASETS, replicaset(replicas=2))
        long_ago = now - timedelta(hours=5)
        for p in [pod("ready-old", owner=rs, ready_since=long_ago, created=long_ago),
                  pod("unscheduled", owner=rs, node="", phase="Pending"),
                  pod("ready-new", owner=rs, ready_since=now - timedelta(seconds=5), created=now),
                  pod("pending", owner=rs, phase="Pending"),
                  pod("not-ready", owner=rs)]:
            fake.add(refs.PODS, p)
        async with running(fake) as ctrl:
            await ctrl.sync(f"{NS}/web")
            deletes = [a.name for a in fake.mutations() if a.verb == "delete"]
            assert sorted(deletes) == ["not-ready", "pending", "unscheduled"]
            assert sorted(m for _, r, m in events(ctrl) if r == "SuccessfulDelete") == [
                f"Deleted pod: {n}" for n in sorted(deletes)]
            await settle()
            assert ctrl.expectations.satisfied(f"{NS}/web")
            assert sorted(p["metadata"]["name"] for p in fake.objects(refs.PODS, NS)) == ["ready-new", "ready-old"]
    run(main)


def test_deletion_order_table() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    base = now - timedelta(days=1)
    pods = [
        pod("a-cost-high", node="na", ready_since=base, created=base, annotations={podcontrol.DELETION_COST: "10"}),
        pod("b-plain", node="nb", ready_since=base, created=base),
        pod("c-cost-low", node="nc", ready_since=base, created=base, annotations={podcontrol.DELETION_COST: "-5"}),
        pod("d-doubled", node="shared", ready_since=base, created=base),
        pod("e-restarts", node="ne", ready_since=base, created=base),
        pod("f-ready-recently", node="nf", ready_since=now - timedelta(seconds=30), created=base),
        pod("g-unknown", node="ng", phase="Unknown"),
    ]
    pods[4]["status"]["containerStatuses"] = [{"name": "c", "restartCount": 4}]
    related = [*pods, pod("sibling", node="shared", ready_since=base)]  # d shares its node: rank 2
    order = [p["metadata"]["name"] for p in podcontrol.deletion_order(pods, related, now)]
    assert order == ["g-unknown", "c-cost-low", "d-doubled", "f-ready-recently", "e-restarts", "b-plain",
                     "a-cost-high"]


def test_adopts_matching_orphans_and_releases_pods_that_stopped_matching() -> None:
    async def main() -> None:
        fake = FakeClient()
        rs = fake.add(REPLICASETS, replicaset(replicas=1))
        fake.add(refs.PODS, pod("orphan", ready_since=wall()))
        fake.add(refs.PODS, pod("relabelled", owner=rs, labels={"app": "other"}))
        fake.add(refs.PODS, pod("foreign", owner=replicaset("other"), ready_since=wall()))
        async with running(fake) as ctrl:
            await ctrl.sync(f"{NS}/web")
            patches = {a.name: a.body for a in fake.mutations() if a.verb == "patch"}
            assert patches == {
                "orphan": {"metadata": {"ownerReferences": [podcontrol.controller_ref(rs, "apps/v1", "ReplicaSet")],
                                        "uid": "uid-orphan"}},
                "relabelled": {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": rs["metadata"]["uid"]}],
                                            "uid": "uid-relabelled"}}}
            assert [a.verb for a in fake.actions if a.resource_name == "replicasets" and a.verb == "get"] == ["get"]  # the recheck
            assert get_obj(fake, refs.PODS, "orphan", NS)["metadata"]["ownerReferences"][0]["uid"] == "uid-web"
            assert not get_obj(fake, refs.PODS, "relabelled", NS)["metadata"].get("ownerReferences")
            assert [a for a in fake.mutations() if a.verb == "create"] == []  # the adopted pod counts
    run(main)


def test_being_deleted_neither_adopts_nor_manages() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(REPLICASETS, {**replicaset(), "metadata": {**replicaset()["metadata"],
                                                            "deletionTimestamp": rfc3339(wall()),
                                                            "finalizers": ["foregroundDeletion"]}})
        fake.add(refs.PODS, pod("orphan"))
        async with running(fake) as ctrl:
            await ctrl.sync(f"{NS}/web")
            assert [v for v, _, _ in writes(fake)] == ["update"]  # status only
    run(main)


def test_terminal_and_terminating_pods_do_not_count() -> None:
    async def main() -> None:
        fake = FakeClient()
        rs = fake.add(REPLICASETS, replicaset(replicas=2))
        fake.add(refs.PODS, pod("failed", owner=rs, phase="Failed"))
        fake.add(refs.PODS, pod("done", owner=rs, phase="Succeeded"))
        fake.add(refs.PODS, pod("leaving", owner=rs, ready_since=wall(), deletionTimestamp=rfc3339(wall()),
                                finalizers=["x"]))
        fake.add(refs.PODS, pod("live", owner=rs, ready_since=wall()))
        async with running(fake) as ctrl:
            await ctrl.sync(f"{NS}/web")
            assert len([a for a in fake.mutations() if a.verb == "create"]) == 1
            status = next(a.body["status"] for a in fake.mutations() if a.resource_name == "replicasets/status")
            assert status == {"replicas": 1, "fullyLabeledReplicas": 1, "readyReplicas": 1,
                              "availableReplicas": 1, "observedGeneration": 1}
    run(main)


def test_status_counts_ready_available_and_requeues_for_min_ready_seconds() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    rs = replicaset(replicas=3, minReadySeconds=10)
    pods = [pod("old", ready_since=now - timedelta(minutes=5)),
            pod("fresh", ready_since=now - timedelta(seconds=3), labels={"app": "web"}),
            pod("starting")]
    assert calculate_status(rs, pods, None, now) == {
        "replicas": 3, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 1}

    async def main() -> None:
        fake = FakeClient()
        owner = fake.add(REPLICASETS, replicaset(replicas=2, minReadySeconds=10))
        fake.add(refs.PODS, pod("a", owner=owner, ready_since=wall()))
        fake.add(refs.PODS, pod("b", owner=owner, ready_since=wall() - timedelta(minutes=1)))
        async with running(fake) as ctrl:
            assert await ctrl.sync(f"{NS}/web") == 10.0
            assert get_obj(fake, REPLICASETS, "web", NS)["status"]["availableReplicas"] == 1
            fake.clear_actions()
            await settle()
            await ctrl.sync(f"{NS}/web")  # nothing changed: no write
            assert writes(fake) == []
    run(main)


def test_controller_keeps_the_count_when_pods_go_away() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(REPLICASETS, replicaset(replicas=3))
        factory = InformerFactory(fake)
        ctrl = ReplicaSetController(fake, factory)

        async def until(cond: Callable[[], bool]) -> None:
            await harness.until(cond, 60, poll=0.05)
        async with harness.running(factory, ctrl.run()):
            await until(lambda: len(fake.objects(refs.PODS, NS)) == 3)
            victim = fake.objects(refs.PODS, NS)[0]["metadata"]["name"]
            await fake.delete(refs.PODS, victim, NS)
            await until(lambda: len(fake.objects(refs.PODS, NS)) == 3 and
                        victim not in {p["metadata"]["name"] for p in fake.objects(refs.PODS, NS)})
            rs = get_obj(fake, REPLICASETS, "web", NS)
            rs["spec"]["replicas"] = 1
            await fake.update(REPLICASETS, rs)
            await until(lambda: len(fake.objects(refs.PODS, NS)) == 1)
            await until(lambda: get_obj(fake, REPLICASETS, "web", NS)["status"].get("observedGeneration") == 2)
    run(main)


def test_graceful_stop_writes_the_queued_events() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(REPLICASETS, replicaset(replicas=2))
        factory = InformerFactory(fake)
        ctrl = ReplicaSetController(fake, factory)
        async with asyncio.TaskGroup() as tg:
            informers = tg.create_task(factory.run())
            runner = tg.create_task(ctrl.run())
            async with asyncio.timeout(60):
                while len(fake.objects(refs.PODS, NS)) < 2:
                    await asyncio.sleep(0.05)
            ctrl.stop()
            await runner  # returns once the queue drained and the events were written
            informers.cancel()
        reasons = [e["reason"] for e in fake.objects(ResourceRef("", "v1", "events"), NS)]
        assert reasons == ["SuccessfulCreate", "SuccessfulCreate"]
    run(main)
