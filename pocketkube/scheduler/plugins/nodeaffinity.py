"""NodeAffinity: spec.nodeSelector and required/preferred node affinity.

Pure cores: `RequiredNodeAffinity.of(pod_spec).matches(labels, name)` -- the
nodeSelector labels must all be present, and at least one required
NodeSelectorTerm must match (terms are ORed; inside a term the
matchExpressions on labels and matchFields on metadata.name are ANDed; a term
with neither matches nothing; operators In, NotIn, Exists, DoesNotExist, Gt,
Lt as upstream) -- and `preferred_score(terms, labels, name)`, the sum of the
weights of the matching preferred terms.

Filter rejects with UnschedulableAndUnresolvable "node(s) didn't match Pod's
node affinity/selector". PreFilter skips pods with neither nodeSelector nor
required affinity, and turns `metadata.name In [...]` fields into a
PreFilterResult so only those nodes are evaluated. Score is the preferred
weight sum, normalised to 0..100 (weight 2 by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.podinfo import PodInfo

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_CONFLICT = "pod affinity terms conflict"
NAME_FIELD = "metadata.name"
_PRE_FILTER = "PreFilterNodeAffinity"
_PRE_SCORE = "PreScoreNodeAffinity"

Obj = Mapping[str, Any]


def _requirement_matches(req: Obj, value: str | None) -> bool:
    op = req.get("operator") or ""
    values = req.get("values") or []
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        if value is None or len(values) != 1:
            return False
        try:
            lhs, rhs = int(value), int(values[0])
        except ValueError:
            return False
        return lhs > rhs if op == "Gt" else lhs < rhs
    return False


def term_matches(term: Obj, labels: Mapping[str, str], name: str) -> bool:
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    for req in exprs:
        if not _requirement_matches(req, labels.get(req.get("key", ""))):
            return False
    for req in fields:
        if req.get("key") != NAME_FIELD or req.get("operator") not in ("In", "NotIn"):
            return False
        if not _requirement_matches(req, name):
            return False
    return True


@dataclass(frozen=True, slots=True)
class RequiredNodeAffinity:
    node_selector: tuple[tuple[str, str], ...] = ()
    terms: tuple[Obj, ...] | None = None

    @classmethod
    def of(cls, spec: Obj) -> RequiredNodeAffinity:
        na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
        required = na.get("requiredDuringSchedulingIgnoredDuringExecution")
        terms = tuple(required.get("nodeSelectorTerms") or ()) if required is not None else None
        return cls(tuple((spec.get("nodeSelector") or {}).items()), terms)

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
        for k, v in self.node_selector:
            if labels.get(k) != v:
                return False
        if self.terms is None:
            return True
        return any(term_matches(t, labels, name) for t in self.terms)

    def matches_node(self, node: Obj | None) -> bool:
        meta = (node or {}).get("metadata") or {}
        return self.matches(meta.get("labels") or {}, meta.get("name") or "")


def preferred_terms(spec: Obj) -> list[tuple[Obj, int]]:
    na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    out = []
    for t in na.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        weight = int(t.get("weight") or 0)
        if weight:
            out.append((t.get("preference") or {}, weight))
    return out


def preferred_score(terms: Sequence[tuple[Obj, int]], labels: Mapping[str, str], name: str) -> int:
    return sum(w for term, w in terms if term_matches(term, labels, name))


def node_names_of(terms: Sequence[Obj]) -> frozenset[str] | None:
    """The nodes named by `metadata.name In` fields in every term, or None when any term leaves all nodes open."""
    names: set[str] = set()
    for t in terms:
        term_names: set[str] | None = None
        for r in t.get("matchFields") or []:
            if r.get("key") == NAME_FIELD and r.get("operator") == "In":
                vals = set(r.get("values") or [])
                term_names = vals if term_names is None else term_names & vals
        if term_names is None:
            return None
        names |= term_names
    return frozenset(names)


def _node_changed(pod: dict[str, Any], old: Any, new: Any) -> fw.QueueingHint:
    req = RequiredNodeAffinity.of(pod.get("spec") or {})
    if not req.matches_node(new):
        return fw.QueueingHint.SKIP
    if old is not None and req.matches_node(old):
        return fw.QueueingHint.SKIP
    return fw.QueueingHint.QUEUE


class NodeAffinity:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Any) -> None:
        pass

    def pre_filter(self, state: fw.CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[fw.PreFilterResult | None, fw.Status | None]:
        req = RequiredNodeAffinity.of(pod.spec)
        if req.terms is None and "nodeSelector" not in pod.spec:
            return None, fw.SKIP
        state.write(_PRE_FILTER, req)
        if not req.terms:
            return None, None
        names = node_names_of(req.terms)
        if names is None:
            return None, None
        if not names:
            return None, fw.Status(fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_CONFLICT,), NAME)
        return fw.PreFilterResult(names), None

    def filter(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> fw.Status | None:
        req: RequiredNodeAffinity | None = state.read(_PRE_FILTER)
        if req is None:
            req = RequiredNodeAffinity.of(pod.spec)
        if req.matches(node.labels, node.name):
            return None
        return fw.Status(fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_POD,), NAME)

    def pre_score(self, state: fw.CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> fw.Status | None:
        terms = preferred_terms(pod.spec)
        if not terms:
            return fw.SKIP
        state.write(_PRE_SCORE, terms)
        return None

    def score(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> int:
        terms = state.read(_PRE_SCORE)
        if terms is None:
            terms = preferred_terms(pod.spec)
        return preferred_score(terms, node.labels, node.name)

    def normalize_score(self, state: fw.CycleState, pod: PodInfo, scores: list[fw.NodeScore]) -> fw.Status | None:
        fw.default_normalize_score(fw.MAX_NODE_SCORE, False, scores)
        return None

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        ev = fw.ClusterEvent(fw.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_LABEL |
                             fw.ActionType.UPDATE_NODE_TAINT)
        return [fw.ClusterEventWithHint(ev, _node_changed)]
