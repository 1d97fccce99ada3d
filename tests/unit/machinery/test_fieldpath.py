"""Field sets: ownership of values, FieldsV1 form, set algebra, paths, comparison."""

from __future__ import annotations

from typing import Any

import pytest

from pocketkube.api.schema import get_schema
from pocketkube.machinery.fieldpath import (
    CUSTOM_RESOURCE,
    DEDUCED,
    FieldPathError,
    FieldSet,
    compare_objects,
    ensure_named_members,
    fieldset_of,
    go_quote,
    zero_object,
)

S = get_schema()


def root(group: str, version: str, kind: str) -> Any:
    name = S.name_for_gvk(group, version, kind)
    assert name
    return S.root(name)


POD = root("", "v1", "Pod")
DEPLOY = root("apps", "v1", "Deployment")
CM = root("", "v1", "ConfigMap")
SVC = root("", "v1", "Service")


@pytest.mark.parametrize(("obj", "node", "want"), [
    pytest.param({"data": {"a": "1", "b": "2"}}, CM, {"f:data": {"f:a": {}, "f:b": {}}}, id="map-entries"),
    pytest.param({"data": {}}, CM, {"f:data": {}}, id="empty-map-is-member"),
    pytest.param({"data": None}, CM, {"f:data": {}}, id="null-is-member"),
    pytest.param({"metadata": {"finalizers": []}}, POD, {}, id="empty-set-owns-nothing"),
    pytest.param({"metadata": {"labels": {"app": "x"}, "finalizers": ["b", "a"]}}, POD,
                 {"f:metadata": {"f:finalizers": {'v:"a"': {}, 'v:"b"': {}}, "f:labels": {"f:app": {}}}},
                 id="set-and-labels"),
    pytest.param({"spec": {"tolerations": [{"key": "k"}], "nodeSelector": {"a": "b"}}}, POD,
                 {"f:spec": {"f:nodeSelector": {}, "f:tolerations": {}}}, id="atomic-list-and-map"),
    pytest.param({"spec": {"containers": [{"name": "c", "image": "i", "resources": {}}]}}, POD,
                 {"f:spec": {"f:containers": {'k:{"name":"c"}': {".": {}, "f:image": {}, "f:name": {},
                                                                  "f:resources": {}}}}},
                 id="list-map-element-dot"),
    pytest.param({"spec": {"selector": {"matchLabels": {"a": "b"}}}}, DEPLOY, {"f:spec": {"f:selector": {}}},
                 id="atomic-struct"),
    pytest.param({"metadata": {"ownerReferences": [{"uid": "u1", "name": "x"}]}}, POD,
                 {"f:metadata": {"f:ownerReferences": {'k:{"uid":"u1"}': {}}}}, id="atomic-elements"),
])
def test_fieldset_of(obj: dict[str, Any], node: Any, want: dict[str, Any]) -> None:
    assert fieldset_of(obj, node).to_fields_v1() == want


def test_port_keys_default_protocol_and_sort_numerically() -> None:
    obj = {"spec": {"containers": [{"name": "c", "ports": [
        {"containerPort": 10}, {"containerPort": 9, "protocol": "UDP"}, {"containerPort": 9}]}]}}
    ports = fieldset_of(obj, POD).to_fields_v1()["f:spec"]["f:containers"]['k:{"name":"c"}']["f:ports"]
    assert list(ports) == ['k:{"containerPort":9,"protocol":"TCP"}', 'k:{"containerPort":9,"protocol":"UDP"}',
                           'k:{"containerPort":10,"protocol":"TCP"}']
    assert ports['k:{"containerPort":9,"protocol":"TCP"}'] == {".": {}, "f:containerPort": {}}


@pytest.mark.parametrize(("obj", "message"), [
    ({"spec": {"containers": [{"name": "a"}, {"name": "a"}]}},
     '.spec.containers: duplicate entries for key [name="a"]'),
    ({"spec": {"ports": [{"protocol": "TCP"}]}},
     '.spec.ports: element 0: associative list with keys has an element that omits key field "port" '
     "(and doesn't have default value)"),
    ({"metadata": {"finalizers": [{"a": 1}]}},
     ".metadata.finalizers: element 0: associative list without keys has an element that's a map type"),
])
def test_typing_errors(obj: dict[str, Any], message: str) -> None:
    node = SVC if "ports" in obj.get("spec", {}) else POD
    with pytest.raises(FieldPathError) as e:
        fieldset_of(obj, node, strict=True)
    assert str(e.value) == message


def test_duplicates_allowed_when_not_strict() -> None:
    fs = fieldset_of({"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}, POD)
    assert fs.to_fields_v1() == {"f:spec": {"f:containers": {'k:{"name":"a"}': {}}}}


def test_fields_v1_round_trip_and_order() -> None:
    raw: dict[str, Any] = {"f:spec": {"f:b": {}, ".": {}, "f:a": {"x:future": {}}}, "f:metadata": {}}
    fs = FieldSet.from_fields_v1(raw)
    out = fs.to_fields_v1()
    assert list(out) == ["f:metadata", "f:spec"]
    assert list(out["f:spec"]) == [".", "f:a", "f:b"]
    assert out["f:spec"]["f:a"] == {}  # unknown element types are dropped
    bads: list[dict[str, Any]] = [{"spec": {}}, {"k:{bad": {}}, {"f:a": []}]
    for bad in bads:
        with pytest.raises(FieldPathError):
            FieldSet.from_fields_v1(bad)


def fs(tree: dict[str, Any]) -> FieldSet:
    return FieldSet.from_fields_v1(tree)


@pytest.mark.parametrize(("a", "b", "union", "diff", "inter", "rdiff"), [
    ({"f:a": {}}, {"f:b": {}}, {"f:a": {}, "f:b": {}}, {"f:a": {}}, {}, {"f:a": {}}),
    ({"f:a": {".": {}, "f:x": {}}}, {"f:a": {}}, {"f:a": {".": {}, "f:x": {}}}, {"f:a": {"f:x": {}}},
     {"f:a": {}}, {}),
    ({"f:a": {"f:x": {}, "f:y": {}}}, {"f:a": {"f:x": {}}}, {"f:a": {"f:x": {}, "f:y": {}}},
     {"f:a": {"f:y": {}}}, {"f:a": {"f:x": {}}}, {"f:a": {"f:y": {}}}),
    ({"f:a": {}}, {"f:a": {"f:x": {}}}, {"f:a": {".": {}, "f:x": {}}}, {"f:a": {}}, {}, {"f:a": {}}),
])
def test_set_algebra(a: dict[str, Any], b: dict[str, Any], union: dict[str, Any], diff: dict[str, Any],
                     inter: dict[str, Any], rdiff: dict[str, Any]) -> None:
    assert fs(a).union(fs(b)).to_fields_v1() == union
    assert fs(a).difference(fs(b)).to_fields_v1() == diff
    assert fs(a).intersection(fs(b)).to_fields_v1() == inter
    assert fs(a).recursive_difference(fs(b)).to_fields_v1() == rdiff


def test_operations_do_not_mutate_inputs() -> None:
    a: dict[str, Any] = {"f:a": {".": {}, "f:x": {}}, "f:b": {}}
    b: dict[str, Any] = {"f:a": {"f:x": {}}}
    fa, fb = fs(a), fs(b)
    fa.union(fb), fa.difference(fb), fa.intersection(fb), fa.recursive_difference(fb)
    assert a == {"f:a": {".": {}, "f:x": {}}, "f:b": {}} and b == {"f:a": {"f:x": {}}}


def test_paths_render_upstream_style() -> None:
    tree = {
        "f:metadata": {"f:labels": {"f:app": {}}, "f:finalizers": {'v:"a/b"': {}}},
        "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {'k:{"name":"nginx"}': {
            ".": {}, "f:image": {}, "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {}}}}}},
                   "f:list": {"i:3": {}}},
    }
    assert fs(tree).paths() == [
        '.metadata.finalizers[="a/b"]',
        ".metadata.labels.app",
        ".spec.replicas",
        ".spec.list[3]",
        '.spec.template.spec.containers[name="nginx"]',
        '.spec.template.spec.containers[name="nginx"].image',
        '.spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"]',
    ]


def test_has_and_from_paths() -> None:
    s = FieldSet.from_paths([("spec", "replicas"), ("status",)])
    assert s.to_fields_v1() == {"f:spec": {"f:replicas": {}}, "f:status": {}}
    assert s.has(["f:spec", "f:replicas"]) and s.has(["f:status"])
    assert not s.has(["f:spec"]) and not s.has(["f:spec", "f:x"])


def test_compare_added_modified_removed() -> None:
    old = {"metadata": {"name": "a", "resourceVersion": "1", "labels": {"x": "1"}},
           "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    new = {"metadata": {"name": "a", "resourceVersion": "2", "annotations": {"k": "v"}},
           "spec": {"replicas": 2, "template": {"spec": {"containers": [
               {"name": "c", "image": "i"}, {"name": "d", "image": "j"}]}}}}
    changed, removed = compare_objects(old, new, DEPLOY)
    assert changed.to_fields_v1() == {
        "f:metadata": {"f:annotations": {".": {}, "f:k": {}}},
        "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
            'k:{"name":"d"}': {".": {}, "f:image": {}, "f:name": {}}}}}}}
    assert removed.to_fields_v1() == {"f:metadata": {"f:labels": {".": {}, "f:x": {}}}}
    assert compare_objects(old, old, DEPLOY) == (FieldSet(), FieldSet())


def test_compare_from_zero_object_matches_go_shape() -> None:
    new = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"a": "b"}},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                    "template": {"metadata": {"creationTimestamp": None, "labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "resources": {}}]}}}}
    changed, _ = compare_objects(zero_object(DEPLOY), new, DEPLOY)
    assert changed.to_fields_v1() == {
        "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
        "f:spec": {"f:replicas": {}, "f:selector": {},
                   "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}}, "f:type": {}},
                   "f:template": {"f:metadata": {"f:labels": {".": {}, "f:a": {}}},
                                  "f:spec": {"f:containers": {'k:{"name":"c"}': {
                                      ".": {}, "f:name": {}, "f:resources": {}}}}}}}


def test_ensure_named_members() -> None:
    s = fs({"f:metadata": {"f:labels": {"f:a": {}}},
            "f:spec": {"f:containers": {'k:{"name":"c"}': {"f:image": {}}}}})
    assert ensure_named_members(s, POD).to_fields_v1() == {
        "f:metadata": {".": {}, "f:labels": {".": {}, "f:a": {}}},
        "f:spec": {".": {}, "f:containers": {".": {}, 'k:{"name":"c"}': {"f:image": {}}}}}


def test_deduced_shapes() -> None:
    obj = {"metadata": {"labels": {"a": "b"}, "finalizers": ["x"]}, "spec": {"m": {"k": 1}, "l": [1, 2]}}
    assert fieldset_of(obj, CUSTOM_RESOURCE).to_fields_v1() == {
        "f:metadata": {".": {}, "f:finalizers": {'v:"x"': {}}, "f:labels": {"f:a": {}}},
        "f:spec": {".": {}, "f:l": {}, "f:m": {".": {}, "f:k": {}}}}
    assert fieldset_of(obj, DEDUCED).to_fields_v1()["f:metadata"]["f:finalizers"] == {}


@pytest.mark.parametrize(("s", "want"), [
    ("kubectl", '"kubectl"'), ('a"b', '"a\\"b"'), ("tab\t", '"tab\\t"'), ("é", '"é"'), ("\x01", '"\\x01"'),
])
def test_go_quote(s: str, want: str) -> None:
    assert go_quote(s) == want
