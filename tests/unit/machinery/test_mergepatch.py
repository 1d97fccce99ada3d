"""RFC 7386 JSON merge patch as kube-apiserver applies it (evanphx/json-patch v4 MergePatch)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pocketkube.machinery.mergepatch import PatchError, apply_merge_patch


def merge(doc: Any, patch: Any) -> Any:
    doc_before, patch_before = copy.deepcopy(doc), copy.deepcopy(patch)
    out = apply_merge_patch(doc, patch)
    assert doc == doc_before and patch == patch_before, "inputs were mutated"
    return out


# The examples of RFC 7386 appendix A (the two with a non-object patch are upstream errors, below).
@pytest.mark.parametrize(("doc", "patch", "expected"), [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_rfc7386_examples(doc: Any, patch: Any, expected: Any) -> None:
    assert merge(doc, patch) == expected


@pytest.mark.parametrize(("doc", "patch", "expected"), [
    # new values lose their null members at every depth, also inside arrays
    ({}, {"a": [{"b": None, "c": 1}]}, {"a": [{"c": 1}]}),
    ({"a": [1]}, {"a": [{"b": None}]}, {"a": [{}]}),
    # ... except an array replacing an existing object, taken as it is (upstream quirk)
    ({"a": {"x": 1}}, {"a": [{"b": None}]}, {"a": [{"b": None}]}),
    # a null in the document is replaced like a missing key
    ({"a": None}, {"a": {"b": None, "c": 2}}, {"a": {"c": 2}}),
    ({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"c": None}}}, {"a": {"b": {"d": 2}}}),
    ({"a": 1}, {}, {"a": 1}),
])
def test_upstream_details(doc: Any, patch: Any, expected: Any) -> None:
    assert merge(doc, patch) == expected


@pytest.mark.parametrize("patch", [None, "bar", 3, True])
def test_non_object_patch_is_a_bad_request(patch: Any) -> None:
    with pytest.raises(PatchError) as err:
        apply_merge_patch({"a": "foo"}, patch)
    assert (err.value.code, err.value.message) == (400, "Invalid JSON Patch")


POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web", "tier": "fe"},
                 "annotations": {"note": "x"}},
    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
}


def test_kubectl_label_bodies() -> None:
    out = merge(POD, {"metadata": {"labels": {"env": "prod"}}})
    assert out["metadata"]["labels"] == {"app": "web", "tier": "fe", "env": "prod"}
    out = merge(POD, {"metadata": {"labels": {"tier": None}}})
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["spec"] is POD["spec"]  # untouched subtrees are shared, not copied


def test_kubectl_annotate_and_scale_bodies() -> None:
    out = merge(POD, {"metadata": {"annotations": {"note": None, "owner": "me"}}})
    assert out["metadata"]["annotations"] == {"owner": "me"}
    scale = {"kind": "Scale", "spec": {"replicas": 1}, "status": {"replicas": 1}}
    assert merge(scale, {"spec": {"replicas": 3}})["spec"] == {"replicas": 3}


def test_patch_merge_type_replaces_lists() -> None:
    out = merge(POD, {"spec": {"containers": [{"name": "other", "image": "busybox"}]}})
    assert out["spec"]["containers"] == [{"name": "other", "image": "busybox"}]


def test_values_from_the_patch_are_copies() -> None:
    patch = {"spec": {"extra": {"k": [1]}}}
    out = apply_merge_patch(POD, patch)
    out["spec"]["extra"]["k"].append(2)
    assert patch == {"spec": {"extra": {"k": [1]}}}
