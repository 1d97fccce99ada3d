"""The scheduler cache: assume/confirm/forget, expiry, incremental snapshots, node order."""

from __future__ import annotations

from pocketkube.scheduler.cache import Cache
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.snapshot import Snapshot
from pocketkube.scheduler.testing import make_node, make_pod

ZONE = "topology.kubernetes.io/zone"


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def bound(name: str, node: str, **kw: object) -> PodInfo:
    return PodInfo.of(make_pod(name, node_name=node, **kw))  # type: ignore[arg-type]


def test_assume_confirm_forget() -> None:
    c = Cache()
    c.add_node(make_node("n1"))
    pending = PodInfo.of(make_pod("p", cpu="1"))
    assumed = pending.with_node("n1")
    c.assume_pod(assumed)
    assert c.is_assumed(pending.uid) and c.nodes["n1"].requested.milli_cpu == 1000
    c.forget_pod(assumed)
    assert not c.is_assumed(pending.uid) and c.nodes["n1"].requested.milli_cpu == 0 and not c.nodes["n1"].pods
    c.assume_pod(assumed)
    c.finish_binding(assumed)
    c.add_pod(bound("p", "n1", cpu="1"))  # the informer confirms
    assert not c.is_assumed(pending.uid) and c.nodes["n1"].requested.milli_cpu == 1000 and c.pod_count() == 1


def test_confirm_on_another_node_moves_the_pod() -> None:
    c = Cache()
    c.add_node(make_node("n1"))
    c.add_node(make_node("n2"))
    c.assume_pod(PodInfo.of(make_pod("p", cpu="1")).with_node("n1"))
    c.add_pod(bound("p", "n2", cpu="1"))
    assert c.nodes["n1"].requested.milli_cpu == 0 and c.nodes["n2"].requested.milli_cpu == 1000


def test_assumed_pods_expire_only_with_a_ttl_after_binding() -> None:
    clock = Clock()
    c = Cache(assumed_ttl=30, clock=clock)
    c.add_node(make_node("n1"))
    a = PodInfo.of(make_pod("p")).with_node("n1")
    c.assume_pod(a)
    clock.t = 100
    assert c.cleanup_assumed_pods() == []  # binding not finished: never expires
    c.finish_binding(a)
    clock.t = 129
    assert c.cleanup_assumed_pods() == []
    clock.t = 131
    assert [p.name for p in c.cleanup_assumed_pods()] == ["p"] and not c.nodes["n1"].pods


def test_update_and_remove_pods() -> None:
    c = Cache()
    c.add_node(make_node("n1"))
    c.add_pod(bound("p", "n1", cpu="1", host_ports=[80]))
    c.update_pod(bound("p", "n1", cpu="2", host_ports=[81]))
    ni = c.nodes["n1"]
    assert ni.requested.milli_cpu == 2000 and ni.used_ports.conflicts("0.0.0.0", "TCP", 81)
    assert not ni.used_ports.conflicts("0.0.0.0", "TCP", 80)
    c.remove_pod(bound("p", "n1").uid)
    assert ni.requested.milli_cpu == 0 and len(ni.used_ports) == 0


def test_pods_before_their_node_and_after_its_removal() -> None:
    c = Cache()
    c.add_pod(bound("early", "n1", cpu="1"))
    snap = Snapshot()
    c.update_snapshot(snap)
    assert snap.num_nodes() == 0  # a node-less NodeInfo is hidden
    c.add_node(make_node("n1"))
    c.update_snapshot(snap)
    got = snap.get("n1")
    assert got is not None and got.requested.milli_cpu == 1000
    c.remove_node("n1")
    c.update_snapshot(snap)
    assert snap.num_nodes() == 0 and "n1" in c.nodes  # kept until its pods go
    c.remove_pod(bound("early", "n1").uid)
    assert "n1" not in c.nodes


def test_snapshot_copies_only_changed_nodes() -> None:
    c = Cache()
    for n in ("a", "b", "c"):
        c.add_node(make_node(n))
    snap = Snapshot()
    c.update_snapshot(snap)
    before = {n.name: n for n in snap.node_info_list}
    c.assume_pod(PodInfo.of(make_pod("p", cpu="1")).with_node("b"))
    c.update_snapshot(snap)
    after = {n.name: n for n in snap.node_info_list}
    assert after["a"] is before["a"] and after["c"] is before["c"] and after["b"] is not before["b"]
    assert after["b"].requested.milli_cpu == 1000 and before["b"].requested.milli_cpu == 0
    assert [n.name for n in snap.node_info_list] == ["a", "b", "c"]


def test_side_lists_follow_affinity_pods() -> None:
    c = Cache()
    c.add_node(make_node("a"))
    c.add_node(make_node("b"))
    snap = Snapshot()
    c.update_snapshot(snap)
    assert snap.have_pods_with_affinity == []
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    c.add_pod(bound("x", "b", affinity=anti))
    c.update_snapshot(snap)
    assert [n.name for n in snap.have_pods_with_required_anti_affinity] == ["b"]
    assert snap.have_pods_with_affinity[0] is snap.get("b")
    c.remove_pod(bound("x", "b").uid)
    c.update_snapshot(snap)
    assert snap.have_pods_with_required_anti_affinity == []


def test_node_order_interleaves_zones() -> None:
    c = Cache()
    for name, zone in (("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("c1", "c"), ("b2", "b")):
        c.add_node(make_node(name, labels={ZONE: zone}))
    assert c.node_order() == ["a1", "b1", "c1", "a2", "b2", "a3"]
    c.update_node(make_node("a1", labels={ZONE: "c"}))  # moving zone reorders
    assert c.node_order() == ["a2", "b1", "c1", "a3", "b2", "a1"]
    heartbeat = make_node("b1", labels={ZONE: "b"})
    c.update_node(heartbeat)
    snap = Snapshot()
    c.update_snapshot(snap)
    assert [n.name for n in snap.node_info_list] == c.node_order()
