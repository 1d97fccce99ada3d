"""The garbage collector's pure dependency graph: what each informer event or verdict queues."""

from __future__ import annotations

from typing import Any

from pocketkube.controllers.garbagecollector import graph as g


class Recorder:
    def __init__(self) -> None:
        self.deletes: list[str] = []
        self.orphans: list[str] = []
        self.invalid: list[tuple[g.Identity, g.Identity]] = []

    def attempt_to_delete(self, uid: str) -> None:
        self.deletes.append(uid)

    def attempt_to_orphan(self, uid: str) -> None:
        self.orphans.append(uid)

    def invalid_namespace_owner_ref(self, dependent: g.Identity, owner: g.Identity) -> None:
        self.invalid.append((dependent, owner))


def meta(name: str, uid: str, ns: str = "ns", owners: list[dict[str, Any]] | None = None,
         **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "uid": uid, **extra}
    if ns:
        m["namespace"] = ns
    if owners:
        m["ownerReferences"] = owners
    return m


def ref(name: str, uid: str, kind: str = "ConfigMap", api_version: str = "v1", block: bool | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid}
    if block is not None:
        r["blockOwnerDeletion"] = block
    return r


def fresh() -> tuple[g.Graph, Recorder]:
    sink = Recorder()
    return g.Graph(sink), sink


def test_dependent_before_owner_creates_a_virtual_owner_that_becomes_observed() -> None:
    graph, sink = fresh()
    graph.observe(g.ADD, "v1", "ConfigMap", meta("child", "c1", owners=[ref("parent", "p1")]))
    owner = graph.get("p1")
    assert owner is not None and owner.virtual and owner.dependents == {"c1"}
    assert owner.identity == g.Identity("v1", "ConfigMap", "parent", "p1", "ns")
    assert sink.deletes == ["p1"]
    graph.observe(g.ADD, "v1", "ConfigMap", meta("parent", "p1"))
    assert not owner.virtual and graph.get("p1") is owner and sink.deletes == ["p1"]


def test_owner_deletion_queues_dependents_and_remembers_the_absent_owner() -> None:
    graph, sink = fresh()
    graph.observe(g.ADD, "v1", "ConfigMap", meta("parent", "p1"))
    graph.observe(g.ADD, "v1", "ConfigMap", meta("a", "c1", owners=[ref("parent", "p1")]))
    graph.observe(g.ADD, "v1", "ConfigMap", meta("b", "c2", owners=[ref("parent", "p1")]))
    assert sink.deletes == []
    graph.observe(g.DELETE, "v1", "ConfigMap", meta("parent", "p1"))
    assert sorted(sink.deletes) == ["c1", "c2"] and graph.get("p1") is None
    assert g.Identity("v1", "ConfigMap", "parent", "p1", "ns") in graph.absent


def test_orphan_and_foreground_transitions() -> None:
    graph, sink = fresh()
    graph.observe(g.ADD, "apps/v1", "ReplicaSet", meta("rs", "r1"))
    graph.observe(g.ADD, "v1", "Pod", meta("p", "c1", owners=[ref("rs", "r1", "ReplicaSet", "apps/v1", True)]))
    old = meta("rs", "r1")
    orphaning = meta("rs", "r1", deletionTimestamp="2024-01-01T00:00:00Z", finalizers=["orphan"])
    graph.observe(g.UPDATE, "apps/v1", "ReplicaSet", orphaning, old)
    graph.observe(g.UPDATE, "apps/v1", "ReplicaSet", orphaning, orphaning)  # no new transition
    assert sink.orphans == ["r1"] and sink.deletes == []

    graph.observe(g.ADD, "apps/v1", "Deployment", meta("d", "d1"))
    graph.observe(g.UPDATE, "apps/v1", "ReplicaSet", meta("rs", "r1", owners=[ref("d", "d1", "Deployment",
                                                                                  "apps/v1", True)]), old)
    fg = meta("d", "d1", deletionTimestamp="2024-01-01T00:00:00Z", finalizers=["foregroundDeletion"])
    graph.observe(g.UPDATE, "apps/v1", "Deployment", fg, meta("d", "d1"))
    node = graph.get("d1")
    assert node is not None and node.deleting_dependents and node.being_deleted
    assert sink.deletes == ["r1", "d1"]
    assert [d.identity.uid for d in graph.blocking_dependents(node)] == ["r1"]


def test_removing_a_blocking_reference_requeues_the_owner() -> None:
    graph, sink = fresh()
    graph.observe(g.ADD, "v1", "ConfigMap", meta("o", "o1"))
    child = meta("c", "c1", owners=[ref("o", "o1", block=True)])
    graph.observe(g.ADD, "v1", "ConfigMap", child)
    graph.observe(g.UPDATE, "v1", "ConfigMap", meta("c", "c1", owners=[ref("o", "o1", block=False)]), child)
    assert sink.deletes == ["o1"]
    owner = graph.get("o1")
    assert owner is not None and graph.blocking_dependents(owner) == [] and owner.dependents == {"c1"}
    graph.observe(g.UPDATE, "v1", "ConfigMap", meta("c", "c1"), child)
    assert owner.dependents == set()


def test_virtual_delete_removes_a_virtual_owner_and_queues_its_dependents() -> None:
    graph, sink = fresh()
    graph.observe(g.ADD, "v1", "ConfigMap", meta("child", "c1", owners=[ref("ghost", "x1")]))
    sink.deletes.clear()
    graph.virtual_delete(g.Identity("v1", "ConfigMap", "ghost", "x1", "ns"))
    assert graph.get("x1") is None and sink.deletes == ["c1"]
    graph.virtual_delete(g.Identity("v1", "ConfigMap", "ghost", "x1", "ns"))  # unknown uid: nothing
    assert sink.deletes == ["c1"]


def test_virtual_delete_with_disagreeing_dependents_switches_to_the_other_identity() -> None:
    graph, sink = fresh()
    graph.observe(g.ADD, "v1", "ConfigMap", meta("a", "c1", owners=[ref("own", "x1", "Secret")]))
    graph.observe(g.ADD, "v1", "ConfigMap", meta("b", "c2", owners=[ref("own", "x1")]))
    sink.deletes.clear()
    absent = g.Identity("v1", "Secret", "own", "x1", "ns")
    graph.virtual_delete(absent)
    node = graph.get("x1")
    assert node is not None and node.identity.kind == "ConfigMap"
    assert absent in graph.absent and sink.deletes == ["c1", "x1"]


def test_observed_owner_in_another_namespace_is_reported() -> None:
    graph, sink = fresh()
    graph.observe(g.ADD, "v1", "ConfigMap", meta("owner", "o1", ns="other"))
    graph.observe(g.ADD, "v1", "ConfigMap", meta("child", "c1", owners=[ref("owner", "o1")]))
    assert sink.invalid == [(g.Identity("v1", "ConfigMap", "child", "c1", "ns"),
                             g.Identity("v1", "ConfigMap", "owner", "o1", "ns"))]
    assert sink.deletes == ["c1"]
    assert str(sink.invalid[0][1]) == "[v1/ConfigMap, namespace: ns, name: owner, uid: o1]"


def test_child_seen_first_then_owner_observed_elsewhere_is_reported() -> None:
    graph, sink = fresh()
    graph.observe(g.ADD, "v1", "ConfigMap", meta("child", "c1", owners=[ref("owner", "o1")]))
    graph.observe(g.ADD, "v1", "ConfigMap", meta("owner", "o1", ns="other"))
    assert len(sink.invalid) == 1 and sink.deletes == ["o1", "c1"]


def test_cluster_scoped_owner_of_namespaced_dependents() -> None:
    graph, sink = fresh()
    graph.observe(g.ADD, "v1", "Node", meta("n1", "n1", ns=""))
    graph.observe(g.ADD, "v1", "Pod", meta("p", "c1", owners=[ref("n1", "n1", "Node")]))
    assert sink.deletes == [] and sink.invalid == []
    graph.observe(g.DELETE, "v1", "Node", meta("n1", "n1", ns=""))
    assert sink.deletes == ["c1"]


def test_deleting_a_dependent_requeues_an_owner_waiting_for_it() -> None:
    graph, sink = fresh()
    fg = meta("o", "o1", deletionTimestamp="2024-01-01T00:00:00Z", finalizers=["foregroundDeletion"])
    graph.observe(g.ADD, "v1", "ConfigMap", fg)
    graph.observe(g.ADD, "v1", "ConfigMap", meta("c", "c1", owners=[ref("o", "o1", block=True)]))
    assert sink.deletes == ["o1"]
    graph.observe(g.DELETE, "v1", "ConfigMap", meta("c", "c1", owners=[ref("o", "o1", block=True)]))
    assert sink.deletes == ["o1", "o1"]


def test_absent_cache_is_a_bounded_lru() -> None:
    cache = g.AbsentOwnerCache(2)
    a, b, c = (g.Identity("v1", "ConfigMap", n, n) for n in "abc")
    cache.add(a)
    cache.add(b)
    assert a in cache  # refreshes a
    cache.add(c)
    assert a in cache and c in cache and b not in cache and len(cache) == 2
