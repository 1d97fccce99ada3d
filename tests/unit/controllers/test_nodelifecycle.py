"""The node-lifecycle controller against the fake API, in virtual time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import controller_harness as harness

from pocketkube.client import virtualtime
from pocketkube.client.clock import micro_time, rfc3339, wall
from pocketkube.client.events import EventRecorder
from pocketkube.client.fake import FakeClient
from pocketkube.client.rest import ResourceRef
from pocketkube.controllers import nodezones
from pocketkube.controllers.base import InformerFactory
from pocketkube.controllers.nodelifecycle import NodeLifecycleController, NodeLifecycleSettings

NODES = ResourceRef("", "v1", "nodes", namespaced=False)
PODS = ResourceRef("", "v1", "pods")
LEASES = ResourceRef("coordination.k8s.io", "v1", "leases")
EVENTS = ResourceRef("", "v1", "events")
Obj = dict[str, Any]


def node(name: str, ready: str | None = "True", zone: str = "", **spec: Any) -> Obj:
    now = rfc3339(wall())
    conds = []
    if ready is not None:
        for type_, status in (("Ready", ready), ("MemoryPressure", "False"), ("DiskPressure", "False"),
                              ("PIDPressure", "False")):
            conds.append({"type": type_, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": now,
                          "reason": "KubeletReady" if type_ == "Ready" else "KubeletHasNoPressure"})
    labels = {"topology.kubernetes.io/zone": zone} if zone else {}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "spec": spec, "status": {"conditions": conds}}


def lease(name: str) -> Obj:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": micro_time(wall())}}


def pod(name: str, node_name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(wall())}]}}


async def renew(fake: FakeClient, name: str) -> None:
    obj = fake.object(LEASES, name, "kube-node-lease")
    assert obj is not None
    obj["spec"]["renewTime"] = micro_time(wall())
    await fake.update(LEASES, obj)


@contextlib.asynccontextmanager
async def running(fake: FakeClient, **settings: Any) -> AsyncIterator[NodeLifecycleController]:
    factory = InformerFactory(fake)
    ctrl = NodeLifecycleController(fake, factory, NodeLifecycleSettings(**settings),
                                   recorder=EventRecorder(fake, "node-controller"))
    async with harness.running(factory, ctrl.run(), ctrl.recorder.run()):
        await ctrl.wait_for_sync()
        yield ctrl


async def until(cond: Callable[[], bool], timeout: float = 600.0) -> float:
    return await harness.until(cond, timeout, poll=0.1)


def ready_of(fake: FakeClient, name: str) -> Obj:
    obj = fake.object(NODES, name)
    assert obj is not None
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


def taints(fake: FakeClient, name: str) -> list[tuple[str, str]]:
    obj = fake.object(NODES, name)
    assert obj is not None
    return sorted((t["key"], t["effect"]) for t in (obj.get("spec") or {}).get("taints") or [])


UNREACHABLE = [("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable", "NoSchedule")]


def test_silent_node_becomes_unknown_tainted_and_its_pods_not_ready() -> None:
    async def main() -> None:
        fake = FakeClient()
        for name in ("a", "b"):
            fake.add(NODES, node(name))
            fake.add(LEASES, lease(name))
        fake.add(PODS, pod("web", "a"))
        async with running(fake) as ctrl:
            keep_b = asyncio.get_running_loop().time()
            await asyncio.sleep(45)
            await renew(fake, "b")
            assert ready_of(fake, "a")["status"] == "True"
            elapsed = await until(lambda: ready_of(fake, "a")["status"] == "Unknown") + 45
            assert 50 <= elapsed <= 56
            await until(lambda: taints(fake, "a") == UNREACHABLE, timeout=15)
            await ctrl.recorder.flush()
            assert keep_b >= 0 and ready_of(fake, "b")["status"] == "True" and taints(fake, "b") == []
        cond = ready_of(fake, "a")
        assert (cond["reason"], cond["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
        a = fake.object(NODES, "a")
        assert a is not None and {c["status"] for c in a["status"]["conditions"]} == {"Unknown"}
        assert all(t.get("timeAdded") for t in a["spec"]["taints"])
        web = fake.object(PODS, "web", "ns")
        assert web is not None and web["status"]["conditions"][0]["status"] == "False"
        reasons = sorted((e["involvedObject"]["name"], e["reason"], e["message"]) for e in fake.objects(EVENTS))
        assert ("a", "NodeNotReady", "Node a status is now: NodeNotReady") in reasons
        assert ("a", "RegisteredNode", "Node a event: Registered Node a in Controller") in reasons
        assert ("web", "NodeNotReady", "Node is not ready") in reasons
    virtualtime.run(main())


def test_node_back_to_ready_loses_its_taints() -> None:
    async def main() -> None:
        fake = FakeClient()
        for name in ("a", "b"):
            fake.add(NODES, node(name))
            fake.add(LEASES, lease(name))
        async with running(fake, monitor_grace_period=8.0, monitor_period=1.0):
            for _ in range(4):
                await asyncio.sleep(5)
                await renew(fake, "b")
            await until(lambda: taints(fake, "a") == UNREACHABLE)
            fresh = node("a")
            fresh["metadata"] = fake.object(NODES, "a")["metadata"]  # type: ignore[index]
            fresh["spec"] = fake.object(NODES, "a")["spec"]  # type: ignore[index]
            await fake.update(NODES, fresh, "status")
            await renew(fake, "a")
            await until(lambda: taints(fake, "a") == [])
    virtualtime.run(main())


def test_kubelet_reporting_not_ready_swaps_to_the_not_ready_taint() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(NODES, node("a"))
        fake.add(NODES, node("b"))
        async with running(fake, monitor_period=1.0):
            sick = fake.object(NODES, "a")
            assert sick is not None
            sick["status"]["conditions"][0].update(status="False", reason="KubeletNotReady",
                                                   lastHeartbeatTime=rfc3339(wall()))
            await fake.update(NODES, sick, "status")
            await until(lambda: taints(fake, "a") == [("node.kubernetes.io/not-ready", "NoExecute"),
                                                      ("node.kubernetes.io/not-ready", "NoSchedule")])
    virtualtime.run(main())


def test_all_nodes_down_is_a_full_disruption_without_no_execute_taints() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(NODES, node("only"))
        async with running(fake, monitor_grace_period=5.0, monitor_period=1.0) as ctrl:
            await until(lambda: ready_of(fake, "only")["status"] == "Unknown")
            await asyncio.sleep(20)
            assert taints(fake, "only") == [("node.kubernetes.io/unreachable", "NoSchedule")]
            assert ctrl.zones.states[""] == nodezones.FULL
    virtualtime.run(main())


def test_node_that_never_reported_gets_never_updated_after_the_startup_grace() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(NODES, node("fresh", ready=None))
        fake.add(NODES, node("b"))
        fake.add(LEASES, lease("b"))
        async with running(fake, monitor_grace_period=1000.0, monitor_period=1.0):
            elapsed = await until(lambda: bool(fake.object(NODES, "fresh")["status"]["conditions"]))  # type: ignore
            assert 60 <= elapsed <= 63
        cond = ready_of(fake, "fresh")
        assert (cond["status"], cond["reason"], cond["message"]) == (
            "Unknown", "NodeStatusNeverUpdated", "Kubelet never posted node status.")
    virtualtime.run(main())


def test_tainting_is_rate_limited_per_zone() -> None:
    async def main() -> None:
        fake = FakeClient()
        for i in range(8):
            fake.add(NODES, node(f"n{i}"))
            fake.add(LEASES, lease(f"n{i}"))
        async with running(fake, monitor_grace_period=5.0, monitor_period=1.0):
            async def heartbeat() -> None:
                while True:
                    for i in range(3, 8):
                        await renew(fake, f"n{i}")
                    await asyncio.sleep(1)
            beat = asyncio.get_running_loop().create_task(heartbeat())
            try:
                loop = asyncio.get_running_loop()
                start = loop.time()
                stamps: dict[str, float] = {}
                while len(stamps) < 3:
                    for i in range(3):
                        if f"n{i}" not in stamps and ("node.kubernetes.io/unreachable", "NoExecute") in taints(
                                fake, f"n{i}"):
                            stamps[f"n{i}"] = loop.time() - start
                    await asyncio.sleep(0.1)
            finally:
                beat.cancel()
        times = sorted(stamps.values())
        assert 9.5 <= times[1] - times[0] <= 10.5 and 9.5 <= times[2] - times[1] <= 10.5
    virtualtime.run(main())


def test_no_schedule_taints_follow_conditions_and_unschedulable() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(NODES, node("a", unschedulable=True))
        async with running(fake):
            await until(lambda: taints(fake, "a") == [("node.kubernetes.io/unschedulable", "NoSchedule")])
            obj = fake.object(NODES, "a")
            assert obj is not None
            obj["spec"]["unschedulable"] = False
            await fake.update(NODES, obj)
            await until(lambda: taints(fake, "a") == [])
            obj = fake.object(NODES, "a")
            assert obj is not None
            obj["status"]["conditions"][1]["status"] = "True"
            await fake.update(NODES, obj, "status")
            await until(lambda: taints(fake, "a") == [("node.kubernetes.io/memory-pressure", "NoSchedule")])
    virtualtime.run(main())


def test_zone_states() -> None:
    zones = nodezones.Zones(0.1, 0.01, 2, 0.55)
    ok, bad = {"status": "True"}, {"status": "Unknown"}
    assert zones.state_of([bad, bad]) == (2, nodezones.FULL)
    assert zones.state_of([ok, bad, bad]) == (2, nodezones.NORMAL)
    assert zones.state_of([ok, bad, bad, bad]) == (3, nodezones.PARTIAL)
    assert zones.update({"z1": [ok, bad, bad, bad], "z2": [ok]}) == ""
    assert zones.tainters["z1"].qps == 0.01 and zones.tainters["z2"].qps == 0.1
    assert zones.update({"z1": [bad], "z2": [None]}) == nodezones.ENTERED_FULL_DISRUPTION
    assert zones.tainters["z1"].qps == 0 and zones.tainters["z2"].qps == 0
    assert zones.update({"z1": [ok], "z2": [bad]}) == nodezones.LEFT_FULL_DISRUPTION
    assert zones.tainters["z1"].qps == 0.1 and zones.states == {"z1": nodezones.NORMAL, "z2": nodezones.FULL}


def test_controller_manager_flags_reach_the_settings(monkeypatch: Any) -> None:
    from pocketkube.cmd import controller_manager as cm
    from pocketkube.controllers import manager

    monkeypatch.setenv(cm.FLAGS_ENV, "--node-monitor-grace-period=4s --terminated-pod-gc-threshold=7")
    args = cm.parse_args(["--server", "https://x", "--node-monitor-period=500ms", "--pod-gc-quarantine=1m30s",
                          "--terminated-pod-gc-threshold=9"])
    opts = cm.controller_settings(args, manager.Options())
    assert opts.node_lifecycle.monitor_grace_period == 4.0 and opts.node_lifecycle.monitor_period == 0.5
    assert opts.node_lifecycle.startup_grace_period == 60.0 and opts.gc.workers == 20
    assert opts.pod_gc.quarantine == 90.0 and opts.pod_gc.terminated_threshold == 9  # the command line wins
    assert [cm.duration(t) for t in ("50s", "1m0s", "2h", "1.5")] == [50.0, 60.0, 7200.0, 1.5]
