"""NodeName: a pod that names a node (spec.nodeName) fits only that node.

Pure core: `fits(pod, node)`. Rejection: UnschedulableAndUnresolvable
"node(s) didn't match the requested node name".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.podinfo import PodInfo

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    wanted = pod.spec.get("nodeName") or ""
    return not wanted or wanted == node.name


def _node_added(pod: dict[str, Any], old: Any, new: Any) -> fw.QueueingHint:
    wanted = (pod.get("spec") or {}).get("nodeName") or ""
    name = ((new or {}).get("metadata") or {}).get("name")
    return fw.QueueingHint.QUEUE if not wanted or wanted == name else fw.QueueingHint.SKIP


class NodeName:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Any) -> None:
        pass

    def pre_filter(self, state: fw.CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[fw.PreFilterResult | None, fw.Status | None]:
        """Nothing to check for pods that name no node (the scheduler only sees those)."""
        return None, (None if pod.spec.get("nodeName") else fw.SKIP)

    def filter(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> fw.Status | None:
        return None if fits(pod, node) else fw.Status(fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON,), NAME)

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        return [fw.ClusterEventWithHint(fw.ClusterEvent(fw.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_LABEL),
                                        _node_added)]
