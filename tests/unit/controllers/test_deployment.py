"""Deployment controller on the fake API: one sync at a time (recorded writes and events), then whole rollouts.

The fake's /status update keeps only `status`; the apiserver also keeps metadata
changes there (the controller writes the revision annotation that way), so the
tests add a reactor with the apiserver's behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import controller_harness as harness
import pytest

from pocketkube.client import virtualtime
from pocketkube.client.clock import rfc3339, wall
from pocketkube.client.fake import Action, FakeClient
from pocketkube.client.informer import Handlers, Informer
from pocketkube.client.rest import ApiError, ResourceRef
from pocketkube.controllers import podcontrol, refs
from pocketkube.controllers.base import InformerFactory
from pocketkube.controllers.deployment import util
from pocketkube.controllers.deployment.controller import DeploymentController
from pocketkube.controllers.deployment.sync import DEPLOYMENTS, REPLICASETS
from pocketkube.controllers.replicaset import ReplicaSetController

Obj = dict[str, Any]
NS = "ns"
KEY = f"{NS}/web"


def get_obj(fake: FakeClient, ref: ResourceRef, name: str, namespace: str) -> Obj:
    found = fake.object(ref, name, namespace)
    assert found is not None, f"{ref.plural} {namespace}/{name} not found"
    return found


def template(image: str = "nginx:1.25") -> Obj:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": image}]}}


def deployment(replicas: int = 3, image: str = "nginx:1.25", *, surge: int | str = "25%",
               unavailable: int | str = "25%", recreate: bool = False, revision: int | None = None,
               **spec: Any) -> Obj:
    strategy: Obj = {"type": "Recreate"} if recreate else {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    meta: Obj = {"name": "web", "namespace": NS, "uid": "uid-web", "generation": 1}
    if revision is not None:
        meta["annotations"] = {util.REVISION: str(revision)}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "strategy": strategy,
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600, "template": template(image),
                     **spec}}


def owned_rs(d: Obj, image: str, replicas: int, revision: int, *, available: int | None = None,
             created: str = "2024-01-01T00:00:00Z", desired: int | None = None) -> Obj:
    """A ReplicaSet as the controller makes it, with a settled status."""
    t = template(image)
    h = util.compute_hash(t, None)
    tmpl, selector = util.new_rs_template({"spec": {"template": t, "selector": d["spec"]["selector"]}}, h)
    avail = replicas if available is None else available
    want = d["spec"]["replicas"] if desired is None else desired
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"web-{h}", "namespace": NS, "uid": f"uid-{image}", "generation": 1,
                         "creationTimestamp": created, "labels": dict(tmpl["metadata"]["labels"]),
                         "annotations": {util.REVISION: str(revision), util.DESIRED_REPLICAS: str(want),
                                         util.MAX_REPLICAS: str(want + util.max_surge(d))},
                         "ownerReferences": [podcontrol.controller_ref(d, "apps/v1", "Deployment")]},
            "spec": {"replicas": replicas, "selector": selector, "template": tmpl},
            "status": {"replicas": replicas, "readyReplicas": avail, "availableReplicas": avail,
                       "fullyLabeledReplicas": replicas, "observedGeneration": 1}}


def rs_name(image: str, collisions: int | None = None) -> str:
    return f"web-{util.compute_hash(template(image), collisions)}"


def fake_api() -> FakeClient:
    fake = FakeClient()

    def status_update(action: Action) -> tuple[bool, Any]:
        stored = fake.tracker.get(DEPLOYMENTS, action.namespace, action.name)
        stored["status"] = action.body.get("status")
        stored["metadata"]["annotations"] = action.body["metadata"].get("annotations") or {}
        stored["metadata"]["resourceVersion"] = action.body["metadata"].get("resourceVersion")
        return True, fake.tracker.update(DEPLOYMENTS, stored, raw=True)
    fake.prepend_reactor("update", "deployments/status", status_update)
    return fake


@contextlib.asynccontextmanager
async def running(fake: FakeClient) -> AsyncIterator[DeploymentController]:
    factory = InformerFactory(fake)
    ctrl = DeploymentController(fake, factory)
    async with harness.running(factory):
        await ctrl.wait_for_sync()
        yield ctrl


def events(ctrl: DeploymentController) -> list[str]:
    out = []
    while not ctrl.recorder.queue.empty():
        e = ctrl.recorder.queue.get_nowait()
        out.append(f"{e['reason']}: {e['message']}")
    return out


def writes(fake: FakeClient) -> list[tuple[str, str, str]]:
    return [(a.verb, a.resource_name, a.name) for a in fake.mutations()]


def bodies(fake: FakeClient, verb: str, resource: str) -> list[Obj]:
    return [a.body for a in fake.mutations() if a.verb == verb and a.resource_name == resource]


def conditions(d: Obj) -> list[tuple[str, str, str, str]]:
    return [(c["type"], c["status"], c["reason"], c["message"]) for c in d["status"].get("conditions") or []]


def run(fn: Callable[[], Any]) -> None:
    virtualtime.run(fn())


def test_a_new_deployment_creates_its_replicaset() -> None:
    async def main() -> None:
        fake = fake_api()
        fake.add(DEPLOYMENTS, deployment())
        async with running(fake) as ctrl:
            assert await ctrl.sync(KEY) is None
            name = rs_name("nginx:1.25")
            assert writes(fake) == [("create", "replicasets", name), ("update", "deployments/status", "web"),
                                    ("update", "deployments/status", "web")]
            rs = bodies(fake, "create", "replicasets")[0]
            h = name.removeprefix("web-")
            assert rs["metadata"] == {
                "name": name, "namespace": NS, "labels": {"app": "web", "pod-template-hash": h},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "uid-web",
                                     "controller": True, "blockOwnerDeletion": True}],
                "annotations": {util.REVISION: "1", util.DESIRED_REPLICAS: "3", util.MAX_REPLICAS: "4"}}
            assert rs["spec"]["replicas"] == 3
            assert rs["spec"]["selector"] == {"matchLabels": {"app": "web", "pod-template-hash": h}}
            assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": h}
            assert events(ctrl) == [f"ScalingReplicaSet: Scaled up replica set {name} from 0 to 3"]
            d = get_obj(fake, DEPLOYMENTS, "web", NS)
            assert d["metadata"]["annotations"] == {util.REVISION: "1"}
            assert conditions(d) == [
                ("Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{name}"'),
                ("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")]
            assert d["status"]["observedGeneration"] == 1 and d["status"]["unavailableReplicas"] == 3
    run(main)


def test_rolling_update_steps_within_surge_and_unavailability() -> None:
    async def main() -> None:
        fake = fake_api()
        d = fake.add(DEPLOYMENTS, deployment(image="nginx:1.27", revision=1))
        old = fake.add(REPLICASETS, owned_rs(d, "nginx:1.25", 3, 1))
        async with running(fake) as ctrl:
            await ctrl.sync(KEY)
            new = rs_name("nginx:1.27")
            assert [w for w in writes(fake) if w[1] != "deployments/status"] == [("create", "replicasets", new)]
            created = bodies(fake, "create", "replicasets")[0]
            assert created["spec"]["replicas"] == 1  # 3 + maxSurge 1 in all
            assert created["metadata"]["annotations"][util.REVISION] == "2"
            assert events(ctrl) == [f"ScalingReplicaSet: Scaled up replica set {new} from 0 to 1"]
            assert get_obj(fake, DEPLOYMENTS, "web", NS)["metadata"]["annotations"][util.REVISION] == "2"
            await asyncio.sleep(0.01)
            fake.clear_actions()
            await ctrl.sync(KEY)  # nothing new is available: maxUnavailable 0 holds the old ones
            assert [w for w in writes(fake) if w[1] == "replicasets"] == []
            stored = get_obj(fake, REPLICASETS, new, NS)
            stored["status"] = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "observedGeneration": 1}
            fake.tracker.update(REPLICASETS, stored, raw=True)
            await asyncio.sleep(0.01)
            await ctrl.sync(KEY)
            scaled = bodies(fake, "update", "replicasets")
            assert [(b["metadata"]["name"], b["spec"]["replicas"]) for b in scaled] == [(old["metadata"]["name"], 2)]
            assert events(ctrl) == [f"ScalingReplicaSet: Scaled down replica set {old['metadata']['name']} from 3 to 2"]
    run(main)


def test_scaling_during_a_rollout_is_proportional() -> None:
    async def main() -> None:
        fake = fake_api()
        d = fake.add(DEPLOYMENTS, deployment(6, image="nginx:1.27", revision=2))
        three = deployment(3)
        old = fake.add(REPLICASETS, owned_rs(three, "nginx:1.25", 3, 1, desired=3))
        new = fake.add(REPLICASETS, owned_rs(three, "nginx:1.27", 1, 2, available=0, desired=3,
                                             created="2024-01-02T00:00:00Z"))
        assert d["spec"]["replicas"] == 6
        async with running(fake) as ctrl:
            await ctrl.sync(KEY)
            scaled = {b["metadata"]["name"]: (b["spec"]["replicas"], b["metadata"]["annotations"][util.DESIRED_REPLICAS],
                                              b["metadata"]["annotations"][util.MAX_REPLICAS])
                      for b in bodies(fake, "update", "replicasets")}
            assert scaled == {old["metadata"]["name"]: (6, "6", "8"), new["metadata"]["name"]: (2, "6", "8")}
            assert sorted(events(ctrl)) == sorted([
                f"ScalingReplicaSet: Scaled up replica set {new['metadata']['name']} from 1 to 2",
                f"ScalingReplicaSet: Scaled up replica set {old['metadata']['name']} from 3 to 6"])
    run(main)


def test_paused_deployments_scale_but_do_not_roll_out() -> None:
    async def main() -> None:
        fake = fake_api()
        d = fake.add(DEPLOYMENTS, deployment(5, image="nginx:1.27", revision=1, paused=True))
        rs = fake.add(REPLICASETS, owned_rs(deployment(3), "nginx:1.25", 3, 1))
        assert d["spec"]["paused"]
        async with running(fake) as ctrl:
            await ctrl.sync(KEY)
            assert [w for w in writes(fake) if w[1] == "replicasets"] == [("update", "replicasets", rs["metadata"]["name"])]
            assert events(ctrl) == [f"ScalingReplicaSet: Scaled up replica set {rs['metadata']['name']} from 3 to 5"]
            stored = get_obj(fake, DEPLOYMENTS, "web", NS)
            assert ("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused") in conditions(stored)
            stored["spec"].pop("paused")
            await fake.update(DEPLOYMENTS, stored)
            await asyncio.sleep(0.01)
            await ctrl.sync(KEY)
            assert ("Progressing", "True", "NewReplicaSetCreated",
                    f'Created new replica set "{rs_name("nginx:1.27")}"') in conditions(
                get_obj(fake, DEPLOYMENTS, "web", NS))
    run(main)


def test_rollback_reuses_the_old_replicaset_with_a_new_revision() -> None:
    async def main() -> None:
        fake = fake_api()
        d = fake.add(DEPLOYMENTS, deployment(revision=2))  # kubectl rollout undo put 1.25 back
        first = fake.add(REPLICASETS, owned_rs(deployment(), "nginx:1.25", 0, 1, available=0))
        second = fake.add(REPLICASETS, owned_rs(d, "nginx:1.27", 3, 2, created="2024-01-02T00:00:00Z"))
        async with running(fake) as ctrl:
            await ctrl.sync(KEY)
            assert [w for w in writes(fake) if w[0] == "create"] == []
            back = get_obj(fake, REPLICASETS, first["metadata"]["name"], NS)
            assert back["metadata"]["annotations"][util.REVISION] == "3"
            assert back["metadata"]["annotations"][util.REVISION_HISTORY] == "1"
            assert back["spec"]["replicas"] == 1
            assert get_obj(fake, DEPLOYMENTS, "web", NS)["metadata"]["annotations"][util.REVISION] == "3"
            assert get_obj(fake, REPLICASETS, second["metadata"]["name"], NS)["metadata"]["annotations"][
                util.REVISION] == "2"
    run(main)


def test_history_is_pruned_to_the_limit_once_complete() -> None:
    async def main() -> None:
        fake = fake_api()
        d = deployment(image="v4", revision=4, revisionHistoryLimit=1)
        d["status"] = {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}
        d = fake.add(DEPLOYMENTS, d)
        for i, image in enumerate(["v1", "v2", "v3"], start=1):
            fake.add(REPLICASETS, owned_rs(d, image, 0, i, available=0, created=f"2024-01-0{i}T00:00:00Z"))
        busy = owned_rs(d, "v0", 0, 0, available=0, created="2024-01-01T00:00:00Z")
        busy["status"]["replicas"] = 1  # its last pod is still terminating: kept
        fake.add(REPLICASETS, busy)
        fake.add(REPLICASETS, owned_rs(d, "v4", 3, 4, created="2024-01-05T00:00:00Z"))
        async with running(fake) as ctrl:
            await ctrl.sync(KEY)
            deleted = [w[2] for w in writes(fake) if w[0] == "delete"]
            assert deleted == [rs_name("v1"), rs_name("v2")]
            assert busy["metadata"]["name"] not in deleted
    run(main)


def test_recreate_scales_old_to_zero_and_waits_for_their_pods() -> None:
    async def main() -> None:
        fake = fake_api()
        d = fake.add(DEPLOYMENTS, deployment(image="nginx:1.27", revision=1, recreate=True))
        old = fake.add(REPLICASETS, owned_rs(d, "nginx:1.25", 3, 1))
        pods = [fake.add(refs.PODS, {"metadata": {"name": f"p{i}", "namespace": NS, "labels": {"app": "web"},
                                                  "ownerReferences": [podcontrol.controller_ref(old, "apps/v1",
                                                                                                "ReplicaSet")]},
                                     "status": {"phase": "Running"}}) for i in range(3)]
        async with running(fake) as ctrl:
            await ctrl.sync(KEY)
            assert [w for w in writes(fake) if w[1] == "replicasets"] == [("update", "replicasets", old["metadata"]["name"])]
            assert events(ctrl) == [f"ScalingReplicaSet: Scaled down replica set {old['metadata']['name']} from 3 to 0"]
            stored = get_obj(fake, REPLICASETS, old["metadata"]["name"], NS)
            stored["status"] = {"replicas": 0, "observedGeneration": 2}
            fake.tracker.update(REPLICASETS, stored, raw=True)
            await asyncio.sleep(0.01)
            fake.clear_actions()
            await ctrl.sync(KEY)  # the pods still run
            assert [w for w in writes(fake) if w[1] == "replicasets"] == []
            for p in pods:
                await fake.delete(refs.PODS, p["metadata"]["name"], NS)
            await asyncio.sleep(0.01)
            await ctrl.sync(KEY)
            new = bodies(fake, "create", "replicasets")
            assert [(b["metadata"]["name"], b["spec"]["replicas"]) for b in new] == [(rs_name("nginx:1.27"), 3)]
    run(main)


def test_hash_collision_bumps_collision_count() -> None:
    async def main() -> None:
        fake = fake_api()
        fake.add(DEPLOYMENTS, deployment())
        squatter = owned_rs(deployment(), "nginx:1.25", 0, 1)
        squatter["metadata"]["ownerReferences"] = []
        squatter["metadata"]["labels"] = {"other": "x"}
        fake.add(REPLICASETS, squatter)
        async with running(fake) as ctrl:
            with pytest.raises(ApiError):
                await ctrl.sync(KEY)
            assert get_obj(fake, DEPLOYMENTS, "web", NS)["status"]["collisionCount"] == 1
            await asyncio.sleep(0.01)
            await ctrl.sync(KEY)
            assert [b["metadata"]["name"] for b in bodies(fake, "create", "replicasets")][-1] == rs_name("nginx:1.25", 1)
    run(main)


def test_adopts_orphan_replicasets_and_releases_foreign_labels() -> None:
    async def main() -> None:
        fake = fake_api()
        d = fake.add(DEPLOYMENTS, deployment(revision=1))
        orphan = owned_rs(d, "nginx:1.25", 3, 1)
        orphan["metadata"].pop("ownerReferences")
        fake.add(REPLICASETS, orphan)
        async with running(fake) as ctrl:
            await ctrl.sync(KEY)
            patches = [a for a in fake.mutations() if a.verb == "patch"]
            assert [(a.resource_name, a.name) for a in patches] == [("replicasets", orphan["metadata"]["name"])]
            assert [w for w in writes(fake) if w[0] == "create"] == []
    run(main)


# ---------------------------------------------------------------------------------- whole rollouts
class Kubelet:
    """Pods bound to a node at once and Ready after `delay` virtual seconds."""

    def __init__(self, fake: FakeClient, delay: float = 3.0) -> None:
        self.fake, self.delay = fake, delay
        self.informer = Informer(fake, refs.PODS)
        self.pending: asyncio.Queue[str] = asyncio.Queue()
        self.informer.add_handlers(Handlers(on_add=lambda p: self.pending.put_nowait(p["metadata"]["name"])))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.informer.run())
            while True:
                name = await self.pending.get()
                tg.create_task(self._start(name))

    async def _start(self, name: str) -> None:
        await asyncio.sleep(self.delay)
        pod = self.fake.object(refs.PODS, name, NS)
        if pod is None:
            return
        pod["spec"]["nodeName"] = "node-1"
        pod["status"] = {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(wall())}]}
        self.fake.tracker.update(refs.PODS, pod, raw=True)


class Watcher:
    """Every pod event: the pods that exist and those that are ready, by template image."""

    def __init__(self, fake: FakeClient) -> None:
        self.informer = Informer(fake, refs.PODS)
        self.samples: list[tuple[int, int, set[str], set[str]]] = []
        self.informer.add_handlers(Handlers(on_add=lambda p: self.sample(), on_update=lambda a, b: self.sample(),
                                            on_delete=lambda p: self.sample()))

    def sample(self) -> None:
        pods = [p for p in self.informer.list() if not p["metadata"].get("deletionTimestamp")]
        ready = [p for p in pods if podcontrol.is_pod_ready(p)]
        images = {p["spec"]["containers"][0]["image"] for p in pods}
        self.samples.append((len(pods), len(ready), images, {p["spec"]["containers"][0]["image"] for p in ready}))


@contextlib.asynccontextmanager
async def cluster(fake: FakeClient) -> AsyncIterator[Watcher]:
    factory = InformerFactory(fake)
    watcher = Watcher(fake)
    controllers = [ReplicaSetController(fake, factory), DeploymentController(fake, factory)]
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(factory.run()), tg.create_task(Kubelet(fake).run()),
                 tg.create_task(watcher.informer.run()), *(tg.create_task(c.run()) for c in controllers)]
        try:
            yield watcher
        finally:
            for t in tasks:
                t.cancel()


async def until(cond: Callable[[], bool], timeout: float = 600.0) -> None:
    await harness.until(cond, timeout, poll=0.5)


def rolled_out(fake: FakeClient, replicas: int, image: str) -> Callable[[], bool]:
    def check() -> bool:
        d = get_obj(fake, DEPLOYMENTS, "web", NS)
        st = (d or {}).get("status") or {}
        pods = fake.objects(refs.PODS, NS)
        return d is not None and st.get("observedGeneration") == d["metadata"].get("generation") and \
            st.get("updatedReplicas") == st.get("availableReplicas") == st.get("replicas") == replicas and \
            len(pods) == replicas and all(p["spec"]["containers"][0]["image"] == image for p in pods)
    return check


async def set_image(fake: FakeClient, image: str) -> None:
    d = get_obj(fake, DEPLOYMENTS, "web", NS)
    assert d is not None
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    d["metadata"]["generation"] = int(d["metadata"].get("generation") or 1) + 1
    await fake.update(DEPLOYMENTS, d)


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), [
    (3, "25%", "25%"), (10, "25%", "25%"), (4, 0, 1), (5, 2, 0), (6, "50%", "50%")])
def test_rolling_update_never_breaks_the_bounds(replicas: int, surge: int | str, unavailable: int | str) -> None:
    async def main() -> None:
        fake = fake_api()
        await fake.create(DEPLOYMENTS, deployment(replicas, surge=surge, unavailable=unavailable), NS)
        async with cluster(fake) as watcher:
            await until(rolled_out(fake, replicas, "nginx:1.25"))
            start = len(watcher.samples)
            await set_image(fake, "nginx:1.27")
            await until(rolled_out(fake, replicas, "nginx:1.27"))
            d = get_obj(fake, DEPLOYMENTS, "web", NS)
            assert d is not None
            max_surge, max_unavailable = util.resolve_fenceposts(surge, unavailable, replicas)
            during = watcher.samples[start:]
            assert max(n for n, _, _, _ in during) <= replicas + max_surge
            assert min(r for _, r, _, _ in during) >= replicas - max_unavailable
            assert any("nginx:1.27" in imgs and "nginx:1.25" in imgs for _, _, imgs, _ in during) or replicas == 1
            rss = {rs["metadata"]["annotations"][util.REVISION]: rs["spec"]["replicas"]
                   for rs in fake.objects(REPLICASETS, NS)}
            assert rss == {"1": 0, "2": replicas}
            assert d["metadata"]["annotations"][util.REVISION] == "2"
            assert ("Progressing", "True", "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name("nginx:1.27")}" has successfully progressed.') in conditions(d)
    run(main)


def test_rollout_undo_and_recreate_end_to_end() -> None:
    async def main() -> None:
        fake = fake_api()
        await fake.create(DEPLOYMENTS, deployment(3), NS)
        async with cluster(fake) as watcher:
            await until(rolled_out(fake, 3, "nginx:1.25"))
            await set_image(fake, "nginx:1.27")
            await until(rolled_out(fake, 3, "nginx:1.27"))
            await set_image(fake, "nginx:1.25")  # what `kubectl rollout undo` sends
            await until(rolled_out(fake, 3, "nginx:1.25"))
            revisions = {rs["metadata"]["name"]: rs["metadata"]["annotations"][util.REVISION]
                         for rs in fake.objects(REPLICASETS, NS)}
            assert revisions == {rs_name("nginx:1.25"): "3", rs_name("nginx:1.27"): "2"}
            d = get_obj(fake, DEPLOYMENTS, "web", NS)
            assert d is not None
            d["spec"]["strategy"] = {"type": "Recreate"}
            await fake.update(DEPLOYMENTS, d)
            start = len(watcher.samples)
            await set_image(fake, "nginx:1.28")
            await until(rolled_out(fake, 3, "nginx:1.28"))
            for _, _, images, _ in watcher.samples[start:]:
                assert not ("nginx:1.28" in images and len(images) > 1), "new pods beside old ones"
    run(main)


def test_deleted_deployment_sync_is_a_no_op() -> None:
    async def main() -> None:
        fake = fake_api()
        async with running(fake) as ctrl:
            assert await ctrl.sync(KEY) is None
            assert writes(fake) == []
    run(main)
