"""PodTopologySpread: DoNotSchedule filtering, ScheduleAnyway scoring, default constraints."""

from __future__ import annotations

from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.handle import StaticListers
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.plugins.podtopologyspread import PodTopologySpread, common
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.snapshot import Snapshot
from pocketkube.scheduler.testing import PluginHandle, make_node, make_pod, node_info

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
NOT_MATCH = "node(s) didn't match pod topology spread constraints"
MISSING = "node(s) didn't match pod topology spread constraints (missing required label)"


def spread(key: str, max_skew: int = 1, when: str = "DoNotSchedule", **match: str) -> dict[str, Any]:
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": dict(match)}}


def app(name: str, **kw: Any) -> dict[str, Any]:
    return make_pod(name, labels={"app": "web"}, **kw)


def zoned(name: str, zone: str | None, *pods: dict[str, Any]) -> NodeInfo:
    return node_info(make_node(name, labels={ZONE: zone} if zone else {}), *pods)


def filter_all(pod: dict[str, Any], nodes: list[NodeInfo]) -> dict[str, Any]:
    snap = Snapshot.of(nodes)
    plugin = PodTopologySpread({}, PluginHandle(snap))
    state = fw.CycleState()
    pi = PodInfo.of(pod)
    _, s = plugin.pre_filter(state, pi, snap.node_info_list)
    if s is fw.SKIP:
        return {n.name: "skip" for n in nodes}
    return {n.name: None if (st := plugin.filter(state, pi, n)) is None else (st.code, st.reasons[0]) for n in nodes}


def test_zone_skew() -> None:
    nodes = [zoned("n1", "a", app("w1"), app("w2")), zoned("n2", "b", app("w3")), zoned("n3", "c")]
    pod = app("new", spread=[spread(ZONE, app="web")])
    # counts a=2 b=1 c=0, min 0: a -> 3, b -> 2 exceed maxSkew 1
    assert filter_all(pod, nodes) == {"n1": (fw.Code.UNSCHEDULABLE, NOT_MATCH),
                                      "n2": (fw.Code.UNSCHEDULABLE, NOT_MATCH), "n3": None}
    loose = app("new", spread=[spread(ZONE, max_skew=2, app="web")])
    assert filter_all(loose, nodes) == {"n1": (fw.Code.UNSCHEDULABLE, NOT_MATCH), "n2": None, "n3": None}


def test_missing_label_and_self_match() -> None:
    nodes = [zoned("n1", "a", app("w1")), zoned("n2", None)]
    got = filter_all(app("new", spread=[spread(ZONE, app="web")]), nodes)
    assert got["n2"] == (fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, MISSING)
    # a pod not matching its own selector does not add itself to the skew
    other = make_pod("x", labels={"app": "other"}, spread=[spread(ZONE, app="web")])
    assert filter_all(other, [zoned("n1", "a", app("w1")), zoned("n3", "b")]) == {"n1": None, "n3": None}


def test_min_domains() -> None:
    nodes = [zoned("n1", "a", app("w1")), zoned("n2", "b", app("w2"))]
    c = spread(ZONE, app="web") | {"minDomains": 3}
    # only 2 domains < minDomains 3: the global minimum is 0, so 1 + 1 - 0 > 1 everywhere
    assert set(filter_all(app("new", spread=[c]), nodes).values()) == {(fw.Code.UNSCHEDULABLE, NOT_MATCH)}


def test_skip_without_constraints() -> None:
    assert set(filter_all(app("new"), [zoned("n1", "a")]).values()) == {"skip"}


def test_node_affinity_policy_honored() -> None:
    nodes = [zoned("n1", "a", app("w1")), node_info(make_node("n2", labels={ZONE: "b", "pool": "x"}))]
    pod = app("new", spread=[spread(ZONE, app="web")], node_selector={"pool": "y"})
    # n2 is not eligible for the pod (nodeSelector), so zone b does not count as an empty domain
    got = filter_all(pod, nodes)
    assert got["n1"] is None


def score_all(pod: dict[str, Any], nodes: list[NodeInfo], listers: StaticListers | None = None) -> list[int] | None:
    snap = Snapshot.of(nodes)
    plugin = PodTopologySpread({}, PluginHandle(snap, listers or StaticListers()))
    state = fw.CycleState()
    pi = PodInfo.of(pod)
    if plugin.pre_score(state, pi, nodes) is fw.SKIP:
        return None
    scores = [fw.NodeScore(n.name, v) for n, v in zip(nodes, plugin.score_nodes(state, pi, nodes), strict=True)]
    plugin.normalize_score(state, pi, scores)
    return [s.score for s in scores]


def test_schedule_anyway_scoring() -> None:
    nodes = [zoned("n1", "a", app("w1"), app("w2")), zoned("n2", "b", app("w3")), zoned("n3", "c")]
    pod = app("new", spread=[spread(ZONE, when="ScheduleAnyway", app="web")])
    # weight log(3+2); raw = count*w: 3.22, 1.61, 0 -> rounded 3, 2, 0; normalized 100*(3+0-s)/3
    assert score_all(pod, nodes) == [0, 33, 100]


def test_default_constraints_from_owner() -> None:
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": "web-rs", "namespace": "default", "uid": "rs1"},
          "spec": {"selector": {"matchLabels": {"app": "web"}}}}
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-rs", "uid": "rs1"}
    listers = StaticListers({"replicasets": [rs]})
    nodes = [zoned("n1", "a", app("w1", owner=owner), app("w2", owner=owner)), zoned("n2", "a"), zoned("n3", "b")]
    scores = score_all(app("new", owner=owner), nodes, listers)
    assert scores is not None and scores[0] < scores[1] and scores[0] < scores[2]
    assert score_all(app("lonely"), nodes, listers) is None  # no owner, no service: no default spreading
    sel = common.default_selector(PodInfo.of(app("new", owner=owner)), listers)
    assert sel.matches({"app": "web"}) and not sel.matches({"app": "db"})


def test_match_counter_memo_tracks_generation() -> None:
    counter = common.MatchCounter()
    ni = zoned("n1", "a", app("w1"))
    sel = common.constraints_of([spread(ZONE, app="web")], {}, "DoNotSchedule")[0].selector
    assert counter.count(ni, sel, "default") == 1
    ni.add_pod(PodInfo.of(app("w2")).with_node("n1"))
    assert counter.count(ni, sel, "default") == 2
    assert counter.count(ni, sel, "other") == 0
