"""InterPodAffinity filtering: required pod affinity and anti-affinity (pure core).

Theory of operation (upstream interpodaffinity/filtering.go). PreFilter counts,
per topology pair (label key, value of the node an existing pod runs on):

- `existing_anti_affinity`: existing pods whose *required anti-affinity* terms
  match the incoming pod (the incoming pod must not land in their domains);
- `affinity`: existing pods matching *all* the incoming pod's required
  affinity terms, once per term's topology key;
- `anti_affinity`: existing pods matching each of the incoming pod's required
  anti-affinity terms.

Filter(node) then checks, in upstream order:
1. affinity: the node has every term's topology key and each pair has a
   count > 0 -- except when no pod anywhere matches and the incoming pod
   matches its own terms (the first pod of a group that attracts itself):
   UnschedulableAndUnresolvable "node(s) didn't match pod affinity rules";
2. anti-affinity: no pair of the node has a count > 0:
   Unschedulable "node(s) didn't match pod anti-affinity rules";
3. existing pods' anti-affinity: no label pair of the node is counted:
   Unschedulable "node(s) didn't satisfy existing pods anti-affinity rules".

`PreFilterState.update_with_pod` keeps the counts right when preemption adds
or removes pods (the PreFilter extensions). The incoming pod's
namespaceSelector is resolved into its namespace list before counting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.labelsel import NOTHING
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.podinfo import AffinityTerm, PodInfo

NAME = "InterPodAffinity"
ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"

Pair = tuple[str, str]
Counts = dict[Pair, int]


def merge_namespaces(term: AffinityTerm, namespaces: Iterable[tuple[str, Mapping[str, str]]]) -> AffinityTerm:
    """Resolve a term's namespaceSelector into its namespace list (an empty selector stays: all namespaces)."""
    sel = term.namespace_selector
    if sel.nothing or sel.is_empty():
        return term
    names = {name for name, labels in namespaces if sel.matches(labels)}
    return AffinityTerm(term.namespaces | names, term.selector, term.topology_key, NOTHING)


def _bump(counts: Counts, labels: Mapping[str, str], key: str, value: int) -> None:
    tp = labels.get(key)
    if tp is None:
        return
    pair = (key, tp)
    n = counts.get(pair, 0) + value
    if n:
        counts[pair] = n
    else:
        counts.pop(pair, None)


def matches_all(terms: Sequence[AffinityTerm], pod: PodInfo) -> bool:
    return bool(terms) and all(t.matches(pod, None) for t in terms)


@dataclass
class PreFilterState:
    affinity_terms: tuple[AffinityTerm, ...]
    anti_affinity_terms: tuple[AffinityTerm, ...]
    ns_labels: Mapping[str, str] | None
    existing_anti_affinity: Counts = field(default_factory=dict)
    affinity: Counts = field(default_factory=dict)
    anti_affinity: Counts = field(default_factory=dict)

    def clone(self) -> PreFilterState:
        return PreFilterState(self.affinity_terms, self.anti_affinity_terms, self.ns_labels,
                              dict(self.existing_anti_affinity), dict(self.affinity), dict(self.anti_affinity))

    def update_with_pod(self, pod: PodInfo, existing: PodInfo, node: NodeInfo, sign: int) -> None:
        """Account `existing` (added: sign 1, removed: -1) on `node` for incoming `pod`."""
        labels = node.labels
        for t in existing.required_anti_affinity_terms:
            if t.matches(pod, self.ns_labels):
                _bump(self.existing_anti_affinity, labels, t.topology_key, sign)
        if matches_all(self.affinity_terms, existing):
            for t in self.affinity_terms:
                _bump(self.affinity, labels, t.topology_key, sign)
        for t in self.anti_affinity_terms:
            if t.matches(existing, None):
                _bump(self.anti_affinity, labels, t.topology_key, sign)


def compute_state(pod: PodInfo, affinity_terms: tuple[AffinityTerm, ...],
                  anti_affinity_terms: tuple[AffinityTerm, ...], ns_labels: Mapping[str, str] | None,
                  all_nodes: Sequence[NodeInfo], nodes_with_anti: Sequence[NodeInfo]) -> PreFilterState:
    s = PreFilterState(affinity_terms, anti_affinity_terms, ns_labels)
    for ni in nodes_with_anti:
        for existing in ni.pods_with_required_anti_affinity:
            for t in existing.required_anti_affinity_terms:
                if t.matches(pod, ns_labels):
                    _bump(s.existing_anti_affinity, ni.labels, t.topology_key, 1)
    if affinity_terms or anti_affinity_terms:
        for ni in all_nodes:
            for existing in ni.pods:
                if affinity_terms and matches_all(affinity_terms, existing):
                    for t in affinity_terms:
                        _bump(s.affinity, ni.labels, t.topology_key, 1)
                for t in anti_affinity_terms:
                    if t.matches(existing, None):
                        _bump(s.anti_affinity, ni.labels, t.topology_key, 1)
    return s


def satisfies_affinity(s: PreFilterState, pod: PodInfo, labels: Mapping[str, str]) -> bool:
    pods_exist = True
    for t in s.affinity_terms:
        tp = labels.get(t.topology_key)
        if tp is None:
            return False
        if s.affinity.get((t.topology_key, tp), 0) <= 0:
            pods_exist = False
    if not pods_exist:
        return not s.affinity and matches_all(s.affinity_terms, pod)
    return True


def satisfies_anti_affinity(s: PreFilterState, labels: Mapping[str, str]) -> bool:
    if not s.anti_affinity:
        return True
    for t in s.anti_affinity_terms:
        tp = labels.get(t.topology_key)
        if tp is not None and s.anti_affinity.get((t.topology_key, tp), 0) > 0:
            return False
    return True


def satisfies_existing_anti_affinity(s: PreFilterState, labels: Mapping[str, str]) -> bool:
    if not s.existing_anti_affinity:
        return True
    return not any(s.existing_anti_affinity.get((k, v), 0) > 0 for k, v in labels.items())


def filter_status(s: PreFilterState, pod: PodInfo, node: NodeInfo) -> fw.Status | None:
    labels = node.labels
    if not satisfies_affinity(s, pod, labels):
        return fw.Status(fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_AFFINITY,), NAME)
    if not satisfies_anti_affinity(s, labels):
        return fw.Status(fw.Code.UNSCHEDULABLE, (ERR_ANTI_AFFINITY,), NAME)
    if not satisfies_existing_anti_affinity(s, labels):
        return fw.Status(fw.Code.UNSCHEDULABLE, (ERR_EXISTING_ANTI_AFFINITY,), NAME)
    return None
