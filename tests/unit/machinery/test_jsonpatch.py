"""RFC 6902 JSON patch as kube-apiserver applies it (evanphx/json-patch v4 behaviour)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pocketkube.machinery.jsonpatch import PatchError, apply_json_patch, json_equal

DOC: dict[str, Any] = {
    "a": {"b": 1, "c": [1, 2, 3]},
    "x/y": {"m~n": "esc"},
    "n": None,
    "list": [{"name": "one"}, {"name": "two"}],
}


def run(ops: list[dict[str, Any]], doc: Any = None) -> Any:
    doc = copy.deepcopy(DOC) if doc is None else doc
    before = copy.deepcopy(doc)
    out = apply_json_patch(doc, ops)
    assert doc == before, "input document was mutated"
    return out


@pytest.mark.parametrize(("ops", "path", "expected"), [
    ([{"op": "add", "path": "/a/d", "value": 5}], ("a", "d"), 5),
    ([{"op": "add", "path": "/a/b", "value": 9}], ("a", "b"), 9),  # add replaces an existing key
    ([{"op": "add", "path": "/a/c/0", "value": 0}], ("a", "c"), [0, 1, 2, 3]),
    ([{"op": "add", "path": "/a/c/3", "value": 4}], ("a", "c"), [1, 2, 3, 4]),
    ([{"op": "add", "path": "/a/c/-", "value": 4}], ("a", "c"), [1, 2, 3, 4]),
    ([{"op": "add", "path": "/a/c/-1", "value": 4}], ("a", "c"), [1, 2, 3, 4]),  # negative: from the end
    ([{"op": "add", "path": "/a/c/+1", "value": 9}], ("a", "c"), [1, 9, 2, 3]),  # Go Atoi syntax
    ([{"op": "add", "path": "/x~1y/m~0n", "value": "v"}], ("x/y", "m~n"), "v"),
    ([{"op": "add", "path": "/a/new", "value": {"deep": [1]}}], ("a", "new"), {"deep": [1]}),
    ([{"op": "add", "path": "/a/nothing"}], ("a", "nothing"), None),  # missing value adds null
    ([{"op": "remove", "path": "/a/b"}], ("a",), {"c": [1, 2, 3]}),
    ([{"op": "remove", "path": "/a/c/1"}], ("a", "c"), [1, 3]),
    ([{"op": "remove", "path": "/a/c/-1"}], ("a", "c"), [1, 2]),
    ([{"op": "replace", "path": "/a/b", "value": "s"}], ("a", "b"), "s"),
    ([{"op": "replace", "path": "/a/zzz", "value": 1}], ("a", "zzz"), 1),  # v4: replace adds a missing key
    ([{"op": "replace", "path": "/a/c/-1", "value": 7}], ("a", "c"), [1, 2, 7]),
    ([{"op": "move", "from": "/a/b", "path": "/moved"}], ("moved",), 1),
    ([{"op": "move", "from": "/a/c/0", "path": "/a/c/-"}], ("a", "c"), [2, 3, 1]),
    ([{"op": "copy", "from": "/a", "path": "/copy"}], ("copy",), {"b": 1, "c": [1, 2, 3]}),
    ([{"op": "copy", "from": "/a/c/2", "path": "/a/c/0"}], ("a", "c"), [3, 1, 2, 3]),
    ([{"op": "copy", "from": "/a/absent", "path": "/z"}], ("z",), None),
    ([{"op": "test", "path": "/a/b", "value": 1}], ("a", "b"), 1),
    ([{"op": "test", "path": "/n", "value": None}], ("n",), None),
    ([{"op": "test", "path": "/absent", "value": None}], ("a", "b"), 1),  # missing tests equal to null
    ([{"op": "test", "path": "/list", "value": [{"name": "one"}, {"name": "two"}]}], ("list", 1, "name"), "two"),
])
def test_operations(ops: list[dict[str, Any]], path: tuple[Any, ...], expected: Any) -> None:
    out = run(ops)
    for part in path:
        out = out[part]
    assert out == expected


def test_operations_apply_in_order_and_later_ops_see_earlier_ones() -> None:
    out = run([
        {"op": "add", "path": "/a/new", "value": {}},
        {"op": "add", "path": "/a/new/k", "value": [1]},
        {"op": "add", "path": "/a/new/k/-", "value": 2},
        {"op": "test", "path": "/a/new", "value": {"k": [1, 2]}},
        {"op": "move", "from": "/a/new", "path": "/top"},
    ])
    assert out["top"] == {"k": [1, 2]} and "new" not in out["a"]


def test_patch_values_are_not_mutated_by_later_operations() -> None:
    value = {"k": [1]}
    ops: list[dict[str, Any]] = [{"op": "add", "path": "/v", "value": value}, {"op": "add", "path": "/v/k/-", "value": 2}]
    out = run(ops)
    assert out["v"] == {"k": [1, 2]} and value == {"k": [1]}


def test_copy_is_deep() -> None:
    out = run([{"op": "copy", "from": "/a", "path": "/b"}, {"op": "add", "path": "/b/c/-", "value": 4}])
    assert out["a"]["c"] == [1, 2, 3] and out["b"]["c"] == [1, 2, 3, 4]


def test_result_shares_untouched_subtrees() -> None:
    doc = copy.deepcopy(DOC)
    out = apply_json_patch(doc, [{"op": "replace", "path": "/a/b", "value": 2}])
    assert out["list"] is doc["list"] and out["a"] is not doc["a"]


def test_replace_root() -> None:
    assert run([{"op": "replace", "path": "", "value": {"new": 1}}]) == {"new": 1}
    assert run([{"op": "replace", "path": "", "value": 5}]) == DOC  # v4 ignores a scalar root


def test_test_whole_document() -> None:
    assert run([{"op": "test", "path": "", "value": DOC}]) == DOC


@pytest.mark.parametrize(("ops", "message"), [
    ([{"op": "add", "path": "/missing/x", "value": 1}],
     'add operation does not apply: doc is missing path: "/missing/x": missing value'),
    ([{"op": "add", "path": "/a/c/4", "value": 1}],
     "error in add for path: '/a/c/4': Unable to access invalid index: 4: invalid index referenced"),
    ([{"op": "add", "path": "/a/c/x", "value": 1}],
     "error in add for path: '/a/c/x': value was not a proper array index: 'x': "
     'strconv.Atoi: parsing "x": invalid syntax'),
    ([{"op": "add", "value": 1}], "add operation failed to decode path: missing value"),
    ([{"op": "add", "path": "", "value": 1}], 'add operation does not apply: doc is missing path: "": missing value'),
    ([{"op": "remove", "path": "/a/nope"}],
     "error in remove for path: '/a/nope': Unable to remove nonexistent key: nope: missing value"),
    ([{"op": "remove", "path": "/a/c/3"}],
     "error in remove for path: '/a/c/3': Unable to access invalid index: 3: invalid index referenced"),
    ([{"op": "remove", "path": "/a/b/c"}], 'remove operation does not apply: doc is missing path: "/a/b/c": missing value'),
    ([{"op": "replace", "path": "/a/c/9", "value": 1}],
     "replace operation does not apply: doc is missing key: /a/c/9: missing value"),
    ([{"op": "replace", "path": "/q/r", "value": 1}],
     "replace operation does not apply: doc is missing path: /q/r: missing value"),
    ([{"op": "replace", "value": 1}],
     "replace operation failed to decode path: operation missing path field: missing value"),
    ([{"op": "move", "from": "/a/nope", "path": "/b"}],
     "error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value"),
    ([{"op": "move", "path": "/b"}],
     "move operation failed to decode from: operation, missing from field: missing value"),
    ([{"op": "move", "from": "/a", "path": "/a/inside"}],
     "move operation does not apply: doc is missing destination path: /a/inside: missing value"),
    ([{"op": "copy", "from": "/zz/y", "path": "/b"}],
     "copy operation does not apply: doc is missing from path: /zz/y: missing value"),
    ([{"op": "copy", "from": "/a", "path": "/zz/y"}],
     "copy operation does not apply: doc is missing destination path: /zz/y: missing value"),
    ([{"op": "test", "path": "/a/b", "value": 2}], "testing value /a/b failed: test failed"),
    ([{"op": "test", "path": "/a/b", "value": 1.0}], "testing value /a/b failed: test failed"),
    ([{"op": "test", "path": "/a/b", "value": True}], "testing value /a/b failed: test failed"),
    ([{"op": "test", "path": "/a/b"}], "testing value /a/b failed: test failed"),
    ([{"op": "test", "path": "/nope/x", "value": 1}], "test operation does not apply: is missing path: /nope/x: missing value"),
    ([{"op": "test", "path": "/a/c/7", "value": 1}],
     "error in test for path: '/a/c/7': Unable to access invalid index: 7: invalid index referenced"),
    ([{"op": "jump", "path": "/a"}], "Unexpected kind: jump"),
    ([{"path": "/a"}], "Unexpected kind: unknown"),
    ([None], "Unexpected kind: unknown"),
])
def test_failures(ops: list[Any], message: str) -> None:
    with pytest.raises(PatchError) as err:
        run(ops)
    assert err.value.message == message
    assert err.value.code == 422


def test_a_failed_patch_leaves_the_document_alone() -> None:
    doc = copy.deepcopy(DOC)
    with pytest.raises(PatchError):
        apply_json_patch(doc, [{"op": "add", "path": "/a/d", "value": 1}, {"op": "test", "path": "/a/d", "value": 2}])
    assert doc == DOC


@pytest.mark.parametrize(("body", "message"), [
    ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
    ("x", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
    (["add"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
])
def test_undecodable_bodies_are_bad_requests(body: Any, message: str) -> None:
    with pytest.raises(PatchError) as err:
        apply_json_patch({}, body)
    assert (err.value.code, err.value.message) == (400, message)


def test_null_body_is_an_empty_patch() -> None:
    assert apply_json_patch({"a": 1}, None) == {"a": 1}


def test_copy_limit() -> None:
    big = {"blob": "x" * 100}
    with pytest.raises(PatchError) as err:
        apply_json_patch(big, [{"op": "copy", "from": "/blob", "path": "/b1"},
                               {"op": "copy", "from": "/blob", "path": "/b2"}], max_copy_bytes=150)
    assert err.value.message == ("Unable to complete the copy, the accumulated size increase of copy is 204, "
                                 "exceeding the limit 150")


def test_kubectl_rollout_undo_body() -> None:
    deploy = {
        "metadata": {"name": "web", "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}},
                                             "spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}}},
    }
    template = {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}
    body = [{"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations",
             "value": {"deployment.kubernetes.io/revision": "2"}}]
    out = run(body, deploy)
    assert out["spec"]["template"] == template
    assert out["spec"]["replicas"] == 2


def test_status_errors() -> None:
    st = PatchError("testing value /a failed: test failed").status_error().status()
    assert (st["code"], st["reason"]) == (422, "Invalid")
    assert st["message"] == "the server rejected our request due to an error in our request"
    st = PatchError("bad body", 400).status_error().status()
    assert (st["code"], st["reason"], st["message"]) == (400, "BadRequest", "bad body")
    st = PatchError("unknown patch type: x in map: map[]", 500).status_error().status()
    assert (st["code"], st["message"]) == (500, "unknown patch type: x in map: map[]")


@pytest.mark.parametrize(("a", "b", "equal"), [
    (1, 1, True), (1, 1.0, False), (True, 1, False), (None, None, True), ("1", 1, False),
    ({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}, True), ({"a": 1}, {"a": 1, "b": 2}, False),
    ([1, 2], [2, 1], False),
])
def test_json_equal(a: Any, b: Any, equal: bool) -> None:
    assert json_equal(a, b) is equal
