"""managedFields bookkeeping for ordinary writes, and server-side apply."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from pocketkube.api.schema import get_schema
from pocketkube.machinery.errors import StatusError
from pocketkube.machinery.fieldmanager import LAST_APPLIED, apply, update_managed_fields
from pocketkube.machinery.fieldpath import FieldSet, sort_elements

S = get_schema()


def root(group: str, version: str, kind: str) -> Any:
    name = S.name_for_gvk(group, version, kind)
    assert name
    return S.root(name)


DEPLOY = root("apps", "v1", "Deployment")
CM = root("", "v1", "ConfigMap")
POD = root("", "v1", "Pod")


def cm(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"},
            "data": dict(data)}


def deploy(replicas: int | None = 3, image: str = "nginx", labels: dict[str, str] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": image}]}}}}
    if replicas is not None:
        d["spec"]["replicas"] = replicas
    if labels:
        d["metadata"]["labels"] = labels
    return d


def update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, now: str = "T1", node: Any = CM,
           api_version: str = "v1", **kw: Any) -> dict[str, Any]:
    update_managed_fields(old, new, manager=manager, api_version=api_version, node=node, now=now, **kw)
    return new


def ssa(live: dict[str, Any] | None, cfg: dict[str, Any], manager: str = "m", now: str = "T1", force: bool = False,
        node: Any = DEPLOY, api_version: str = "apps/v1", **kw: Any) -> dict[str, Any]:
    return apply(live, cfg, manager=manager, force=force, api_version=api_version, node=node, now=now, **kw)


def canonical(tree: dict[str, Any]) -> bool:
    return list(tree) == sort_elements(tree) and all(canonical(v) for v in tree.values())


def entries(obj: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = [(e["manager"], e["operation"], e["fieldsV1"]) for e in obj["metadata"].get("managedFields", [])]
    assert all(canonical(f) for _, _, f in out), "fieldsV1 keys out of upstream order"
    return out


def edited(obj: dict[str, Any], **data: str) -> dict[str, Any]:
    new = copy.deepcopy(obj)
    new["data"] = dict(data)
    return new


# ---------------------------------------------------------------- updates

def test_create_records_update_entry() -> None:
    obj = update(None, cm(a="1"), "kubectl-create")
    assert obj["metadata"]["managedFields"] == [{
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1", "time": "T1",
        "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:a": {}}}}]


def test_second_manager_splits_ownership() -> None:
    first = update(None, cm(a="1", b="1"), "creator")
    second = update(first, edited(first, a="2", b="1", c="3"), "editor", now="T2")
    assert entries(second) == [
        ("creator", "Update", {"f:data": {".": {}, "f:b": {}}}),
        ("editor", "Update", {"f:data": {"f:a": {}, "f:c": {}}}),
    ]
    third = update(second, edited(second, b="1"), "editor", now="T3")  # a and c removed
    assert entries(third) == [("creator", "Update", {"f:data": {".": {}, "f:b": {}}})]


def test_same_manager_accumulates_and_bumps_time() -> None:
    first = update(None, cm(a="1"), "m")
    second = update(first, edited(first, a="1", b="2"), "m", now="T2")
    [e] = second["metadata"]["managedFields"]
    assert e["time"] == "T2" and e["fieldsV1"] == {"f:data": {".": {}, "f:a": {}, "f:b": {}}}


def test_noop_update_keeps_entries_identical() -> None:
    first = update(None, cm(a="1"), "m")
    new = copy.deepcopy(first)
    new["metadata"]["resourceVersion"] = "7"
    update(first, new, "someone-else", now="T9")
    assert new["metadata"]["managedFields"] == first["metadata"]["managedFields"]
    assert orjson.dumps(new["metadata"]["managedFields"]) == orjson.dumps(first["metadata"]["managedFields"])
    fresh = cm(a="1")  # a client that never saw managedFields
    update(first, fresh, "other", now="T9")
    assert fresh["metadata"]["managedFields"] is first["metadata"]["managedFields"]


@pytest.mark.parametrize("body", [[], [{}]])
def test_body_can_reset_managed_fields(body: list[Any]) -> None:
    first = update(None, cm(a="1"), "m")
    new = edited(first, a="1")
    new["metadata"]["managedFields"] = body
    update(first, new, "other", now="T2")
    assert "managedFields" not in new["metadata"]


def test_body_entries_are_honoured_and_garbage_ignored() -> None:
    first = update(None, cm(a="1"), "m")
    mine = [{"manager": "imported", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:a": {}}}}]
    new = edited(first, a="1")
    new["metadata"]["managedFields"] = mine
    update(first, new, "other", now="T2")
    assert entries(new) == [("imported", "Apply", {"f:data": {"f:a": {}}})]
    bad = edited(first, a="1")
    bad["metadata"]["managedFields"] = [{"manager": "x", "operation": "Bogus"}]
    update(first, bad, "other", now="T2")
    assert bad["metadata"]["managedFields"] == first["metadata"]["managedFields"]


def test_subresource_entries_and_body_ignored() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "i"}]}}
    created = update(None, pod, "kubectl-run", node=POD)
    new = copy.deepcopy(created)
    new["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    new["metadata"]["managedFields"] = []
    update(created, new, "kubelet", now="T2", node=POD, subresource="status")
    last = new["metadata"]["managedFields"][-1]
    assert last["manager"] == "kubelet" and last["subresource"] == "status"
    assert list(last) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1", "subresource"]
    assert last["fieldsV1"] == {"f:status": {"f:conditions": {".": {}, 'k:{"type":"Ready"}': {
        ".": {}, "f:status": {}, "f:type": {}}}, "f:phase": {}}}


def test_reset_fields_are_not_owned() -> None:
    old = update(None, deploy(), "creator", node=DEPLOY, api_version="apps/v1")
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 3}
    new["spec"]["replicas"] = 4
    update(old, new, "u", now="T2", node=DEPLOY, api_version="apps/v1",
           reset_fields=FieldSet.from_paths([("status",)]))
    assert entries(new)[-1] == ("u", "Update", {"f:spec": {"f:replicas": {}}})


def test_update_managers_are_capped() -> None:
    obj = update(None, cm(k0="0"), "m0", now="T00")
    for i in range(1, 13):
        new = edited(obj, **{f"k{j}": str(j) for j in range(i + 1)})
        obj = update(obj, new, f"m{i}", now=f"T{i:02d}")
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10 and managers[0] == "ancient-changes"
    assert obj["metadata"]["managedFields"][0]["fieldsV1"]["f:data"].keys() >= {"f:k0", "f:k1", "f:k2", "f:k3"}


# ---------------------------------------------------------------- apply

def test_apply_creates() -> None:
    obj = ssa(None, deploy(labels={"a": "1"}))
    assert obj["spec"]["replicas"] == 3 and obj["metadata"]["labels"] == {"a": "1"}
    assert obj["metadata"]["managedFields"] == [{
        "manager": "m", "operation": "Apply", "apiVersion": "apps/v1", "time": "T1", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {"f:a": {}}}, "f:spec": {
            "f:replicas": {}, "f:selector": {}, "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {'k:{"name":"nginx"}': {".": {}, "f:image": {}, "f:name": {}}}}}}}}]


def test_apply_twice_removes_dropped_fields() -> None:
    first = ssa(None, deploy(labels={"a": "1", "b": "2"}))
    second = ssa(first, deploy(replicas=None, labels={"a": "1"}), now="T2")
    assert second["metadata"]["labels"] == {"a": "1"} and "replicas" not in second["spec"]
    assert "f:replicas" not in second["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]
    unchanged = ssa(second, deploy(replicas=None, labels={"a": "1"}), now="T3")
    assert unchanged == second  # no change, no time bump


def test_conflict_with_update_manager() -> None:
    live = ssa(None, deploy())
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 5
    live = update(live, new, "kubectl-client-side-apply", now="T2", node=DEPLOY, api_version="apps/v1")
    with pytest.raises(StatusError) as e:
        ssa(live, deploy(replicas=3), now="T3")
    assert (e.value.code, e.value.reason) == (409, "Conflict")
    assert e.value.message == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
                               "using apps/v1: .spec.replicas")
    assert e.value.details == {"causes": [{"reason": "FieldManagerConflict", "field": ".spec.replicas",
                                           "message": 'conflict with "kubectl-client-side-apply" using apps/v1'}]}


def test_conflicts_grouped_by_manager() -> None:
    live = ssa(None, deploy(), manager="a")
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 5
    live = update(live, new, "b", now="T2", node=DEPLOY, api_version="apps/v1")
    with pytest.raises(StatusError) as e:
        ssa(live, deploy(replicas=2, image="httpd"), manager="c", now="T3")
    assert e.value.message == (
        'Apply failed with 2 conflicts: conflicts with "a":\n'
        '- .spec.template.spec.containers[name="nginx"].image\n'
        'conflicts with "b" using apps/v1:\n- .spec.replicas')
    assert e.value.details is not None
    assert [c["message"] for c in e.value.details["causes"]] == ['conflict with "a"', 'conflict with "b" using apps/v1']


def test_force_takes_ownership() -> None:
    live = ssa(None, deploy(), manager="a")
    won = ssa(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                     "spec": {"replicas": 7}}, manager="b", force=True, now="T2")
    assert won["spec"]["replicas"] == 7
    owners = {m: f for m, _, f in entries(won)}
    assert owners["b"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in owners["a"]["f:spec"]


def test_same_value_is_shared_and_survives_one_owner_leaving() -> None:
    live = ssa(None, deploy(), manager="a")
    cfg = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}}
    shared = ssa(live, cfg, manager="b", now="T2")
    owners = {m: f for m, _, f in entries(shared)}
    assert "f:replicas" in owners["a"]["f:spec"] and owners["b"] == {"f:spec": {"f:replicas": {}}}
    left = ssa(shared, deploy(replicas=None), manager="a", now="T3")
    assert left["spec"]["replicas"] == 3


def test_lists_merge_by_key_sets_union_atomic_replaced() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["a/x"]}, "spec": {
        "containers": [{"name": "a", "image": "i", "ports": [{"containerPort": 80}, {"containerPort": 53,
                                                                                    "protocol": "UDP"}]},
                       {"name": "b", "image": "j"}],
        "tolerations": [{"key": "k", "operator": "Exists"}]}}
    live = ssa(None, pod, manager="one", node=POD, api_version="v1")
    cfg = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["b/y"]}, "spec": {
        "containers": [{"name": "c", "image": "k"}, {"name": "a", "ports": [{"containerPort": 80,
                                                                             "protocol": "TCP"}]}],
        "tolerations": [{"key": "z", "operator": "Exists"}]}}
    out = ssa(live, cfg, manager="two", node=POD, api_version="v1", now="T2", force=True)
    assert [c["name"] for c in out["spec"]["containers"]] == ["c", "a", "b"]
    assert out["spec"]["containers"][1]["ports"] == [{"containerPort": 80, "protocol": "TCP"},
                                                     {"containerPort": 53, "protocol": "UDP"}]
    assert out["metadata"]["finalizers"] == ["a/x", "b/y"]
    assert out["spec"]["tolerations"] == [{"key": "z", "operator": "Exists"}]
    one = {m: f for m, _, f in entries(out)}["one"]
    assert "f:tolerations" not in one["f:spec"]
    ports = one["f:spec"]["f:containers"]['k:{"name":"a"}']["f:ports"]
    assert set(ports) == {'k:{"containerPort":53,"protocol":"UDP"}', 'k:{"containerPort":80,"protocol":"TCP"}'}


def test_dropped_list_element_is_pruned() -> None:
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                           "spec": {"containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "j"}]}}
    live = ssa(None, pod, node=POD, api_version="v1")
    del pod["spec"]["containers"][1]
    out = ssa(live, pod, node=POD, api_version="v1", now="T2")
    assert out["spec"]["containers"] == [{"name": "a", "image": "i"}]


def test_kubectl_takes_over_from_client_side_apply() -> None:
    manifest = deploy()
    obj = deploy()
    obj["metadata"]["annotations"] = {LAST_APPLIED: orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS).decode()}
    live = update(None, obj, "kubectl-client-side-apply", node=DEPLOY, api_version="apps/v1")
    out = ssa(live, deploy(replicas=5), manager="kubectl", now="T2")
    assert out["spec"]["replicas"] == 5
    assert orjson.loads(out["metadata"]["annotations"][LAST_APPLIED])["spec"]["replicas"] == 5
    with pytest.raises(StatusError):
        ssa(live, deploy(replicas=5), manager="someone-else", now="T2")


def test_entries_sorted_apply_first_then_time() -> None:
    live = update(None, deploy(), "creator", node=DEPLOY, api_version="apps/v1")
    out = ssa(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"x": "y"}}},
              manager="z-applier", now="T2")
    assert [(e["manager"], e["operation"]) for e in out["metadata"]["managedFields"]] == [
        ("z-applier", "Apply"), ("creator", "Update")]


@pytest.mark.parametrize(("cfg", "code", "message"), [
    ({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"}}, 400,
     "invalid object type: apps/v1, Kind=ReplicaSet"),
    ({"apiVersion": "v1", "kind": "Deployment", "metadata": {"name": "web"}}, 400,
     "invalid object type: /v1, Kind=Deployment"),
    ({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "managedFields": []}}, 400,
     "metadata.managedFields must be nil"),
    ({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"},
      "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}}, 500,
     "failed to create typed patch object (ns/web; apps/v1, Kind=Deployment): "
     '.spec.template.spec.containers: duplicate entries for key [name="a"]'),
])
def test_apply_rejects(cfg: dict[str, Any], code: int, message: str) -> None:
    with pytest.raises(StatusError) as e:
        ssa(None, cfg)
    assert (e.value.code, e.value.message) == (code, message)


def test_apply_does_not_mutate_inputs() -> None:
    live = ssa(None, deploy(labels={"a": "1"}))
    frozen_live = copy.deepcopy(live)
    cfg = deploy(replicas=4, labels={"b": "2"})
    frozen_cfg = copy.deepcopy(cfg)
    out = ssa(live, cfg, now="T2")
    out["spec"]["template"]["spec"]["containers"][0]["image"] = "changed"
    assert live == frozen_live and cfg == frozen_cfg
