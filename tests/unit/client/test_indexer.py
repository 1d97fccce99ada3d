"""The informer store: secondary indexes, copies and the mutation detector."""

from __future__ import annotations

from typing import Any

import pytest

from pocketkube.client.indexer import (
    CONTROLLER_UID_INDEX,
    NAMESPACE_INDEX,
    NODE_NAME_INDEX,
    OWNER_UID_INDEX,
    CacheMutationError,
    Indexer,
    deep_copy,
    index_by_controller_uid,
    index_by_label,
    index_by_node_name,
    index_by_owner_uid,
)


def pod(name: str, ns: str = "default", node: str = "", owner: str = "", controller: bool = True,
        labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "controller": controller, "kind": "ReplicaSet", "name": "rs"}]
    return {"metadata": meta, "spec": {"nodeName": node} if node else {}}


def test_indexes_follow_upserts_and_deletes() -> None:
    idx = Indexer({CONTROLLER_UID_INDEX: index_by_controller_uid, NODE_NAME_INDEX: index_by_node_name,
                   OWNER_UID_INDEX: index_by_owner_uid, "app": index_by_label("app")})
    idx.upsert("a/p1", pod("p1", "a", node="n1", owner="u1", labels={"app": "web"}))
    idx.upsert("a/p2", pod("p2", "a", owner="u1", controller=False))
    idx.upsert("b/p3", pod("p3", "b", node="n1"))
    assert [p["metadata"]["name"] for p in idx.by_index(NAMESPACE_INDEX, "a")] == ["p1", "p2"]
    assert idx.index_keys(CONTROLLER_UID_INDEX, "u1") == ["a/p1"]
    assert idx.index_keys(CONTROLLER_UID_INDEX, "") == ["a/p2", "b/p3"]  # orphans under ""
    assert idx.index_keys(OWNER_UID_INDEX, "u1") == ["a/p1", "a/p2"]
    assert idx.index_keys(NODE_NAME_INDEX, "n1") == ["a/p1", "b/p3"]
    assert idx.index_keys("app", "web") == ["a/p1"]

    idx.upsert("a/p1", pod("p1", "a", node="n2"))  # moved and orphaned
    assert idx.index_keys(NODE_NAME_INDEX, "n1") == ["b/p3"]
    assert idx.index_keys(NODE_NAME_INDEX, "n2") == ["a/p1"]
    assert idx.index_keys(CONTROLLER_UID_INDEX, "u1") == []
    idx.delete("b/p3")
    assert idx.index_values(NODE_NAME_INDEX) == ["n2"]
    assert idx.index_keys(NAMESPACE_INDEX, "b") == []
    with pytest.raises(KeyError):
        idx.by_index("missing", "x")


def test_index_added_later_is_built_and_re_adding_is_idempotent() -> None:
    idx = Indexer()
    idx.upsert("a/p1", pod("p1", "a", node="n1"))
    idx.add_indexers({NODE_NAME_INDEX: index_by_node_name})
    idx.add_indexers({NODE_NAME_INDEX: index_by_node_name})
    assert idx.index_keys(NODE_NAME_INDEX, "n1") == ["a/p1"]
    with pytest.raises(ValueError):
        idx.add_indexers({NODE_NAME_INDEX: index_by_label("x")})


def test_replace_swaps_contents() -> None:
    idx = Indexer()
    idx.upsert("a/p1", pod("p1", "a"))
    idx.replace({"b/p2": pod("p2", "b")})
    assert idx.keys() == ["b/p2"]
    assert idx.index_keys(NAMESPACE_INDEX, "a") == []


def test_deep_copy_is_independent() -> None:
    original = pod("p", labels={"a": "1"})
    copied = deep_copy(original)
    copied["metadata"]["labels"]["a"] = "2"
    assert original["metadata"]["labels"]["a"] == "1"


def test_mutation_detector() -> None:
    idx = Indexer(detect_mutation=True)
    obj = pod("p1", "a")
    idx.upsert("a/p1", obj)
    idx.check_mutations()
    obj["metadata"]["labels"]["oops"] = "x"
    with pytest.raises(CacheMutationError):
        idx.check_mutations()
    with pytest.raises(CacheMutationError):
        idx.upsert("a/p1", pod("p1", "a"))


def test_mutation_detector_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POCKETKUBE_CACHE_MUTATION_DETECTOR", "true")
    assert Indexer().detect_mutation
    monkeypatch.delenv("POCKETKUBE_CACHE_MUTATION_DETECTOR")
    assert not Indexer().detect_mutation
