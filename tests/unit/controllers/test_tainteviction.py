"""The taint-eviction controller against the fake API, in virtual time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import controller_harness as harness

from pocketkube.client import virtualtime
from pocketkube.client.events import EventRecorder
from pocketkube.client.fake import FakeClient
from pocketkube.client.rest import ResourceRef
from pocketkube.controllers import eviction as ev
from pocketkube.controllers.base import InformerFactory
from pocketkube.controllers.tainteviction import TaintEvictionController
from pocketkube.machinery import taints as tn

NODES = ResourceRef("", "v1", "nodes", namespaced=False)
PODS = ResourceRef("", "v1", "pods")
EVENTS = ResourceRef("", "v1", "events")
Obj = dict[str, Any]
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2024-01-01T00:00:00Z"}


def pod(name: str, node: str = "n1", seconds: int | None = None, forever: bool = False) -> Obj:
    tolerations: list[Obj] = []
    if seconds is not None:
        tolerations.append({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                            "tolerationSeconds": seconds})
    if forever:
        tolerations.append({"operator": "Exists"})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"nodeName": node, "tolerations": tolerations, "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running"}}


async def set_taints(fake: FakeClient, name: str, taints: list[Obj]) -> None:
    node = fake.object(NODES, name)
    assert node is not None
    node.setdefault("spec", {})["taints"] = taints
    await fake.update(NODES, node)


@contextlib.asynccontextmanager
async def running(fake: FakeClient) -> AsyncIterator[TaintEvictionController]:
    factory = InformerFactory(fake)
    ctrl = TaintEvictionController(fake, factory, recorder=EventRecorder(fake, "taint-eviction-controller"))
    async with harness.running(factory, ctrl.run(), ctrl.recorder.run()):
        await ctrl.wait_for_sync()
        yield ctrl


async def until(cond: Callable[[], bool], timeout: float = 600.0) -> float:
    return await harness.until(cond, timeout, poll=0.05)


def seed(*pods: Obj) -> FakeClient:
    fake = FakeClient()
    fake.add(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    fake.add(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}})
    for p in pods:
        fake.add(PODS, p)
    return fake


def test_pods_are_deleted_after_their_toleration_seconds() -> None:
    async def main() -> None:
        fake = seed(pod("now"), pod("five", seconds=5), pod("forever", forever=True), pod("other", node="n2"))
        async with running(fake) as ctrl:
            await asyncio.sleep(1)
            await set_taints(fake, "n1", [UNREACHABLE])
            await until(lambda: fake.object(PODS, "now", "ns") is None, timeout=1)
            assert fake.object(PODS, "five", "ns") is not None
            elapsed = await until(lambda: fake.object(PODS, "five", "ns") is None)
            assert 4 <= elapsed <= 5.5
            await asyncio.sleep(600)
            assert fake.object(PODS, "forever", "ns") is not None and fake.object(PODS, "other", "ns") is not None
            await ctrl.recorder.flush()
        patch = next(a for a in fake.actions if a.verb == "patch" and a.name == "five")
        assert patch.subresource == "status"
        cond = patch.body["status"]["conditions"][0]
        assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
            "DisruptionTarget", "True", "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint")
        events = sorted(e["message"] for e in fake.objects(EVENTS, "ns") if e["reason"] == "TaintManagerEviction")
        assert events == ["Marking for deletion Pod ns/five", "Marking for deletion Pod ns/now"]
    virtualtime.run(main())


def test_removing_the_taint_cancels_the_eviction() -> None:
    async def main() -> None:
        fake = seed(pod("p", seconds=30))
        async with running(fake) as ctrl:
            await set_taints(fake, "n1", [UNREACHABLE])
            await asyncio.sleep(10)
            await set_taints(fake, "n1", [])
            await asyncio.sleep(60)
            assert fake.object(PODS, "p", "ns") is not None
            await ctrl.recorder.flush()
        assert [e["message"] for e in fake.objects(EVENTS, "ns")] == ["Cancelling deletion of Pod ns/p"]
    virtualtime.run(main())


def test_no_schedule_taints_and_pods_arriving_on_tainted_nodes() -> None:
    async def main() -> None:
        fake = seed()
        async with running(fake):
            await set_taints(fake, "n1", [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}])
            await fake.create(PODS, pod("a"), "ns")
            await asyncio.sleep(30)
            assert fake.object(PODS, "a", "ns") is not None
            await set_taints(fake, "n2", [UNREACHABLE])
            await fake.create(PODS, pod("late", node="n2", seconds=3), "ns")
            elapsed = await until(lambda: fake.object(PODS, "late", "ns") is None)
            assert 2.5 <= elapsed <= 3.5
    virtualtime.run(main())


def test_toleration_rules() -> None:
    taint = {"key": "k", "value": "v", "effect": "NoExecute"}
    assert tn.tolerates({"operator": "Exists"}, taint)
    assert tn.tolerates({"key": "k", "operator": "Exists", "effect": "NoExecute"}, taint)
    assert tn.tolerates({"key": "k", "value": "v"}, taint)
    assert not tn.tolerates({"key": "k", "value": "w"}, taint)
    assert not tn.tolerates({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, taint)
    assert tn.matching_tolerations([taint], [{"key": "x", "operator": "Exists"}]) == (False, [])
    assert ev.min_toleration_seconds([]) == 0
    assert ev.min_toleration_seconds([{"operator": "Exists"}]) == -1
    assert ev.min_toleration_seconds([{"tolerationSeconds": 30}, {"tolerationSeconds": 5}, {}]) == 5
    assert ev.min_toleration_seconds([{"tolerationSeconds": -3}]) == 0
