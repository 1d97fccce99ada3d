"""SchedulingGates: a pod with spec.schedulingGates waits outside activeQ until they are removed.

Pure core: `gate_status(pod)` is None when the pod may be queued, else the
upstream rejection ("waiting for scheduling gates: [a b]"). The queueing hint
requeues the pod when an update of the pod itself removed its last gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.podinfo import PodInfo

NAME = "SchedulingGates"


def gate_status(pod: PodInfo) -> fw.Status | None:
    if not pod.scheduling_gates:
        return None
    return fw.Status(fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                     (f"waiting for scheduling gates: [{' '.join(pod.scheduling_gates)}]",), NAME)


def _gates_removed(pod: dict[str, Any], old: Any, new: Any) -> fw.QueueingHint:
    if new is None or (new.get("spec") or {}).get("schedulingGates"):
        return fw.QueueingHint.SKIP
    return fw.QueueingHint.QUEUE


class SchedulingGates:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Any) -> None:
        pass

    def pre_enqueue(self, pod: PodInfo) -> fw.Status | None:
        return gate_status(pod)

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        ev = fw.ClusterEvent(fw.UNSCHEDULED_POD, fw.ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED)
        return [fw.ClusterEventWithHint(ev, _gates_removed)]
