"""InterPodAffinity scoring: preferred affinity/anti-affinity in both directions (pure core).

Theory of operation (upstream interpodaffinity/scoring.go): PreScore builds a
score per topology pair by walking existing pods (all nodes' pods when the
incoming pod has preferred terms, else only pods with affinity) and adding,
for the existing pod's node's pair of each term's topology key:

- + weight of each incoming preferred affinity term the existing pod matches,
- - weight of each incoming preferred anti-affinity term it matches,
- + hardPodAffinityWeight (default 1) for each *required* affinity term of the
  existing pod that the incoming pod matches,
- + / - weight of the existing pod's preferred affinity / anti-affinity terms
  that the incoming pod matches.

Score(node) sums the pair scores of the node's labels; NormalizeScore maps
[min, max] onto [0, 100] (all equal -> 0). No pairs at all: Skip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.podinfo import AffinityTerm, PodInfo, WeightedAffinityTerm

ScoreMap = dict[str, dict[str, int]]


def _add(scores: ScoreMap, term: AffinityTerm, weight: int, target: PodInfo,
         ns_labels: Mapping[str, str] | None, node_labels: Mapping[str, str], sign: int) -> None:
    if not term.matches(target, ns_labels):
        return
    tp = node_labels.get(term.topology_key)
    if tp is None:
        return
    by_value = scores.setdefault(term.topology_key, {})
    by_value[tp] = by_value.get(tp, 0) + weight * sign


def _add_weighted(scores: ScoreMap, terms: Sequence[WeightedAffinityTerm], target: PodInfo,
                  ns_labels: Mapping[str, str] | None, node_labels: Mapping[str, str], sign: int) -> None:
    for wt in terms:
        _add(scores, wt.term, wt.weight, target, ns_labels, node_labels, sign)


def process_existing_pod(scores: ScoreMap, incoming: PodInfo, preferred: Sequence[WeightedAffinityTerm],
                         preferred_anti: Sequence[WeightedAffinityTerm], existing: PodInfo,
                         node_labels: Mapping[str, str], ns_labels: Mapping[str, str] | None,
                         hard_weight: int) -> None:
    if not node_labels:
        return
    _add_weighted(scores, preferred, existing, None, node_labels, 1)
    _add_weighted(scores, preferred_anti, existing, None, node_labels, -1)
    if hard_weight > 0:
        for t in existing.required_affinity_terms:
            _add(scores, t, hard_weight, incoming, ns_labels, node_labels, 1)
    _add_weighted(scores, existing.preferred_affinity_terms, incoming, ns_labels, node_labels, 1)
    _add_weighted(scores, existing.preferred_anti_affinity_terms, incoming, ns_labels, node_labels, -1)


def topology_scores(incoming: PodInfo, preferred: Sequence[WeightedAffinityTerm],
                    preferred_anti: Sequence[WeightedAffinityTerm], nodes: Sequence[NodeInfo],
                    ns_labels: Mapping[str, str] | None, hard_weight: int) -> ScoreMap:
    has_constraints = bool(preferred or preferred_anti)
    scores: ScoreMap = {}
    for ni in nodes:
        pods = ni.pods if has_constraints else ni.pods_with_affinity
        for existing in pods:
            process_existing_pod(scores, incoming, preferred, preferred_anti, existing, ni.labels, ns_labels,
                                 hard_weight)
    return {k: v for k, v in scores.items() if v}


def node_score(scores: ScoreMap, labels: Mapping[str, str]) -> int:
    total = 0
    for key, by_value in scores.items():
        v = labels.get(key)
        if v is not None:
            total += by_value.get(v, 0)
    return total


def normalize(scores: list[fw.NodeScore]) -> None:
    if not scores:
        return
    lo = min(s.score for s in scores)
    hi = max(s.score for s in scores)
    diff = hi - lo
    for s in scores:
        s.score = int(fw.MAX_NODE_SCORE * ((s.score - lo) / diff)) if diff > 0 else 0
