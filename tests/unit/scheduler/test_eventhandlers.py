"""Informer events -> cache/queue, the change classifiers, metrics, and multiple profiles."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.config import ProfileConfig, SchedulerConfig
from pocketkube.scheduler.eventhandlers import node_change_events, pod_change_actions, pod_change_events
from pocketkube.scheduler.metrics import SchedulerMetrics
from pocketkube.scheduler.scheduler import Scheduler
from pocketkube.scheduler.testing import make_node, make_pod, make_scheduler

A = fw.ActionType


def bumped(obj: dict, **changes: object) -> dict:  # type: ignore[type-arg]
    new = {**obj, "metadata": {**obj["metadata"], "resourceVersion": "2"}}
    for path, value in changes.items():
        section, key = path.split("__")
        new[section] = {**new.get(section, {}), key: value}
    return new


def test_pod_change_actions() -> None:
    old = make_pod("p", cpu="2", labels={"a": "1"})
    assert pod_change_actions(bumped(old, metadata__labels={"a": "2"}), old) == A.UPDATE_POD_LABEL
    smaller = make_pod("p", cpu="1", labels={"a": "1"})
    assert pod_change_actions(smaller, old) == A.UPDATE_POD_SCALE_DOWN
    gated = make_pod("p", cpu="2", labels={"a": "1"}, gates=["g"])
    assert pod_change_actions(old, gated) == A.UPDATE_POD_SCHEDULING_GATES_ELIMINATED
    tolerant = make_pod("p", cpu="2", labels={"a": "1"}, tolerations=[{"operator": "Exists"}])
    assert pod_change_actions(tolerant, old) == A.UPDATE_POD_TOLERATIONS
    assert pod_change_actions(old, old) == A.UPDATE_POD_OTHER
    events = pod_change_events(bumped(old, metadata__labels={"b": "1"}), old)
    assert events == [fw.ClusterEvent(fw.UNSCHEDULED_POD, A.UPDATE_POD_LABEL)]


def test_node_change_events() -> None:
    old = make_node("n")
    heartbeat = bumped(old)
    assert node_change_events(heartbeat, old) == []
    relabeled = bumped(old, metadata__labels={"x": "y"})
    assert [e.label for e in node_change_events(relabeled, old)] == ["NodeLabelChange"]
    cordoned = make_node("n", unschedulable=True)
    assert [e.action for e in node_change_events(cordoned, old)] == [A.UPDATE_NODE_TAINT]
    bigger = make_node("n", cpu="64")
    assert [e.label for e in node_change_events(bigger, old)] == ["NodeAllocatableChange"]


async def test_assigned_and_pending_pod_streams() -> None:
    sched, _, _ = make_scheduler(nodes=[make_node("n1")])
    h = sched.handlers
    running = make_pod("r", cpu="1", node_name="n1")
    h.on_pod_add(running)
    assert sched.cache.nodes["n1"].requested.milli_cpu == 1000
    pending = make_pod("p")
    h.on_pod_add(pending)
    assert sched.queue.pending_counts()["active"] == 1
    bound = bumped(pending, spec__nodeName="n1")
    h.on_pod_update(pending, bound)  # bound by someone else: leaves the queue, enters the cache
    assert sched.queue.pending_counts()["active"] == 0 and sched.cache.pod_count() == 2
    done = bumped(bound, status__phase="Succeeded")
    done["metadata"]["resourceVersion"] = "3"
    h.on_pod_update(bound, done)  # terminal pods free their resources
    assert sched.cache.pod_count() == 1
    h.on_pod_delete(running)
    assert sched.cache.pod_count() == 0 and sched.cache.nodes["n1"].requested.milli_cpu == 0
    h.on_pod_update(running, running)  # a resync re-delivery changes nothing
    assert sched.cache.pod_count() == 0


async def test_metrics_and_profiles() -> None:
    registry = CollectorRegistry()
    metrics = SchedulerMetrics(registry)
    cfg = SchedulerConfig(profiles=(ProfileConfig(), ProfileConfig(scheduler_name="second")))
    _, api, listers = make_scheduler(nodes=[make_node("n1", cpu="1")], config=cfg)
    sched2 = Scheduler(api=api, listers=listers, config=cfg, metrics=metrics)
    sched2.handlers.on_node_add(make_node("n1", cpu="1"))
    for pod in (make_pod("a", scheduler_name="second", cpu="1"), make_pod("b", cpu="1"), make_pod("c", cpu="1")):
        listers.objects["pods"].append(pod)
        sched2.handlers.on_pod_add(pod)
    while (q := sched2.queue.pop_nowait()) is not None:
        await sched2.schedule(q)
    assert [k for k, _ in api.bindings] == ["default/a"]

    def value(name: str, **labels: str) -> float:
        got = registry.get_sample_value(name, labels)
        return got or 0.0

    assert value("scheduler_schedule_attempts_total", result="scheduled", profile="second") == 1
    assert value("scheduler_schedule_attempts_total", result="unschedulable", profile="default-scheduler") == 2
    assert value("scheduler_pending_pods", queue="unschedulable") == 2
    assert value("scheduler_scheduling_attempt_duration_seconds_count", result="scheduled", profile="second") == 1
