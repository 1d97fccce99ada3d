"""PodTopologySpread filtering: DoNotSchedule constraints (pure core).

Theory of operation (upstream podtopologyspread/filtering.go): PreFilter
counts, for each constraint, the matching pods per topology value over the
*eligible* nodes -- nodes carrying every constraint's topology key and passing
the constraint's inclusion policies (by default: the pod's nodeSelector and
required node affinity). Every eligible domain is present, with 0 if empty.

Filter(node), for each constraint in order:
- the node lacks the topology key: UnschedulableAndUnresolvable
  "node(s) didn't match pod topology spread constraints (missing required label)";
- skew = matching pods in the node's domain + (1 if the pod matches its own
  selector) - global minimum (0 when fewer than minDomains domains exist);
  skew > maxSkew: Unschedulable "node(s) didn't match pod topology spread constraints".

`update_with_pod` keeps the counts right for the PreFilter extensions
(nominated pods, preemption victims).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.plugins.nodeaffinity import RequiredNodeAffinity
from pocketkube.scheduler.plugins.podtopologyspread.common import (
    Constraint,
    MatchCounter,
    count_with,
    has_all_keys,
    inclusion_is_trivial,
)
from pocketkube.scheduler.podinfo import PodInfo

NAME = "PodTopologySpread"
ERR_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_NODE_LABEL_NOT_MATCH = ERR_CONSTRAINTS_NOT_MATCH + " (missing required label)"


@dataclass
class PreFilterState:
    constraints: list[Constraint]
    required: RequiredNodeAffinity
    counts: list[dict[str, int]] = field(default_factory=list)
    mins: list[int] = field(default_factory=list)

    def clone(self) -> PreFilterState:
        return PreFilterState(self.constraints, self.required, [dict(c) for c in self.counts], list(self.mins))

    def refresh_min(self, i: int) -> None:
        """The global minimum of constraint i (0 when fewer domains than minDomains)."""
        counts = self.counts[i]
        if not counts or len(counts) < self.constraints[i].min_domains:
            self.mins[i] = 0
        else:
            self.mins[i] = min(counts.values())

    def update_with_pod(self, pod: PodInfo, existing: PodInfo, node: NodeInfo, delta: int) -> None:
        if existing.namespace != pod.namespace or not has_all_keys(node.labels, self.constraints):
            return
        for i, c in enumerate(self.constraints):
            if not c.selector.matches(existing.labels):
                continue
            if not c.matches_inclusion_policies(pod, node, self.required):
                continue
            value = node.labels[c.topology_key]
            self.counts[i][value] = self.counts[i].get(value, 0) + delta
            self.refresh_min(i)


def compute_state(pod: PodInfo, constraints: list[Constraint], nodes: Sequence[NodeInfo],
                  counter: MatchCounter) -> PreFilterState:
    required = RequiredNodeAffinity.of(pod.spec)
    s = PreFilterState(constraints, required, [{} for _ in constraints], [0] * len(constraints))
    trivial = inclusion_is_trivial(required, constraints)
    memos = [counter.memo(c.selector, pod.namespace) for c in constraints]
    for ni in nodes:
        labels = ni.labels
        if not has_all_keys(labels, constraints):
            continue
        for i, c in enumerate(constraints):
            if not trivial and not c.matches_inclusion_policies(pod, ni, required):
                continue
            value = labels[c.topology_key]
            counts = s.counts[i]
            counts[value] = counts.get(value, 0) + count_with(memos[i], ni, c.selector, pod.namespace)
    for i in range(len(constraints)):
        s.refresh_min(i)
    return s


def filter_status(s: PreFilterState, pod: PodInfo, node: NodeInfo) -> fw.Status | None:
    for i, c in enumerate(s.constraints):
        value = node.labels.get(c.topology_key)
        if value is None:
            return fw.Status(fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_NODE_LABEL_NOT_MATCH,), NAME)
        self_match = 1 if c.selector.matches(pod.labels) else 0
        skew = s.counts[i].get(value, 0) + self_match - s.mins[i]
        if skew > c.max_skew:
            return fw.Status(fw.Code.UNSCHEDULABLE, (ERR_CONSTRAINTS_NOT_MATCH,), NAME)
    return None
