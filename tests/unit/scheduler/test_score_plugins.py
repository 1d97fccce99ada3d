"""Score plugins: upstream formulas and the numbers of upstream's own test tables."""

from __future__ import annotations

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.plugins import imagelocality, nodeaffinity, tainttoleration
from pocketkube.scheduler.plugins import resourcescoring as rs
from pocketkube.scheduler.plugins.noderesources import NodeResourcesBalancedAllocation, NodeResourcesFit
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.testing import make_node, make_pod, node_info


def run_score(plugin: object, pod: dict, nodes: list) -> list[int]:  # type: ignore[type-arg]
    state = fw.CycleState()
    pi = PodInfo.of(pod)
    s = plugin.pre_score(state, pi, nodes)  # type: ignore[attr-defined]
    if s is not None and s.code == fw.Code.SKIP:
        return []
    scores = [fw.NodeScore(n.name, plugin.score(state, pi, n)) for n in nodes]  # type: ignore[attr-defined]
    if hasattr(plugin, "normalize_score"):
        plugin.normalize_score(state, pi, scores)
    return [s.score for s in scores]


def test_least_allocated_upstream_table() -> None:
    # least_allocated_test.go "nothing scheduled, resources requested, differently sized nodes"
    nodes = [node_info(make_node("n1", cpu="4", memory="10000")), node_info(make_node("n2", cpu="6", memory="10000"))]
    pod = make_pod("p", cpu="3", memory="5000")
    assert run_score(NodeResourcesFit({}, None), pod, nodes) == [37, 50]
    assert rs.least_allocated([3000, 5000], [4000, 10000], [1, 1]) == 37
    assert rs.least_allocated([5000, 5000], [4000, 10000], [1, 1]) == 25  # over capacity scores 0 for cpu


def test_least_allocated_uses_non_zero_requests() -> None:
    nodes = [node_info(make_node("n1", cpu="1", memory="1Gi")), node_info(make_node("n2", cpu="1", memory="1Gi"),
                                                                          make_pod("e"))]
    # a request-less pod counts as 100m/200Mi: n2 already holds one
    assert run_score(NodeResourcesFit({}, None), make_pod("p"), nodes) == [85, 70]


def test_most_allocated() -> None:
    args = {"scoringStrategy": {"type": "MostAllocated"}}
    nodes = [node_info(make_node("n1", cpu="4", memory="10000")), node_info(make_node("n2", cpu="6", memory="10000"))]
    assert run_score(NodeResourcesFit(args, None), make_pod("p", cpu="3", memory="5000"), nodes) == [62, 50]


def test_balanced_allocation() -> None:
    nodes = [node_info(make_node("n1", cpu="4", memory="10000")), node_info(make_node("n2", cpu="6", memory="10000"))]
    assert run_score(NodeResourcesBalancedAllocation({}, None), make_pod("p", cpu="3", memory="5000"), nodes) == [
        87, 100]
    assert rs.balanced([3000, 5000, 1], [4000, 10000, 4]) == 79
    # best-effort pods skip the plugin
    assert run_score(NodeResourcesBalancedAllocation({}, None), make_pod("p"), nodes) == []


def test_taint_toleration_score() -> None:
    prefer = [{"key": "a", "value": "1", "effect": "PreferNoSchedule"},
              {"key": "b", "value": "1", "effect": "PreferNoSchedule"}]
    nodes = [node_info(make_node("n0")), node_info(make_node("n1", taints=prefer[:1])),
             node_info(make_node("n2", taints=prefer))]
    plugin = tainttoleration.TaintToleration({}, None)
    assert run_score(plugin, make_pod("p"), nodes) == [100, 50, 0]
    tolerant = make_pod("p", tolerations=[{"key": "b", "operator": "Exists", "effect": "PreferNoSchedule"}])
    assert run_score(plugin, tolerant, nodes) == [100, 0, 0]


def test_node_affinity_preferred() -> None:
    pref = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 2, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
        {"weight": 8, "preference": {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}}]}}
    nodes = [node_info(make_node("a")), node_info(make_node("b", labels={"disk": "ssd"})),
             node_info(make_node("c", labels={"disk": "ssd", "gpu": "1"}))]
    assert run_score(nodeaffinity.NodeAffinity({}, None), make_pod("p", affinity=pref), nodes) == [0, 20, 100]
    assert run_score(nodeaffinity.NodeAffinity({}, None), make_pod("p"), nodes) == []


def test_default_normalize_score() -> None:
    scores = [fw.NodeScore("a", 0), fw.NodeScore("b", 3), fw.NodeScore("c", 6)]
    fw.default_normalize_score(100, False, scores)
    assert [s.score for s in scores] == [0, 50, 100]
    scores = [fw.NodeScore("a", 0), fw.NodeScore("b", 0)]
    fw.default_normalize_score(100, True, scores)
    assert [s.score for s in scores] == [100, 100]


def test_image_locality() -> None:
    mb = 1024 * 1024
    assert imagelocality.normalized_image_name("nginx") == "nginx:latest"
    assert imagelocality.normalized_image_name("localhost:5000/nginx") == "localhost:5000/nginx:latest"
    assert imagelocality.normalized_image_name("nginx:1.25") == "nginx:1.25"
    images = {"gcr.io/big:latest": 500 * mb}
    spec = make_pod("p", image="gcr.io/big")["spec"]
    # present on 1 of 2 nodes: 250 MiB scaled; (250 - 23) * 100 / (1000 - 23)
    assert imagelocality.image_score(spec, images, {"gcr.io/big:latest": 1}, 2) == 23
    assert imagelocality.image_score(spec, {}, {}, 2) == 0
