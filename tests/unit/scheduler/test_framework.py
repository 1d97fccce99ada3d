"""Framework data: FitError messages, statuses, cycle state, config loading, the placement helpers."""

from __future__ import annotations

import random

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.algorithm import num_feasible_nodes_to_find, select_host
from pocketkube.scheduler.config import DEFAULT_PLUGINS, load_config
from pocketkube.scheduler.testing import make_node, node_info

TAINT = "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"


def diagnosis(statuses: dict[str, fw.Status], absent: fw.Status | None = None) -> fw.Diagnosis:
    d = fw.Diagnosis()
    for name, s in statuses.items():
        d.node_to_status.set(name, s)
    if absent is not None:
        d.node_to_status.absent = absent
    return d


def test_fit_error_message_sorted_histogram() -> None:
    d = diagnosis({"a": fw.unresolvable(TAINT), "b": fw.unschedulable("Insufficient cpu"),
                   "c": fw.unschedulable("Insufficient cpu", "Insufficient memory")})
    # sorted as byte strings, like Go's sort.Strings: "1 I..." < "1 n..." < "2 ..."
    assert str(fw.FitError(3, d)) == (
        f"0/3 nodes are available: 1 Insufficient memory, 1 {TAINT}, 2 Insufficient cpu.")
    d.post_filter_msg = ("preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
                         "2 No preemption victims found for incoming pod.")
    assert str(fw.FitError(3, d)).endswith("2 Insufficient cpu. preemption: 0/3 nodes are available: "
                                           "1 Preemption is not helpful for scheduling, "
                                           "2 No preemption victims found for incoming pod.")


def test_fit_error_message_absent_nodes_and_prefilter() -> None:
    d = diagnosis({"a": fw.unschedulable("Insufficient cpu")},
                  fw.unresolvable("node(s) didn't satisfy plugin(s) [NodeAffinity]"))
    assert str(fw.FitError(4, d)) == ("0/4 nodes are available: 1 Insufficient cpu, "
                                      "3 node(s) didn't satisfy plugin(s) [NodeAffinity].")
    d = fw.Diagnosis(pre_filter_msg="pod affinity terms conflict")
    assert str(fw.FitError(2, d)) == "0/2 nodes are available: pod affinity terms conflict."


def test_status_helpers() -> None:
    s = fw.unschedulable("a", "b")
    assert s.message() == "a, b" and s.is_rejected() and not s.is_success()
    assert fw.error_status("boom").message() == "boom" and not fw.error_status("x").is_rejected()
    assert fw.is_success(None) and fw.is_success(fw.SUCCESS) and not fw.is_success(s)


def test_cycle_state_clone_copies_cloneable_values() -> None:
    class Counts:
        def __init__(self, n: int) -> None:
            self.n = n

        def clone(self) -> Counts:
            return Counts(self.n)

    st = fw.CycleState()
    st.write("c", Counts(1))
    st.write("plain", [1])
    st.skip_filter_plugins.add("X")
    c = st.clone()
    c.read("c").n = 2
    assert st.read("c").n == 1 and c.read("plain") is st.read("plain") and c.skip_filter_plugins == {"X"}


def test_cluster_event_matching() -> None:
    reg = fw.ClusterEvent(fw.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_LABEL)
    assert reg.matches(fw.EVENT_NODE_ADD)
    assert not reg.matches(fw.ClusterEvent(fw.NODE, fw.ActionType.UPDATE_NODE_TAINT))
    assert not reg.matches(fw.EVENT_ASSIGNED_POD_ADD)
    assert fw.ClusterEvent(fw.WILDCARD, fw.ActionType.ALL).matches(fw.EVENT_ASSIGNED_POD_ADD)


def test_num_feasible_nodes_to_find() -> None:
    assert num_feasible_nodes_to_find(50, None) == 50
    assert num_feasible_nodes_to_find(500, None) == 230  # 50% - 500/125 = 46%
    assert num_feasible_nodes_to_find(5000, None) == 500  # 10%
    assert num_feasible_nodes_to_find(10000, None) == 500  # floor 5%
    assert num_feasible_nodes_to_find(150, None) == 100  # at least 100
    assert num_feasible_nodes_to_find(500, 10) == 100


def test_select_host_breaks_ties_randomly() -> None:
    nodes = [node_info(make_node(n)) for n in ("a", "b", "c")]
    assert select_host(nodes, [1, 5, 2], random.Random(0)) == "b"
    picks = {select_host(nodes, [3, 3, 1], random.Random(seed)) for seed in range(30)}
    assert picks == {"a", "b"}


def test_load_config() -> None:
    assert load_config(None).profiles[0].plugins == DEFAULT_PLUGINS
    cfg = load_config({"percentageOfNodesToScore": 20, "profiles": [
        {"schedulerName": "default-scheduler"},
        {"schedulerName": "packer",
         "plugins": {"multiPoint": {"enabled": [{"name": "NodeResourcesFit", "weight": 5}],
                                    "disabled": [{"name": "ImageLocality"}]}},
         "pluginConfig": [{"name": "NodeResourcesFit",
                           "args": {"scoringStrategy": {"type": "MostAllocated"}}}]}]})
    assert cfg.percentage_of_nodes_to_score == 20
    packer = cfg.profiles[1]
    names = [p.name for p in packer.plugins]
    assert "ImageLocality" not in names
    fit = next(p for p in packer.plugins if p.name == "NodeResourcesFit")
    assert fit.weight == 5 and fit.args["scoringStrategy"]["type"] == "MostAllocated"
