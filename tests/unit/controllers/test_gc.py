"""The garbage collector against the fake API: background, foreground and orphan propagation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import controller_harness as harness

from pocketkube.client import virtualtime
from pocketkube.client.events import EventRecorder
from pocketkube.client.fake import FakeClient
from pocketkube.client.rest import ApiError, ResourceRef
from pocketkube.controllers.base import InformerFactory
from pocketkube.controllers.garbagecollector.collector import GarbageCollector, GarbageCollectorSettings

CM = ResourceRef("", "v1", "configmaps")
SECRETS = ResourceRef("", "v1", "secrets")
NODES = ResourceRef("", "v1", "nodes", namespaced=False)
NAMESPACES = ResourceRef("", "v1", "namespaces", namespaced=False)
Obj = dict[str, Any]


class ApiFake(FakeClient):
    """The fake API plus the apiserver's DELETE rule: Orphan/Foreground become finalizers."""

    async def delete(self, ref: ResourceRef, name: str, namespace: str = "",
                     options: dict[str, Any] | None = None) -> Any:
        policy = (options or {}).get("propagationPolicy")
        finalizer = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}.get(str(policy))
        obj = self.object(ref, name, namespace)
        if finalizer and obj is not None and finalizer not in (obj["metadata"].get("finalizers") or []):
            obj["metadata"]["finalizers"] = [*(obj["metadata"].get("finalizers") or []), finalizer]
            self.tracker.update(ref, obj, raw=True)
        return await super().delete(ref, name, namespace, options)


def owner(obj: Obj, block: bool | None = None, kind: str = "ConfigMap") -> Obj:
    r = {"apiVersion": "v1", "kind": kind, "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"]}
    if block is not None:
        r["blockOwnerDeletion"] = block
    return r


def cm(name: str, *owners: Obj, ns: str = "ns", **meta: Any) -> Obj:
    m: dict[str, Any] = {"name": name, "namespace": ns, **meta}
    if owners:
        m["ownerReferences"] = list(owners)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": m}


@contextlib.asynccontextmanager
async def running(fake: FakeClient) -> AsyncIterator[GarbageCollector]:
    factory = InformerFactory(fake)
    gc = GarbageCollector(fake, factory, GarbageCollectorSettings(workers=4),
                          recorder=EventRecorder(fake, "garbage-collector-controller"))
    async with harness.running(factory, gc.run(), gc.recorder.run()):
        await until(lambda: bool(gc.monitors) and gc.synced())
        yield gc


async def until(cond: Callable[[], bool], timeout: float = 300.0) -> None:
    await harness.until(cond, timeout, poll=0.05)


def names(fake: FakeClient, ref: ResourceRef = CM, ns: str = "ns") -> list[str]:
    return sorted(o["metadata"]["name"] for o in fake.objects(ref, ns))


def test_background_deletion_removes_the_dependent_tree() -> None:
    async def main() -> None:
        fake = ApiFake()
        top = fake.add(CM, cm("top"))
        mid = fake.add(CM, cm("mid", owner(top)))
        fake.add(CM, cm("leaf", owner(mid)))
        fake.add(CM, cm("bystander"))
        async with running(fake):
            await asyncio.sleep(5)
            assert names(fake) == ["bystander", "leaf", "mid", "top"]
            await fake.delete(CM, "top", "ns", {"propagationPolicy": "Background"})
            await until(lambda: names(fake) == ["bystander"])
        deletes = [a for a in fake.actions if a.verb == "delete" and a.name in ("mid", "leaf")]
        assert {a.body["propagationPolicy"] for a in deletes} == {"Background"}
        assert all(a.body["preconditions"]["uid"] for a in deletes)
    virtualtime.run(main())


def test_dangling_reference_to_an_owner_that_never_existed() -> None:
    async def main() -> None:
        fake = ApiFake()
        real = fake.add(CM, cm("real"))
        fake.add(CM, cm("ghost-child", {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "nope"}))
        fake.add(CM, cm("wrong-uid", {**owner(real), "uid": "not-the-real-uid"}))
        fake.add(CM, cm("kept", owner(real)))
        async with running(fake):
            await until(lambda: names(fake) == ["kept", "real"])
    virtualtime.run(main())


def test_solid_owner_keeps_dependent_but_dangling_refs_are_dropped() -> None:
    async def main() -> None:
        fake = ApiFake()
        real = fake.add(CM, cm("real"))
        fake.add(CM, cm("two", owner(real), {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "gone"}))
        async with running(fake):
            await until(lambda: len((fake.object(CM, "two", "ns") or {})["metadata"]["ownerReferences"]) == 1)
        obj = fake.object(CM, "two", "ns")
        assert obj is not None and obj["metadata"]["ownerReferences"] == [owner(real)]
    virtualtime.run(main())


def test_foreground_waits_for_blocking_dependents_then_drops_the_finalizer() -> None:
    async def main() -> None:
        fake = ApiFake()
        top = fake.add(CM, cm("top"))
        mid = fake.add(CM, cm("mid", owner(top, block=True)))
        fake.add(CM, cm("leaf", owner(mid, block=True), finalizers=["example.com/hold"]))
        async with running(fake):
            await asyncio.sleep(1)
            await fake.delete(CM, "top", "ns", {"propagationPolicy": "Foreground"})
            await until(lambda: bool((fake.object(CM, "leaf", "ns") or {}).get("metadata", {})
                                     .get("deletionTimestamp")))
            await asyncio.sleep(30)
            held = fake.object(CM, "top", "ns")
            assert held is not None and held["metadata"]["finalizers"] == ["foregroundDeletion"]
            mid_now = fake.object(CM, "mid", "ns")
            assert mid_now is not None and mid_now["metadata"]["finalizers"] == ["foregroundDeletion"]
            leaf = fake.object(CM, "leaf", "ns")
            assert leaf is not None
            leaf["metadata"]["finalizers"] = []
            await fake.update(CM, leaf)
            await until(lambda: names(fake) == [])
        mid_delete = next(a for a in fake.actions if a.verb == "delete" and a.name == "mid")
        assert mid_delete.body["propagationPolicy"] == "Foreground"
    virtualtime.run(main())


def test_foreground_does_not_wait_for_non_blocking_dependents() -> None:
    async def main() -> None:
        fake = ApiFake()
        top = fake.add(CM, cm("top"))
        fake.add(CM, cm("free", owner(top), finalizers=["example.com/hold"]))
        async with running(fake):
            await fake.delete(CM, "top", "ns", {"propagationPolicy": "Foreground"})
            await until(lambda: fake.object(CM, "top", "ns") is None)
            free = fake.object(CM, "free", "ns")
            assert free is not None and free["metadata"].get("deletionTimestamp")
    virtualtime.run(main())


def test_orphan_removes_the_reference_then_the_finalizer() -> None:
    async def main() -> None:
        fake = ApiFake()
        top = fake.add(CM, cm("top"))
        other = fake.add(CM, cm("other"))
        fake.add(CM, cm("a", owner(top, block=True)))
        fake.add(CM, cm("b", owner(top), owner(other)))
        async with running(fake):
            await fake.delete(CM, "top", "ns", {"propagationPolicy": "Orphan"})
            await until(lambda: fake.object(CM, "top", "ns") is None)
            await asyncio.sleep(5)
        a, b = fake.object(CM, "a", "ns"), fake.object(CM, "b", "ns")
        assert a is not None and not a["metadata"].get("ownerReferences")
        assert b is not None and b["metadata"]["ownerReferences"] == [owner(other)]
        patches = [a for a in fake.actions if a.verb == "patch" and a.name in ("a", "b")]
        assert all(p.body["metadata"]["ownerReferences"] == [{"$patch": "delete", "uid": top["metadata"]["uid"]}]
                   for p in patches)
    virtualtime.run(main())


def test_namespaced_dependents_of_a_cluster_scoped_owner() -> None:
    async def main() -> None:
        fake = ApiFake()
        node = fake.add(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
        fake.add(CM, cm("on-node", owner(node, kind="Node")))
        fake.add(CM, cm("on-node", owner(node, kind="Node"), ns="other"))
        async with running(fake):
            await asyncio.sleep(5)
            assert names(fake) == ["on-node"] and names(fake, ns="other") == ["on-node"]
            await fake.delete(NODES, "n1")
            await until(lambda: names(fake) == [] and names(fake, ns="other") == [])
    virtualtime.run(main())


def test_owner_in_another_namespace_is_reported_and_the_dependent_collected() -> None:
    async def main() -> None:
        fake = ApiFake()
        elsewhere = fake.add(CM, cm("owner", ns="other"))
        fake.add(CM, cm("child", owner(elsewhere)))
        async with running(fake) as gc:
            await until(lambda: names(fake) == [])
            await gc.recorder.flush()
        events = fake.objects(ResourceRef("", "v1", "events"), "ns")
        assert [(e["type"], e["reason"]) for e in events] == [("Warning", "OwnerRefInvalidNamespace")]
        uid = elsewhere["metadata"]["uid"]
        assert events[0]["message"] == (f"ownerRef [v1/ConfigMap, namespace: ns, name: owner, uid: {uid}] "
                                        'does not exist in namespace "ns"')
        assert events[0]["involvedObject"]["name"] == "child"
        assert names(fake, ns="other") == ["owner"]
    virtualtime.run(main())


def test_cluster_scoped_object_naming_a_namespaced_owner_is_left_alone() -> None:
    async def main() -> None:
        fake = ApiFake()
        fake.add(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": "odd", "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "x"}]}})
        async with running(fake):
            await asyncio.sleep(60)
        assert fake.object(NAMESPACES, "odd") is not None
        assert not [a for a in fake.mutations() if a.resource == NAMESPACES]
    virtualtime.run(main())


def test_errors_are_retried_with_backoff() -> None:
    async def main() -> None:
        fake = ApiFake()
        fake.add(CM, cm("child", {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "g"}))
        failures = [3]

        def flaky(action: Any) -> tuple[bool, Any]:
            if action.name == "child" and failures[0] > 0:
                failures[0] -= 1
                raise ApiError(500, {"kind": "Status", "code": 500, "message": "boom"})
            return False, None
        fake.prepend_reactor("delete", "configmaps", flaky)
        async with running(fake):
            await until(lambda: names(fake) == [])
        assert failures == [0]
    virtualtime.run(main())


def test_new_resources_are_monitored_after_rediscovery() -> None:
    async def main() -> None:
        fake = ApiFake()
        async with running(fake) as gc:
            assert SECRETS in gc.monitors
            owner_cm = await fake.create(CM, cm("top"), "ns")
            await fake.create(SECRETS, {"apiVersion": "v1", "kind": "Secret", "metadata": {
                "name": "s", "namespace": "ns", "ownerReferences": [owner(owner_cm)]}}, "ns")
            await asyncio.sleep(1)
            await fake.delete(CM, "top", "ns")
            await until(lambda: fake.objects(SECRETS, "ns") == [])
            gc.monitors.pop(SECRETS)
            await asyncio.sleep(gc.settings.discovery_period + 1)
            assert SECRETS in gc.monitors
    virtualtime.run(main())


def test_monitors_are_metadata_only_unless_a_full_informer_exists() -> None:
    async def main() -> None:
        fake = ApiFake()
        factory = InformerFactory(fake)
        full_secrets = factory.informer(SECRETS)
        gc = GarbageCollector(fake, factory, recorder=EventRecorder(fake, "garbage-collector-controller"))
        await gc.sync_monitors()
        assert gc.monitors[SECRETS].informer is full_secrets
        assert gc.monitors[CM].informer.metadata_only
        assert ResourceRef("", "v1", "events") not in gc.monitors
        assert not any(ref.plural == "events" for ref in gc.monitors)
        assert gc.mapper.mapping("apps/v1", "Deployment").ref == ResourceRef("apps", "v1", "deployments")
    virtualtime.run(main())
