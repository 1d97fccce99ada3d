"""The scheduling queue: ordering, backoff, parking, requeue by queueing hints, in-flight events, gates."""

from __future__ import annotations

import asyncio
from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.queue import SchedulingQueue
from pocketkube.scheduler.testing import make_node, make_pod


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


NODE_EVENTS = fw.ClusterEvent(fw.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_ALLOCATABLE)


def big_node_only(pod: dict[str, Any], old: Any, new: Any) -> fw.QueueingHint:
    return fw.QueueingHint.QUEUE if new and new["status"]["allocatable"]["cpu"] == "64" else fw.QueueingHint.SKIP


HINTS = {"Fit": [fw.ClusterEventWithHint(NODE_EVENTS, big_node_only)],
         "Ports": [fw.ClusterEventWithHint(fw.ClusterEvent(fw.POD, fw.ActionType.DELETE))]}


def gates(pi: PodInfo) -> fw.Status | None:
    return fw.Status(fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("gated",), "Gates") if pi.scheduling_gates else None


def new_queue() -> tuple[SchedulingQueue, Clock]:
    clock = Clock()
    return SchedulingQueue(hints=lambda name: HINTS, pre_enqueue=gates, clock=clock), clock


def pod(name: str, **kw: Any) -> PodInfo:
    return PodInfo.of(make_pod(name, **kw))


def fail(q: SchedulingQueue, name: str, *plugins: str) -> str:
    qp = q.pop_nowait()
    assert qp is not None and qp.pod_info.name == name
    qp.unschedulable_plugins = set(plugins)
    where = q.add_unschedulable_if_not_present(qp)
    q.done(qp.uid)
    return where


def test_priority_then_fifo() -> None:
    q, clock = new_queue()
    q.add(pod("low-1", priority=1))
    clock.t += 1
    q.add(pod("high", priority=100))
    clock.t += 1
    q.add(pod("low-2", priority=1))
    names = []
    while (qp := q.pop_nowait()) is not None:
        names.append(qp.pod_info.name)
    assert names == ["high", "low-1", "low-2"]


def test_backoff_doubles_to_ten_seconds() -> None:
    q, _ = new_queue()
    assert [q.backoff_duration(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_error_goes_to_backoff_then_active() -> None:
    q, clock = new_queue()
    q.add(pod("p"))
    assert fail(q, "p") == "backoff"
    assert q.pending_counts() == {"active": 0, "backoff": 1, "unschedulable": 0, "gated": 0}
    assert q.flush_backoff_completed() == clock.t + 1
    clock.t += 1
    assert q.flush_backoff_completed() is None
    assert q.pending_counts()["active"] == 1
    assert q.pop_nowait() is not None and q.get(pod("p").uid).attempts == 2  # type: ignore[union-attr]


def test_unschedulable_pod_waits_for_a_helpful_event() -> None:
    q, clock = new_queue()
    q.add(pod("p"))
    assert fail(q, "p", "Fit") == "unschedulable"
    assert q.move_all_to_active_or_backoff(fw.EVENT_NODE_ADD, None, make_node("small", cpu="4")) == 0
    assert q.move_all_to_active_or_backoff(fw.EVENT_ASSIGNED_POD_DELETE, make_pod("x"), None) == 0
    assert q.pending_counts()["unschedulable"] == 1
    clock.t += 5  # past the 1 s backoff: straight to activeQ
    assert q.move_all_to_active_or_backoff(fw.EVENT_NODE_ADD, None, make_node("big", cpu="64")) == 1
    assert q.pending_counts()["active"] == 1


def test_event_during_backoff_goes_to_backoff_queue() -> None:
    q, _ = new_queue()
    q.add(pod("p"))
    fail(q, "p", "Ports")
    q.move_all_to_active_or_backoff(fw.EVENT_ASSIGNED_POD_DELETE, make_pod("x"), None)
    assert q.pending_counts()["backoff"] == 1


def test_in_flight_event_is_not_lost() -> None:
    q, _ = new_queue()
    q.add(pod("p"))
    qp = q.pop_nowait()
    assert qp is not None
    # while p is being scheduled, a big node arrives; then p fails because of Fit
    q.move_all_to_active_or_backoff(fw.EVENT_NODE_ADD, None, make_node("big", cpu="64"))
    qp.unschedulable_plugins = {"Fit"}
    assert q.add_unschedulable_if_not_present(qp) == "backoff"
    q.done(qp.uid)
    # an unhelpful in-flight event parks it as usual
    q.add(pod("r"))
    qr = q.pop_nowait()
    assert qr is not None
    q.move_all_to_active_or_backoff(fw.EVENT_NODE_ADD, None, make_node("small", cpu="4"))
    qr.unschedulable_plugins = {"Fit"}
    assert q.add_unschedulable_if_not_present(qr) == "unschedulable"
    q.done(qr.uid)
    assert q._events == []


def test_leftover_flush_after_five_minutes() -> None:
    q, clock = new_queue()
    q.add(pod("p"))
    fail(q, "p", "Fit")
    clock.t += 299
    q.flush_unschedulable_leftover()
    assert q.pending_counts()["unschedulable"] == 1
    clock.t += 2
    q.flush_unschedulable_leftover()
    assert q.pending_counts()["active"] == 1


def test_gated_pod_enters_when_gates_are_removed() -> None:
    q, _ = new_queue()
    gated = make_pod("g", gates=["example.com/wait"])
    q.add(PodInfo.of(gated))
    assert q.pending_counts() == {"active": 0, "backoff": 0, "unschedulable": 0, "gated": 1}
    assert q.pop_nowait() is None
    ungated = make_pod("g")
    ev = fw.ClusterEvent(fw.UNSCHEDULED_POD, fw.ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED)
    q.hints = lambda name: {"Gates": [fw.ClusterEventWithHint(ev)]}
    q.update(PodInfo.of(ungated), [ev])
    assert q.pending_counts()["active"] == 1 and q.pending_counts()["gated"] == 0


def test_delete_and_update_of_queued_pods() -> None:
    q, _ = new_queue()
    q.add(pod("p", priority=1))
    q.add(pod("r", priority=2))
    q.update(pod("p", priority=5))
    first = q.pop_nowait()
    assert first is not None and first.pod_info.name == "p"
    q.delete(pod("r").uid)
    assert q.pop_nowait() is None
    assert q.pending_counts() == {"active": 0, "backoff": 0, "unschedulable": 0, "gated": 0}


async def test_pop_waits_for_a_pod() -> None:
    q, _ = new_queue()
    waiter = asyncio.ensure_future(q.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.add(pod("p"))
    got = await asyncio.wait_for(waiter, 1)
    assert got.pod_info.name == "p"


def test_nominator() -> None:
    q, _ = new_queue()
    p = make_pod("p", priority=10)
    p["status"]["nominatedNodeName"] = "n1"
    q.add(PodInfo.of(p))
    assert [x.name for x in q.nominator.pods_for_node("n1")] == ["p"]
    q.delete(PodInfo.of(p).uid)
    assert q.nominator.pods_for_node("n1") == [] and not q.nominator
