"""The pod garbage collector against the fake API, in virtual time."""

from __future__ import annotations

import asyncio
from typing import Any

from pocketkube.client import metrics, virtualtime
from pocketkube.client.fake import FakeClient
from pocketkube.client.rest import ResourceRef
from pocketkube.controllers.base import InformerFactory
from pocketkube.controllers.podgc import PodGCController, PodGCSettings

NODES = ResourceRef("", "v1", "nodes", namespaced=False)
PODS = ResourceRef("", "v1", "pods")
Obj = dict[str, Any]


def pod(name: str, node: str = "n1", phase: str = "Running", created: str = "2024-01-01T00:00:00Z",
        **meta: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created, **meta},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]}, "status": {"phase": phase}}


def node(name: str, ready: str = "True", taints: list[Obj] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {"taints": taints or []},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def names(fake: FakeClient) -> list[str]:
    return sorted(p["metadata"]["name"] for p in fake.objects(PODS, "ns"))


async def synced(fake: FakeClient, settings: PodGCSettings) -> tuple[PodGCController, asyncio.Task[None]]:
    factory = InformerFactory(fake)
    ctrl = PodGCController(fake, factory, settings)
    task = asyncio.get_running_loop().create_task(factory.run())
    await ctrl.wait_for_sync()
    return ctrl, task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_terminated_pods_over_the_threshold_oldest_and_evicted_first() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(NODES, node("n1"))
        fake.add(PODS, pod("old", phase="Succeeded", created="2024-01-01T00:00:00Z"))
        fake.add(PODS, pod("mid", phase="Failed", created="2024-01-02T00:00:00Z"))
        fake.add(PODS, pod("new", phase="Failed", created="2024-01-03T00:00:00Z"))
        evicted = pod("evicted", phase="Failed", created="2024-01-04T00:00:00Z")
        evicted["status"]["reason"] = "Evicted"
        fake.add(PODS, evicted)
        fake.add(PODS, pod("running"))
        ctrl, task = await synced(fake, PodGCSettings(terminated_threshold=2))
        sample = ("pod_gc_collector_force_delete_pods_total", {"namespace": "ns", "reason": "terminated"})
        before = metrics.REGISTRY.get_sample_value(*sample) or 0.0
        await ctrl.gc()
        assert metrics.REGISTRY.get_sample_value(*sample) == before + 2
        await stop(task)
        assert names(fake) == ["mid", "new", "running"]
        deletes = [a for a in fake.mutations() if a.verb == "delete"]
        assert {a.name for a in deletes} == {"evicted", "old"} and all(a.body["gracePeriodSeconds"] == 0
                                                                       for a in deletes)
        assert not [a for a in fake.mutations() if a.verb == "patch"]  # already terminal: no status patch
    virtualtime.run(main())


def test_orphaned_pods_wait_for_the_quarantine_then_fail_and_go() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(NODES, node("n1"))
        fake.add(PODS, pod("kept"))
        fake.add(PODS, pod("orphan", node="gone"))
        fake.add(PODS, pod("late-node", node="coming"))
        ctrl, task = await synced(fake, PodGCSettings(quarantine=40.0))
        await ctrl.gc()
        assert names(fake) == ["kept", "late-node", "orphan"]
        await asyncio.sleep(20)
        fake.add(NODES, node("coming"))  # exists now, though maybe not yet in the cache
        await asyncio.sleep(21)
        await ctrl.gc()
        await stop(task)
        assert names(fake) == ["kept", "late-node"]
        patch = next(a for a in fake.mutations() if a.verb == "patch")
        assert patch.name == "orphan" and patch.subresource == "status"
        status = patch.body["status"]
        assert status["phase"] == "Failed"
        cond = status["conditions"][0]
        assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
            "DisruptionTarget", "True", "DeletionByPodGC", "PodGC: node no longer exists")
    virtualtime.run(main())


def test_terminating_pods_unscheduled_or_on_out_of_service_nodes() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(NODES, node("n1"))
        fake.add(NODES, node("dead", ready="Unknown",
                             taints=[{"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}]))
        fake.add(NODES, node("sick", ready="Unknown"))
        stamp = "2024-01-01T00:00:00Z"
        fake.add(PODS, pod("unscheduled", node="", deletionTimestamp=stamp))
        fake.add(PODS, pod("on-dead", node="dead", deletionTimestamp=stamp))
        fake.add(PODS, pod("on-sick", node="sick", deletionTimestamp=stamp))
        fake.add(PODS, pod("on-n1", node="n1", deletionTimestamp=stamp))
        ctrl, task = await synced(fake, PodGCSettings())
        await ctrl.gc()
        await stop(task)
        assert names(fake) == ["on-n1", "on-sick"]
    virtualtime.run(main())


def test_run_repeats_every_period() -> None:
    async def main() -> None:
        fake = FakeClient()
        factory = InformerFactory(fake)
        ctrl = PodGCController(fake, factory, PodGCSettings(period=20.0, quarantine=40.0))
        fake.add(PODS, pod("orphan", node="gone"))
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(factory.run()), tg.create_task(ctrl.run())]
            start = asyncio.get_running_loop().time()
            while names(fake):
                await asyncio.sleep(1)
            elapsed = asyncio.get_running_loop().time() - start
            for t in tasks:
                t.cancel()
        assert 40 <= elapsed <= 61
    virtualtime.run(main())
