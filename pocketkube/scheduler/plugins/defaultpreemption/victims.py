"""Preemption decisions as pure functions (upstream default_preemption.go / preemption.go).

- `eligibility(pod, nominated_status, node)`: may this pod preempt at all?
  ("not eligible due to preemptionPolicy=Never." / "... a terminating pod on
  the nominated node.").
- `select_victims(...)`: on a copy of one node, remove every lower-priority
  pod; if the pod still does not fit, the node's filter status explains why
  (no lower-priority pods: "No preemption victims found for incoming pod",
  UnschedulableAndUnresolvable). Otherwise reprieve as many pods as possible,
  most important first, PDB-violating ones before the others; the rest are
  the victims.
- `pick_node(candidates)`: fewest PDB violations, then the lowest highest
  victim priority, the lowest priority sum, the fewest victims, the latest
  start of the highest-priority victims, then the first.

The framework callbacks (filters, PreFilter extensions) are passed in, so the
module stays free of I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.labelsel import compile_selector
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.podinfo import PodInfo

NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NEVER = "not eligible due to preemptionPolicy=Never."
TERMINATING = "not eligible due to a terminating pod on the nominated node."
MAX_INT32 = 2**31 - 1

Obj = Mapping[str, Any]
FilterFn = Callable[[fw.CycleState, PodInfo, NodeInfo], fw.Status | None]
ExtensionFn = Callable[[fw.CycleState, PodInfo, PodInfo, NodeInfo], fw.Status | None]


@dataclass
class Candidate:
    node_name: str
    victims: list[PodInfo]
    num_pdb_violations: int


def start_time(pod: PodInfo) -> str:
    """status.startTime; pods not started yet count as starting now (sorts last)."""
    return str((pod.pod.get("status") or {}).get("startTime") or "9999")


def more_important(a: PodInfo, b: PodInfo) -> bool:
    if a.priority != b.priority:
        return a.priority > b.priority
    return start_time(a) < start_time(b)


def _importance_cmp(a: PodInfo, b: PodInfo) -> int:
    return -1 if more_important(a, b) else (1 if more_important(b, a) else 0)


def terminating_by_preemption(pod: PodInfo) -> bool:
    if not pod.deleting:
        return False
    for c in (pod.pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "DisruptionTarget":
            return c.get("status") == "True" and c.get("reason") == "PreemptionByScheduler"
    return False


def eligibility(pod: PodInfo, nominated_status: fw.Status | None, nominated: NodeInfo | None) -> str:
    """"" if the pod may preempt, else upstream's reason."""
    if pod.spec.get("preemptionPolicy") == "Never":
        return NEVER
    if nominated is None:
        return ""
    if nominated_status is not None and nominated_status.code == fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
        return ""
    for p in nominated.pods:
        if p.priority < pod.priority and terminating_by_preemption(p):
            return TERMINATING
    return ""


def split_by_pdb(pods: Sequence[PodInfo], pdbs: Sequence[Obj]) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non-violating), order kept (upstream filterPodsWithPDBViolation)."""
    allowed = [int((p.get("status") or {}).get("disruptionsAllowed") or 0) for p in pdbs]
    selectors = [compile_selector((p.get("spec") or {}).get("selector")) for p in pdbs]
    violating: list[PodInfo] = []
    ok: list[PodInfo] = []
    for pod in pods:
        violated = False
        if pod.labels:
            for i, pdb in enumerate(pdbs):
                meta = pdb.get("metadata") or {}
                if meta.get("namespace") != pod.namespace:
                    continue
                sel = selectors[i]
                if sel.nothing or sel.is_empty() or not sel.matches(pod.labels):
                    continue
                if pod.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else ok).append(pod)
    return violating, ok


def select_victims(state: fw.CycleState, pod: PodInfo, node: NodeInfo, pdbs: Sequence[Obj], run_filter: FilterFn,
                   add_ext: ExtensionFn, remove_ext: ExtensionFn) -> tuple[list[PodInfo], int, fw.Status | None]:
    """Victims on (a copy of) `node`, the number violating PDBs, and the status (None = a candidate)."""
    potential = [p for p in node.pods if p.priority < pod.priority]
    for p in potential:
        node.remove_pod(p.uid)
        s = remove_ext(state, pod, p, node)
        if s is not None:
            return [], 0, s
    if not potential:
        return [], 0, fw.Status(fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (NO_VICTIMS,))
    s = run_filter(state, pod, node)
    if s is not None and not s.is_success():
        return [], 0, s
    potential.sort(key=functools.cmp_to_key(_importance_cmp))
    violating, non_violating = split_by_pdb(potential, pdbs)
    victims: list[PodInfo] = []
    num_violating = 0
    for group, is_violating in ((violating, True), (non_violating, False)):
        for p in group:
            node.add_pod(p)
            s = add_ext(state, pod, p, node)
            if s is not None:
                return [], 0, s
            fits = run_filter(state, pod, node)
            if fits is not None and not fits.is_success():
                node.remove_pod(p.uid)
                s = remove_ext(state, pod, p, node)
                if s is not None:
                    return [], 0, s
                victims.append(p)
                num_violating += is_violating
    if violating and non_violating:
        victims.sort(key=functools.cmp_to_key(_importance_cmp))
    return victims, num_violating, None


def _earliest_top_start(victims: Sequence[PodInfo]) -> str:
    top = max(p.priority for p in victims)
    return min(start_time(p) for p in victims if p.priority == top)


def pick_node(candidates: Sequence[Candidate]) -> Candidate | None:
    if not candidates:
        return None
    scorers: list[Callable[[Candidate], Any]] = [
        lambda c: -c.num_pdb_violations,
        lambda c: -c.victims[0].priority,
        lambda c: -sum(p.priority + MAX_INT32 + 1 for p in c.victims),
        lambda c: -len(c.victims),
        lambda c: _earliest_top_start(c.victims),
    ]
    pool = list(candidates)
    for score in scorers:
        best = max(score(c) for c in pool)
        pool = [c for c in pool if score(c) == best]
        if len(pool) == 1:
            break
    return pool[0]


def num_candidates(num_nodes: int, min_percentage: int = 10, min_absolute: int = 100) -> int:
    n = num_nodes * min_percentage // 100
    return min(max(n, min_absolute), num_nodes)
