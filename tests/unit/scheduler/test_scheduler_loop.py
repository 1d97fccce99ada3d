"""The whole scheduling loop in-process: placement, failure messages, requeue, preemption, binding errors."""

from __future__ import annotations

from typing import Any

from pocketkube.scheduler.api import RecordingAPI
from pocketkube.scheduler.handle import StaticListers
from pocketkube.scheduler.scheduler import Scheduler, condition_patch, truncate_message
from pocketkube.scheduler.testing import add_pod, make_node, make_pod, make_scheduler

CP = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
UPSTREAM_EXAMPLE = ("0/3 nodes are available: 1 node(s) had untolerated taint "
                    "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are "
                    "available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for "
                    "incoming pod.")


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def three_nodes() -> list[dict[str, Any]]:
    return [make_node("control-plane", taints=[CP]), make_node("w1", cpu="2"), make_node("w2", cpu="2")]


async def drain(sched: Scheduler, api: RecordingAPI, listers: StaticListers) -> None:
    """Schedule every pod due, feeding successful binds back as the informer would."""
    sched.queue.flush_backoff_completed()
    while (q := sched.queue.pop_nowait()) is not None:
        done = len(api.bindings)
        await sched.schedule(q)
        for key, node in api.bindings[done:]:
            confirm(sched, listers, key, node)


def confirm(sched: Scheduler, listers: StaticListers, key: str, node: str) -> None:
    pods = listers.objects["pods"]
    for i, p in enumerate(pods):
        if f"{p['metadata']['namespace']}/{p['metadata']['name']}" == key:
            rv = str(int(p["metadata"]["resourceVersion"]) + 1)
            new = {**p, "metadata": {**p["metadata"], "resourceVersion": rv}, "spec": {**p["spec"], "nodeName": node}}
            pods[i] = new
            sched.handlers.on_pod_update(p, new)


def delete(sched: Scheduler, listers: StaticListers, name: str) -> None:
    pods = listers.objects["pods"]
    victim = next(p for p in pods if p["metadata"]["name"] == name)
    pods.remove(victim)
    sched.handlers.on_pod_delete(victim)


def events(api: RecordingAPI, reason: str) -> list[tuple[str, str]]:
    return [(key, msg) for key, _, r, msg in api.events if r == reason]


async def test_upstream_message_event_and_condition() -> None:
    sched, api, listers = make_scheduler(nodes=three_nodes(), pods=[make_pod("big", cpu="3")])
    await drain(sched, api, listers)
    assert api.bindings == []
    assert events(api, "FailedScheduling") == [("default/big", UPSTREAM_EXAMPLE)]
    [(key, patch)] = api.status_patches
    cond = patch["status"]["conditions"][0]
    assert key == "default/big"
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "PodScheduled", "False", "Unschedulable", UPSTREAM_EXAMPLE)
    q = sched.queue.get("uid-default-big")
    assert q is not None and q.where == "unschedulable"
    assert q.unschedulable_plugins == {"TaintToleration", "NodeResourcesFit"}


async def test_bigger_node_makes_pending_pod_schedulable() -> None:
    clock = Clock()
    sched, api, listers = make_scheduler(nodes=three_nodes(), pods=[make_pod("big", cpu="3")], clock=clock)
    await drain(sched, api, listers)
    # neither plugin that rejected the pod thinks a small tainted node helps: it stays parked
    sched.handlers.on_node_add(make_node("small", cpu="2", taints=[CP]))
    assert sched.queue.pending_counts()["unschedulable"] == 1
    clock.t += 2
    sched.handlers.on_node_add(make_node("huge", cpu="16"))
    assert sched.queue.pending_counts()["active"] == 1
    await drain(sched, api, listers)
    assert api.bindings == [("default/big", "huge")]
    assert not sched.cache.is_assumed("uid-default-big") and sched.cache.pod_count() == 1  # confirmed
    assert events(api, "Scheduled") == [("default/big", "Successfully assigned default/big to huge")]


async def test_pods_spread_and_fill_nodes() -> None:
    pods = [make_pod(f"p{i}", cpu="1") for i in range(4)]
    sched, api, listers = make_scheduler(nodes=three_nodes(), pods=pods)
    await drain(sched, api, listers)
    placed = dict(api.bindings)
    assert sorted(placed.values()) == ["w1", "w1", "w2", "w2"]  # never the tainted control plane
    add_pod(sched, listers, make_pod("p4", cpu="1"))
    await drain(sched, api, listers)
    assert events(api, "FailedScheduling")[0][1].startswith(
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 Insufficient cpu.")


async def test_node_selector_taints_and_anti_affinity_placement() -> None:
    nodes = [make_node("ssd", labels={"disk": "ssd"}), make_node("hdd", labels={"disk": "hdd"}),
             make_node("gpu", taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}])]
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    pods = [make_pod("fast", node_selector={"disk": "ssd"}),
            make_pod("ml", tolerations=[{"key": "gpu", "operator": "Equal", "value": "true",
                                         "effect": "NoSchedule"}], node_selector={"kubernetes.io/hostname": "gpu"}),
            *(make_pod(f"web{i}", labels={"app": "web"}, affinity=anti) for i in range(3))]
    sched, api, listers = make_scheduler(nodes=nodes, pods=pods)
    await drain(sched, api, listers)
    placed = dict(api.bindings)
    assert placed["default/fast"] == "ssd" and placed["default/ml"] == "gpu"
    webs = [placed.get(f"default/web{i}") for i in range(3)]
    assert sorted(w for w in webs if w) == ["hdd", "ssd"]  # one per untainted node; the third stays pending
    msg = events(api, "FailedScheduling")[0][1]
    assert msg.startswith("0/3 nodes are available: 1 node(s) had untolerated taint {gpu: true}, "
                          "2 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: "
                          "1 Preemption is not helpful for scheduling, 2 No preemption victims found")


async def test_preemption_evicts_lower_priority_pod() -> None:
    clock = Clock()
    low = make_pod("low", cpu="2", priority=1, node_name="w1")
    sched, api, listers = make_scheduler(nodes=[make_node("w1", cpu="2")], pods=[low], clock=clock)
    add_pod(sched, listers, make_pod("high", cpu="2", priority=1000))
    await drain(sched, api, listers)
    assert api.deleted == ["default/low"]
    assert events(api, "Preempted") == [("default/low", "Preempted by pod uid-default-high on node w1")]
    # preemption succeeded, so the message has no preemption part
    assert events(api, "FailedScheduling") == [("default/high", "0/1 nodes are available: 1 Insufficient cpu.")]
    patches = [p for k, p in api.status_patches if k == "default/high"]
    assert patches[-1]["status"]["nominatedNodeName"] == "w1"
    assert [p.name for p in sched.queue.nominator.pods_for_node("w1")] == ["high"]
    delete(sched, listers, "low")  # the victim is gone: the preemptor moves and binds to its nominated node
    clock.t += 2
    await drain(sched, api, listers)
    assert api.bindings == [("default/high", "w1")]


async def test_preemption_policy_never() -> None:
    low = make_pod("low", cpu="2", priority=1, node_name="w1")
    sched, api, listers = make_scheduler(nodes=[make_node("w1", cpu="2")], pods=[low])
    add_pod(sched, listers, make_pod("polite", cpu="2", priority=1000, preemption_policy="Never"))
    await drain(sched, api, listers)
    assert api.deleted == []
    assert events(api, "FailedScheduling")[0][1] == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.")


async def test_no_nodes() -> None:
    sched, api, listers = make_scheduler(pods=[make_pod("p")])
    await drain(sched, api, listers)
    assert events(api, "FailedScheduling") == [("default/p", "no nodes available to schedule pods")]
    assert api.status_patches[0][1]["status"]["conditions"][0]["reason"] == "Unschedulable"


async def test_bind_failure_forgets_and_retries() -> None:
    clock = Clock()
    sched, api, listers = make_scheduler(nodes=[make_node("n1", cpu="1")], pods=[make_pod("p", cpu="1")],
                                         clock=clock)
    api.fail_bind["default/p"] = RuntimeError("connection reset")
    await drain(sched, api, listers)
    assert events(api, "FailedScheduling") == [("default/p", 'running Bind plugin "DefaultBinder": connection reset')]
    assert api.status_patches[0][1]["status"]["conditions"][0]["reason"] == "SchedulerError"
    assert sched.cache.nodes["n1"].requested.milli_cpu == 0  # the assumption was forgotten
    assert sched.queue.pending_counts()["backoff"] == 1
    del api.fail_bind["default/p"]
    clock.t += 1
    sched.queue.flush_backoff_completed()
    await drain(sched, api, listers)
    assert api.bindings == [("default/p", "n1")]


async def test_other_schedulers_and_gated_pods_are_ignored() -> None:
    pods = [make_pod("mine"), make_pod("theirs", scheduler_name="other"), make_pod("gated", gates=["wait"])]
    sched, api, listers = make_scheduler(nodes=[make_node("n1")], pods=pods)
    await drain(sched, api, listers)
    assert api.bindings == [("default/mine", "n1")]
    assert sched.queue.pending_counts()["gated"] == 1


def test_condition_patch_skips_unchanged_condition() -> None:
    pod = make_pod("p")
    patch = condition_patch(pod, "Unschedulable", "msg", None)
    assert patch is not None
    pod["status"]["conditions"] = patch["status"]["conditions"]
    assert condition_patch(pod, "Unschedulable", "msg", None) is None
    again = condition_patch(pod, "Unschedulable", "other", None)
    assert again is not None
    assert again["status"]["conditions"][0]["lastTransitionTime"] == patch["status"]["conditions"][0][
        "lastTransitionTime"]
    assert condition_patch(pod, "Unschedulable", "msg", "n1") == {
        "status": {"conditions": patch["status"]["conditions"], "nominatedNodeName": "n1"}}


def test_truncate_message() -> None:
    assert truncate_message("x" * 1024) == "x" * 1024
    long = truncate_message("y" * 2000)
    assert len(long) == 1024 and long.endswith(" ...")


async def test_preemption_resolves_anti_affinity_through_prefilter_extensions() -> None:
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "batch"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    low = make_pod("batch", labels={"app": "batch"}, priority=1, node_name="n1")
    keep = make_pod("important", labels={"app": "other"}, priority=5000, node_name="n1")
    sched, api, listers = make_scheduler(nodes=[make_node("n1")], pods=[low, keep])
    add_pod(sched, listers, make_pod("web", priority=1000, affinity=anti))
    await drain(sched, api, listers)
    assert api.deleted == ["default/batch"]
    assert events(api, "FailedScheduling") == [
        ("default/web", "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.")]
