"""DefaultPreemption cores: eligibility, victim selection with PDBs, candidate choice, messages; the bench helper."""

from __future__ import annotations

from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.bench import measure_throughput
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.plugins.defaultpreemption import victims as v
from pocketkube.scheduler.plugins.noderesources import fit_status
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.testing import make_node, make_pod, node_info


def run_fit(state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> fw.Status | None:
    return fit_status(pod.requests, node)


def no_ext(state: fw.CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> fw.Status | None:
    return None


def pi(name: str, **kw: Any) -> PodInfo:
    return PodInfo.of(make_pod(name, **kw))


def test_eligibility() -> None:
    assert v.eligibility(pi("p", preemption_policy="Never"), None, None) == v.NEVER
    assert v.eligibility(pi("p", priority=10), None, None) == ""
    dying = make_pod("victim", priority=1, node_name="n1")
    dying["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    dying["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}]
    ni = node_info(make_node("n1"), dying)
    assert v.eligibility(pi("p", priority=10), fw.unschedulable("x"), ni) == v.TERMINATING
    assert v.eligibility(pi("p", priority=10), fw.unresolvable("x"), ni) == ""


def test_select_victims_minimal_set() -> None:
    ni = node_info(make_node("n1", cpu="4"), make_pod("a", cpu="1", priority=1, node_name="n1"),
                   make_pod("b", cpu="2", priority=2, node_name="n1"),
                   make_pod("c", cpu="1", priority=100, node_name="n1"))
    pods, violating, status = v.select_victims(fw.CycleState(), pi("p", cpu="2", priority=50), ni, [],
                                               run_fit, no_ext, no_ext)
    assert status is None and violating == 0
    assert [p.name for p in pods] == ["b"]  # reprieving b first fails; a is kept


def test_select_victims_without_lower_priority_pods() -> None:
    ni = node_info(make_node("n1", cpu="1"), make_pod("a", cpu="1", priority=100, node_name="n1"))
    pods, _, status = v.select_victims(fw.CycleState(), pi("p", cpu="1", priority=50), ni, [], run_fit, no_ext, no_ext)
    assert pods == [] and status is not None
    assert (status.code, status.reasons) == (fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (v.NO_VICTIMS,))


def test_select_victims_when_even_an_empty_node_is_too_small() -> None:
    ni = node_info(make_node("n1", cpu="1"), make_pod("a", cpu="1", priority=1, node_name="n1"))
    pods, _, status = v.select_victims(fw.CycleState(), pi("p", cpu="2", priority=50), ni, [], run_fit, no_ext, no_ext)
    assert pods == [] and status is not None and status.reasons == ("Insufficient cpu",)


def test_pdb_violations_are_counted_and_avoided() -> None:
    pdb = {"metadata": {"name": "db", "namespace": "default"},
           "spec": {"selector": {"matchLabels": {"app": "db"}}}, "status": {"disruptionsAllowed": 0}}
    protected = pi("db-0", labels={"app": "db"}, priority=1)
    free = pi("job", priority=1)
    violating, ok = v.split_by_pdb([protected, free], [pdb])
    assert [p.name for p in violating] == ["db-0"] and [p.name for p in ok] == ["job"]
    pdb["status"]["disruptedPods"] = {"db-0": "2024-01-01T00:00:00Z"}
    assert v.split_by_pdb([protected], [pdb])[0] == []


def test_pick_node_order() -> None:
    c1 = v.Candidate("n1", [pi("a", priority=5)], 1)
    c2 = v.Candidate("n2", [pi("b", priority=9), pi("c", priority=1)], 0)
    c3 = v.Candidate("n3", [pi("d", priority=5), pi("e", priority=5)], 0)
    c4 = v.Candidate("n4", [pi("f", priority=5)], 0)
    assert v.pick_node([c1, c2]).node_name == "n2"  # type: ignore[union-attr]  # fewer PDB violations
    assert v.pick_node([c2, c3]).node_name == "n3"  # type: ignore[union-attr]  # lower highest priority
    assert v.pick_node([c3, c4]).node_name == "n4"  # type: ignore[union-attr]  # lower priority sum
    late = v.Candidate("n5", [pi("g", priority=5, start_time="2024-06-01T00:00:00Z")], 0)
    early = v.Candidate("n6", [pi("h", priority=5, start_time="2024-01-01T00:00:00Z")], 0)
    assert v.pick_node([early, late]).node_name == "n5"  # type: ignore[union-attr]  # latest start
    assert v.pick_node([]) is None
    assert v.num_candidates(500) == 100 and v.num_candidates(5000) == 500 and v.num_candidates(30) == 30


async def test_bench_helper_runs() -> None:
    result = await measure_throughput(20, 60, owned=True)
    assert result["scheduled"] == 60 and result["pods_per_s"] > 0
