"""InterPodAffinity: required affinity/anti-affinity filtering and preferred scoring."""

from __future__ import annotations

from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.handle import StaticListers
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.plugins.interpodaffinity import InterPodAffinity
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.snapshot import Snapshot
from pocketkube.scheduler.testing import PluginHandle, make_node, make_pod, node_info

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
AFFINITY = "node(s) didn't match pod affinity rules"
ANTI = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI = "node(s) didn't satisfy existing pods anti-affinity rules"


def term(key: str = HOST, **match: str) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": dict(match)}, "topologyKey": key}


def required(kind: str, *terms: dict[str, Any]) -> dict[str, Any]:
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def filter_all(pod: dict[str, Any], nodes: list[NodeInfo], listers: StaticListers | None = None) -> dict[str, Any]:
    snap = Snapshot.of(nodes)
    plugin = InterPodAffinity({}, PluginHandle(snap, listers or StaticListers()))
    state = fw.CycleState()
    pi = PodInfo.of(pod)
    _, s = plugin.pre_filter(state, pi, snap.node_info_list)
    if s is fw.SKIP:
        return {n.name: None for n in nodes}
    out = {}
    for n in nodes:
        st = plugin.filter(state, pi, n)
        out[n.name] = None if st is None else (st.code, st.reasons[0])
    return out


def zoned(name: str, zone: str, *pods: dict[str, Any]) -> NodeInfo:
    return node_info(make_node(name, labels={ZONE: zone}), *pods)


def test_required_anti_affinity_spreads_replicas() -> None:
    nodes = [zoned("n1", "a", make_pod("web-1", labels={"app": "web"})), zoned("n2", "a"), zoned("n3", "b")]
    pod = make_pod("web-2", labels={"app": "web"}, affinity=required("podAntiAffinity", term(app="web")))
    got = filter_all(pod, nodes)
    assert got == {"n1": (fw.Code.UNSCHEDULABLE, ANTI), "n2": None, "n3": None}
    zone_pod = make_pod("web-2", labels={"app": "web"}, affinity=required("podAntiAffinity", term(ZONE, app="web")))
    assert filter_all(zone_pod, nodes) == {"n1": (fw.Code.UNSCHEDULABLE, ANTI), "n2": (fw.Code.UNSCHEDULABLE, ANTI),
                                           "n3": None}


def test_required_affinity() -> None:
    nodes = [zoned("n1", "a", make_pod("db", labels={"app": "db"})), zoned("n2", "a"), zoned("n3", "b")]
    pod = make_pod("web", affinity=required("podAffinity", term(ZONE, app="db")))
    assert filter_all(pod, nodes) == {"n1": None, "n2": None,
                                      "n3": (fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, AFFINITY)}
    # node lacking the topology key never satisfies affinity
    bare = node_info(make_node("n4"))
    assert filter_all(pod, [*nodes, bare])["n4"] == (fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, AFFINITY)


def test_first_pod_of_self_affine_group_schedules() -> None:
    nodes = [zoned("n1", "a"), zoned("n2", "b")]
    pod = make_pod("web-1", labels={"app": "web"}, affinity=required("podAffinity", term(ZONE, app="web")))
    assert filter_all(pod, nodes) == {"n1": None, "n2": None}
    lonely = make_pod("x", labels={"app": "x"}, affinity=required("podAffinity", term(ZONE, app="web")))
    assert all(v == (fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, AFFINITY) for v in filter_all(lonely, nodes).values())


def test_existing_pods_anti_affinity() -> None:
    guard = make_pod("guard", labels={"app": "guard"}, affinity=required("podAntiAffinity", term(ZONE, app="web")))
    nodes = [zoned("n1", "a", guard), zoned("n2", "a"), zoned("n3", "b")]
    got = filter_all(make_pod("web", labels={"app": "web"}), nodes)
    assert got == {"n1": (fw.Code.UNSCHEDULABLE, EXISTING_ANTI), "n2": (fw.Code.UNSCHEDULABLE, EXISTING_ANTI),
                   "n3": None}
    # pods the term does not select are unaffected; so are pods in other namespaces
    assert filter_all(make_pod("db", labels={"app": "db"}), nodes)["n1"] is None
    assert filter_all(make_pod("web", namespace="other", labels={"app": "web"}), nodes)["n1"] is None


def test_namespace_selector() -> None:
    listers = StaticListers({"namespaces": [
        {"metadata": {"name": "prod", "labels": {"env": "prod"}}},
        {"metadata": {"name": "dev", "labels": {"env": "dev"}}}]})
    nodes = [zoned("n1", "a", make_pod("db", namespace="prod", labels={"app": "db"})), zoned("n2", "b")]
    t = term(ZONE, app="db") | {"namespaceSelector": {"matchLabels": {"env": "prod"}}}
    pod = make_pod("web", namespace="dev", affinity=required("podAffinity", t))
    assert filter_all(pod, nodes, listers) == {"n1": None, "n2": (fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, AFFINITY)}


def test_preferred_scoring() -> None:
    pref = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "podAffinityTerm": term(ZONE, app="db")}]},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 5, "podAffinityTerm": term(HOST, app="web")}]}}
    nodes = [zoned("n1", "a", make_pod("db", labels={"app": "db"}), make_pod("w", labels={"app": "web"})),
             zoned("n2", "a"), zoned("n3", "b")]
    snap = Snapshot.of(nodes)
    plugin = InterPodAffinity({}, PluginHandle(snap))
    state = fw.CycleState()
    pi = PodInfo.of(make_pod("web", labels={"app": "web"}, affinity=pref))
    assert plugin.pre_score(state, pi, nodes) is None
    scores = [fw.NodeScore(n.name, plugin.score(state, pi, n)) for n in nodes]
    assert [s.score for s in scores] == [5, 10, 0]
    plugin.normalize_score(state, pi, scores)
    assert [s.score for s in scores] == [50, 100, 0]
    # nothing to score: Skip
    assert plugin.pre_score(fw.CycleState(), PodInfo.of(make_pod("x")), nodes) is fw.SKIP
