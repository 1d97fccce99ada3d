"""PodTopologySpread scoring: ScheduleAnyway constraints (pure core).

Theory of operation (upstream podtopologyspread/scoring.go): PreScore picks
the feasible nodes that carry every topology key (with the system default
constraints, a node missing a key is still scored), records the topology
values they span, and sums the matching pods per value over *all* eligible
nodes (hostname domains are counted per node in Score). Each constraint
weighs its domains by log(number of domains + 2). Score(node) = sum over
constraints of count * weight + (maxSkew - 1), rounded; NormalizeScore turns
fewer matching pods into a higher score: 100 * (max + min - s) / max (all 100
when max is 0), and nodes that were ignored get 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.plugins.nodeaffinity import RequiredNodeAffinity
from pocketkube.scheduler.plugins.podtopologyspread.common import (
    HOSTNAME,
    Constraint,
    MatchCounter,
    count_with,
    has_all_keys,
    inclusion_is_trivial,
)
from pocketkube.scheduler.podinfo import PodInfo


@dataclass
class PreScoreState:
    constraints: list[Constraint]
    ignored: set[str] = field(default_factory=set)
    counts: list[dict[str, int]] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)


def topology_normalizing_weight(size: int) -> float:
    return math.log(size + 2)


def score_for_count(count: int, max_skew: int, weight: float) -> float:
    return count * weight + (max_skew - 1)


def go_round(x: float) -> int:
    """math.Round: half away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def compute_state(pod: PodInfo, constraints: list[Constraint], feasible: Sequence[NodeInfo],
                  all_nodes: Sequence[NodeInfo], require_all: bool, counter: MatchCounter) -> PreScoreState:
    s = PreScoreState(constraints, counts=[{} for _ in constraints])
    sizes = [0] * len(constraints)
    for ni in feasible:
        if require_all and not has_all_keys(ni.labels, constraints):
            s.ignored.add(ni.name)
            continue
        for i, c in enumerate(constraints):
            if c.topology_key == HOSTNAME:
                continue
            value = ni.labels.get(c.topology_key, "")
            if value not in s.counts[i]:
                s.counts[i][value] = 0
                sizes[i] += 1
    for i, c in enumerate(constraints):
        size = len(feasible) - len(s.ignored) if c.topology_key == HOSTNAME else sizes[i]
        s.weights.append(topology_normalizing_weight(size))
    required = RequiredNodeAffinity.of(pod.spec)
    wanted = [i for i, c in enumerate(constraints) if c.topology_key != HOSTNAME]
    if not wanted:
        return s
    trivial = inclusion_is_trivial(required, constraints)
    memos = {i: counter.memo(constraints[i].selector, pod.namespace) for i in wanted}
    for ni in all_nodes:
        labels = ni.labels
        if require_all and not has_all_keys(labels, constraints):
            continue
        for i in wanted:
            c = constraints[i]
            if not trivial and not c.matches_inclusion_policies(pod, ni, required):
                continue
            counts = s.counts[i]
            value = labels.get(c.topology_key, "")
            if value in counts:
                counts[value] += count_with(memos[i], ni, c.selector, pod.namespace)
    return s


def node_scores(s: PreScoreState, pod: PodInfo, nodes: Sequence[NodeInfo], counter: MatchCounter) -> list[int]:
    memos = [counter.memo(c.selector, pod.namespace) if c.topology_key == HOSTNAME else None
             for c in s.constraints]
    out = []
    for node in nodes:
        if node.name in s.ignored:
            out.append(0)
            continue
        total = 0.0
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                continue
            memo = memos[i]
            count = count_with(memo, node, c.selector, pod.namespace) if memo is not None else s.counts[i].get(value, 0)
            total += count * s.weights[i] + (c.max_skew - 1)
        out.append(go_round(total))
    return out


def normalize(s: PreScoreState, scores: list[fw.NodeScore]) -> None:
    valid = [x.score for x in scores if x.name not in s.ignored]
    lo = min(valid, default=0)
    hi = max(valid, default=0)
    for x in scores:
        if x.name in s.ignored:
            x.score = 0
        elif hi == 0:
            x.score = fw.MAX_NODE_SCORE
        else:
            x.score = fw.MAX_NODE_SCORE * (hi + lo - x.score) // hi
