"""TaintToleration: a node's NoSchedule/NoExecute taints repel pods that do not tolerate them.

The toleration rules (Toleration.ToleratesTaint, FindMatchingUntoleratedTaint)
are machinery/taints.py, shared with the controllers. Filter rejects with
UnschedulableAndUnresolvable "node(s) had untolerated taint {key: value}" for
the first untolerated NoSchedule/NoExecute taint. Score counts the PreferNoSchedule taints that the
pod's PreferNoSchedule (or effect-less) tolerations do not tolerate, and
NormalizeScore reverses it (fewest such taints -> 100). Weight 3 by default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pocketkube.machinery import taints as tn
from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.podinfo import PodInfo

NAME = "TaintToleration"
_STATE = "PreScoreTaintToleration"

Obj = Mapping[str, Any]


def untolerated_reason(taint: Obj) -> str:
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value') or ''}}}"


def filter_status(pod: PodInfo, node: NodeInfo) -> fw.Status | None:
    if not node.taints:
        return None
    taint = tn.find_untolerated(node.taints, pod.tolerations)
    if taint is None:
        return None
    return fw.Status(fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (untolerated_reason(taint),), NAME)


def count_intolerable_prefer_no_schedule(taints: Sequence[Obj], tolerations: Sequence[Obj]) -> int:
    return sum(1 for t in taints
               if t.get("effect") == tn.PREFER_NO_SCHEDULE and not tn.tolerates_taint(tolerations, t))


def _node_changed(pod: dict[str, Any], old: Any, new: Any) -> fw.QueueingHint:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    was = old is None or tn.find_untolerated(tn.taints_of(old), tolerations) is not None
    now = tn.find_untolerated(tn.taints_of(new), tolerations) is not None
    return fw.QueueingHint.QUEUE if was and not now else fw.QueueingHint.SKIP


class TaintToleration:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Any) -> None:
        pass

    def filter(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> fw.Status | None:
        return filter_status(pod, node)

    def pre_score(self, state: fw.CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> fw.Status | None:
        prefer = [t for t in pod.tolerations if (t.get("effect") or tn.PREFER_NO_SCHEDULE) == tn.PREFER_NO_SCHEDULE]
        state.write(_STATE, prefer)
        return None

    def score(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_nodes(state, pod, [node])[0]

    def score_nodes(self, state: fw.CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        tolerations = state.read(_STATE) or ()
        return [count_intolerable_prefer_no_schedule(n.taints, tolerations) if n.taints else 0 for n in nodes]

    def normalize_score(self, state: fw.CycleState, pod: PodInfo, scores: list[fw.NodeScore]) -> fw.Status | None:
        fw.default_normalize_score(fw.MAX_NODE_SCORE, True, scores)
        return None

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        node = fw.ClusterEvent(fw.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_TAINT)
        pod = fw.ClusterEvent(fw.UNSCHEDULED_POD, fw.ActionType.UPDATE_POD_TOLERATIONS)
        return [fw.ClusterEventWithHint(node, _node_changed), fw.ClusterEventWithHint(pod)]
