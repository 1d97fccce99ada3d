"""The placement algorithm of one scheduling cycle (upstream schedulePod and helpers).

Theory of operation:

1. No nodes at all: `NoNodesAvailable` ("no nodes available to schedule pods").
2. PreFilter. A rejection here applies to every node; its message becomes the
   FitError's PreFilter message.
3. A pod with status.nominatedNodeName (it preempted before) tries that node
   first; if it passes the filters it is chosen without looking further.
4. Filter the nodes, starting where the previous cycle stopped (round-robin
   fairness) and stopping once enough feasible nodes were found: all of them
   below 100 nodes, else percentageOfNodesToScore (adaptive by default:
   50% - nodes/125, at least 5%, at least 100 nodes).
5. None feasible: FitError with the per-node statuses. One: take it. Several:
   PreScore, Score, NormalizeScore, weights, and pick the highest total,
   breaking ties uniformly at random (reservoir sampling, as upstream).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.runtime import Framework

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


class NoNodesAvailable(Exception):
    def __str__(self) -> str:
        return "no nodes available to schedule pods"


class SchedulingError(Exception):
    """A plugin failed with an internal error."""


@dataclass
class ScheduleResult:
    suggested_host: str
    evaluated_nodes: int
    feasible_nodes: int


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int | None, default_percentage: int = 0) -> int:
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    pct = percentage if percentage is not None else default_percentage
    if pct == 0:
        pct = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    n = num_all_nodes * pct // 100
    return max(n, MIN_FEASIBLE_NODES_TO_FIND)


def select_host(nodes: list[NodeInfo], totals: list[int], rng: random.Random) -> str:
    best = -1
    chosen = ""
    ties = 0
    for ni, score in zip(nodes, totals, strict=True):
        if score > best:
            best, chosen, ties = score, ni.name, 1
        elif score == best:
            ties += 1
            if rng.randrange(ties) == 0:
                chosen = ni.name
    return chosen


class Algorithm:
    """Holds the cross-cycle state (next start index, rng) of the placement algorithm."""

    def __init__(self, *, percentage_of_nodes_to_score: int = 0, rng: random.Random | None = None) -> None:
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.next_start_node_index = 0
        self.rng = rng or random.Random()

    def schedule_pod(self, fwk: Framework, state: fw.CycleState, pod: PodInfo) -> ScheduleResult:
        snapshot = fwk.snapshot
        if snapshot.num_nodes() == 0:
            raise NoNodesAvailable()
        feasible, diagnosis = self.find_nodes_that_fit(fwk, state, pod)
        if not feasible:
            raise fw.FitError(snapshot.num_nodes(), diagnosis)
        evaluated = len(feasible) + len(diagnosis.node_to_status)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        s = fwk.run_pre_score(state, pod, feasible)
        if s is not None:
            raise SchedulingError(s.message())
        if not fwk.score_plugins:
            totals = [1] * len(feasible)
        else:
            try:
                totals = fwk.run_score(state, pod, feasible)
            except RuntimeError as e:
                raise SchedulingError(str(e)) from e
        return ScheduleResult(select_host(feasible, totals, self.rng), evaluated, len(feasible))

    def find_nodes_that_fit(self, fwk: Framework, state: fw.CycleState,
                            pod: PodInfo) -> tuple[list[NodeInfo], fw.Diagnosis]:
        diagnosis = fw.Diagnosis()
        all_nodes = fwk.snapshot.node_info_list
        pre_res, s, rejectors = fwk.run_pre_filter(state, pod)
        diagnosis.unschedulable_plugins = set(rejectors)
        if s is not None:
            if not s.is_rejected():
                raise SchedulingError(s.message())
            diagnosis.node_to_status.absent = s
            diagnosis.pre_filter_msg = s.message()
            diagnosis.add_plugin_status(s)
            return [], diagnosis
        nominated = str((pod.pod.get("status") or {}).get("nominatedNodeName") or "")
        if nominated:
            ni = fwk.snapshot.get(nominated)
            if ni is not None and (pre_res is None or pre_res.all_nodes() or nominated in (pre_res.node_names or ())):
                st = fwk.run_filter_with_nominated(state, pod, ni)
                if st is None or st.is_success():
                    return [ni], diagnosis
        nodes = all_nodes
        if pre_res is not None and not pre_res.all_nodes():
            names = pre_res.node_names or frozenset()
            nodes = [ni for ni in all_nodes if ni.name in names]
            diagnosis.node_to_status.absent = fw.unresolvable(
                f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(rejectors))}]")
        pct = fwk.percentage_of_nodes_to_score
        to_find = num_feasible_nodes_to_find(len(nodes), pct, self.percentage_of_nodes_to_score)
        feasible = self._filter(fwk, state, pod, nodes, to_find, diagnosis)
        if all_nodes:
            processed = len(feasible) + len(diagnosis.node_to_status)
            self.next_start_node_index = (self.next_start_node_index + processed) % len(all_nodes)
        return feasible, diagnosis

    def _filter(self, fwk: Framework, state: fw.CycleState, pod: PodInfo, nodes: list[NodeInfo], to_find: int,
                diagnosis: fw.Diagnosis) -> list[NodeInfo]:
        n = len(nodes)
        if n == 0:
            return []
        start = self.next_start_node_index % n
        ordered = nodes[start:] + nodes[:start] if start else nodes
        if not fwk.active_filters(state):
            return ordered[:to_find]
        run = fwk.run_filter_with_nominated if fwk.nominator else fwk.run_filter
        feasible: list[NodeInfo] = []
        statuses = diagnosis.node_to_status
        for ni in ordered:
            st = run(state, pod, ni)
            if st is None or st.code == fw.Code.SUCCESS:
                feasible.append(ni)
                if len(feasible) >= to_find:
                    break
            elif st.code == fw.Code.ERROR:
                raise SchedulingError(st.message())
            else:
                statuses.set(ni.name, st)
                diagnosis.add_plugin_status(st)
        return feasible
