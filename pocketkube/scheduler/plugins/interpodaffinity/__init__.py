"""InterPodAffinity: pod affinity and anti-affinity, required (Filter) and preferred (Score).

The pure cores live in filtering.py and scoring.py; this module wires them to
the extension points, resolves namespaceSelectors through the namespace
lister, keeps the PreFilter counts right under preemption (PreFilter
extensions, shared with PodTopologySpread in ../prefilterstate.py) and requeues pods it rejected when pods or node labels change.
Args: hardPodAffinityWeight (default 1). Score weight 2 by default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.handle import Handle
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.plugins.interpodaffinity import filtering, scoring
from pocketkube.scheduler.plugins.prefilterstate import StateExtensions, filter_with_state
from pocketkube.scheduler.podinfo import AffinityTerm, PodInfo, WeightedAffinityTerm

NAME = filtering.NAME
_PRE_FILTER = "PreFilterInterPodAffinity"
_PRE_SCORE = "PreScoreInterPodAffinity"


class InterPodAffinity:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle
        self.hard_weight = int(args.get("hardPodAffinityWeight", 1))

    def _namespaces(self) -> list[tuple[str, Mapping[str, str]]]:
        out = []
        for ns in self.handle.listers.list("namespaces"):
            meta = ns.get("metadata") or {}
            out.append((meta.get("name") or "", meta.get("labels") or {}))
        return out

    def _merged(self, terms: Sequence[AffinityTerm]) -> tuple[AffinityTerm, ...]:
        if not any(not t.namespace_selector.nothing and not t.namespace_selector.is_empty() for t in terms):
            return tuple(terms)
        namespaces = self._namespaces()
        return tuple(filtering.merge_namespaces(t, namespaces) for t in terms)

    def _merged_weighted(self, terms: Sequence[WeightedAffinityTerm]) -> tuple[WeightedAffinityTerm, ...]:
        merged = self._merged([w.term for w in terms])
        return tuple(WeightedAffinityTerm(t, w.weight) for t, w in zip(merged, terms, strict=True))

    # ------------------------------------------------------------------ filtering
    def pre_filter(self, state: fw.CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[fw.PreFilterResult | None, fw.Status | None]:
        snap = self.handle.snapshot
        if not (pod.required_affinity_terms or pod.required_anti_affinity_terms or
                snap.have_pods_with_required_anti_affinity or self.handle.nominator):
            return None, fw.SKIP
        ns_labels = self.handle.listers.namespace_labels(pod.namespace)
        s = filtering.compute_state(pod, self._merged(pod.required_affinity_terms),
                                    self._merged(pod.required_anti_affinity_terms), ns_labels, nodes,
                                    snap.have_pods_with_required_anti_affinity)
        state.write(_PRE_FILTER, s)
        return None, None

    def pre_filter_extensions(self) -> StateExtensions:
        return StateExtensions(_PRE_FILTER)

    def filter(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> fw.Status | None:
        return filter_with_state(state, _PRE_FILTER, pod, node, filtering.filter_status)

    # ------------------------------------------------------------------ scoring
    def pre_score(self, state: fw.CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> fw.Status | None:
        if not nodes:
            return None
        preferred = self._merged_weighted(pod.preferred_affinity_terms)
        preferred_anti = self._merged_weighted(pod.preferred_anti_affinity_terms)
        snap = self.handle.snapshot
        source = snap.node_info_list if (preferred or preferred_anti) else snap.have_pods_with_affinity
        ns_labels = self.handle.listers.namespace_labels(pod.namespace)
        scores = scoring.topology_scores(pod, preferred, preferred_anti, source, ns_labels, self.hard_weight)
        if not scores:
            return fw.SKIP
        state.write(_PRE_SCORE, scores)
        return None

    def score(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return scoring.node_score(state.read(_PRE_SCORE) or {}, node.labels)

    def normalize_score(self, state: fw.CycleState, pod: PodInfo, scores: list[fw.NodeScore]) -> fw.Status | None:
        scoring.normalize(scores)
        return None

    # ------------------------------------------------------------------ requeueing
    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        pod = fw.ClusterEvent(fw.POD, fw.ActionType.ADD | fw.ActionType.UPDATE_POD_LABEL | fw.ActionType.DELETE)
        node = fw.ClusterEvent(fw.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_LABEL |
                               fw.ActionType.UPDATE_NODE_TAINT)
        return [fw.ClusterEventWithHint(pod, _pod_changed), fw.ClusterEventWithHint(node, _node_changed)]


def _pod_changed(pod: dict[str, Any], old: Any, new: Any) -> fw.QueueingHint:
    incoming = PodInfo.of(pod)
    for obj in (old, new):
        if obj is None:
            continue
        other = PodInfo.of(obj)
        if other.required_anti_affinity_terms:
            return fw.QueueingHint.QUEUE
        for t in incoming.required_affinity_terms + incoming.required_anti_affinity_terms:
            if t.matches(other, None):
                return fw.QueueingHint.QUEUE
    return fw.QueueingHint.SKIP


def _node_changed(pod: dict[str, Any], old: Any, new: Any) -> fw.QueueingHint:
    incoming = PodInfo.of(pod)
    keys = {t.topology_key for t in incoming.required_affinity_terms + incoming.required_anti_affinity_terms}
    labels = ((new or {}).get("metadata") or {}).get("labels") or {}
    if not keys or any(k in labels for k in keys):
        return fw.QueueingHint.QUEUE
    return fw.QueueingHint.SKIP
