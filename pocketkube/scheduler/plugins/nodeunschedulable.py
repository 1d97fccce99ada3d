"""NodeUnschedulable: cordoned nodes (spec.unschedulable) take no new pods.

Pure core: `filter_status(pod, node)`: a pod tolerating the
node.kubernetes.io/unschedulable:NoSchedule taint ignores the cordon;
otherwise UnschedulableAndUnresolvable "node(s) were unschedulable".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketkube.machinery.taints import NO_SCHEDULE, UNSCHEDULABLE, tolerates_taint
from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.podinfo import PodInfo

NAME = "NodeUnschedulable"
ERR_REASON = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = {"key": UNSCHEDULABLE, "effect": NO_SCHEDULE}


def filter_status(pod: PodInfo, node: NodeInfo) -> fw.Status | None:
    if not node.unschedulable or tolerates_taint(pod.tolerations, UNSCHEDULABLE_TAINT):
        return None
    return fw.Status(fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON,), NAME)


def _node_changed(pod: dict[str, Any], old: Any, new: Any) -> fw.QueueingHint:
    if not ((new or {}).get("spec") or {}).get("unschedulable"):
        return fw.QueueingHint.QUEUE
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    return fw.QueueingHint.QUEUE if tolerates_taint(tolerations, UNSCHEDULABLE_TAINT) else fw.QueueingHint.SKIP


class NodeUnschedulable:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Any) -> None:
        pass

    def filter(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> fw.Status | None:
        return filter_status(pod, node)

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        node = fw.ClusterEvent(fw.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_TAINT)
        pod = fw.ClusterEvent(fw.UNSCHEDULED_POD, fw.ActionType.UPDATE_POD_TOLERATIONS)
        return [fw.ClusterEventWithHint(node, _node_changed), fw.ClusterEventWithHint(pod)]
