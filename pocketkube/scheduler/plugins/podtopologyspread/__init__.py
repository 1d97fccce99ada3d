"""PodTopologySpread: spread pods over topology domains (DoNotSchedule filters, ScheduleAnyway scores).

Pure cores in common.py, filtering.py and scoring.py. Args: `defaultingType`
("System" -- the default, hostname/zone ScheduleAnyway constraints -- or
"List" with `defaultConstraints`). PreFilter/PreScore skip pods without
applicable constraints. The PreFilter counts follow preemption through the
PreFilter extensions of ../prefilterstate.py. Score weight 2 by default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.handle import Handle
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.plugins.podtopologyspread import common, filtering, scoring
from pocketkube.scheduler.plugins.prefilterstate import StateExtensions, filter_with_state
from pocketkube.scheduler.podinfo import PodInfo

NAME = filtering.NAME
_PRE_FILTER = "PreFilterPodTopologySpread"
_PRE_SCORE = "PreScorePodTopologySpread"


class PodTopologySpread:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle
        self.system_defaulted = (args.get("defaultingType") or "System") == "System"
        self.defaults: tuple[Mapping[str, Any], ...] = (
            common.SYSTEM_DEFAULT_CONSTRAINTS if self.system_defaulted
            else tuple(args.get("defaultConstraints") or ()))
        self.counter = common.MatchCounter()

    def _constraints(self, pod: PodInfo, action: str) -> list[common.Constraint]:
        return common.pod_constraints(pod, action, self.defaults, self.handle.listers)

    def pre_filter(self, state: fw.CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[fw.PreFilterResult | None, fw.Status | None]:
        constraints = self._constraints(pod, common.DO_NOT_SCHEDULE)
        if not constraints:
            return None, fw.SKIP
        state.write(_PRE_FILTER, filtering.compute_state(pod, constraints, nodes, self.counter))
        return None, None

    def pre_filter_extensions(self) -> StateExtensions:
        return StateExtensions(_PRE_FILTER)

    def filter(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> fw.Status | None:
        return filter_with_state(state, _PRE_FILTER, pod, node, filtering.filter_status)

    def pre_score(self, state: fw.CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> fw.Status | None:
        all_nodes = self.handle.snapshot.node_info_list
        if not nodes or not all_nodes:
            return None
        constraints = self._constraints(pod, common.SCHEDULE_ANYWAY)
        if not constraints:
            return fw.SKIP
        require_all = bool(pod.spec.get("topologySpreadConstraints")) or not self.system_defaulted
        state.write(_PRE_SCORE, scoring.compute_state(pod, constraints, nodes, all_nodes, require_all,
                                                      self.counter))
        return None

    def score(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_nodes(state, pod, [node])[0]

    def score_nodes(self, state: fw.CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        s: scoring.PreScoreState | None = state.read(_PRE_SCORE)
        return [0] * len(nodes) if s is None else scoring.node_scores(s, pod, nodes, self.counter)

    def normalize_score(self, state: fw.CycleState, pod: PodInfo, scores: list[fw.NodeScore]) -> fw.Status | None:
        s: scoring.PreScoreState | None = state.read(_PRE_SCORE)
        if s is not None:
            scoring.normalize(s, scores)
        return None

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        pod = fw.ClusterEvent(fw.POD, fw.ActionType.ADD | fw.ActionType.UPDATE_POD_LABEL | fw.ActionType.DELETE)
        node = fw.ClusterEvent(fw.NODE, fw.ActionType.ADD | fw.ActionType.DELETE | fw.ActionType.UPDATE_NODE_LABEL |
                               fw.ActionType.UPDATE_NODE_TAINT)
        return [fw.ClusterEventWithHint(pod, _pod_changed), fw.ClusterEventWithHint(node, _node_changed)]


def _own_constraints(pod: dict[str, Any]) -> list[common.Constraint]:
    spec = pod.get("spec") or {}
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return common.constraints_of(spec.get("topologySpreadConstraints") or [], labels, common.DO_NOT_SCHEDULE)


def _pod_changed(pod: dict[str, Any], old: Any, new: Any) -> fw.QueueingHint:
    constraints = _own_constraints(pod)
    if not constraints:
        return fw.QueueingHint.QUEUE
    ns = (pod.get("metadata") or {}).get("namespace")
    for obj in (old, new):
        meta = (obj or {}).get("metadata") or {}
        if obj is not None and meta.get("namespace") == ns and any(
                c.selector.matches(meta.get("labels") or {}) for c in constraints):
            return fw.QueueingHint.QUEUE
    return fw.QueueingHint.SKIP


def _node_changed(pod: dict[str, Any], old: Any, new: Any) -> fw.QueueingHint:
    constraints = _own_constraints(pod)
    if not constraints:
        return fw.QueueingHint.QUEUE
    for obj in (old, new):
        labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
        if obj is not None and common.has_all_keys(labels, constraints):
            return fw.QueueingHint.QUEUE
    return fw.QueueingHint.SKIP
