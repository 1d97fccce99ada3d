"""jsonvalue: strict JSON equality and private copies."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from pocketkube.machinery import jsonvalue


@pytest.mark.parametrize(("a", "b", "same"), [
    ({"a": [1, {"b": None}], "c": "x"}, {"a": [1, {"b": None}], "c": "x"}, True),
    ({"a": True}, {"a": 1}, False),  # Python's == says equal; JSON (and Go) do not
    ({"a": 1.0}, {"a": 1}, False),
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}, False),  # conservative: key order counts
    ([], {}, False),
    (datetime.date(2020, 1, 1), "2020-01-01", False),  # not JSON: never the same
    ({1: "x"}, {1: "x"}, False),
])
def test_same(a: Any, b: Any, same: bool) -> None:
    assert jsonvalue.same(a, b) is same


def test_same_object_is_same_even_if_not_json() -> None:
    d = {"when": datetime.date(2020, 1, 1)}
    assert jsonvalue.same(d, d)


def test_copy_is_deep_and_private() -> None:
    src = {"a": [{"b": 1}], "c": {"d": "e"}}
    out = jsonvalue.copy(src)
    assert out == src and out is not src and out["a"][0] is not src["a"][0]
    out["a"][0]["b"] = 2
    assert src["a"][0]["b"] == 1


def test_copy_keeps_non_json_values() -> None:
    src = {"when": datetime.date(2020, 1, 1), "big": 2**70}
    assert jsonvalue.copy(src) == src


def test_carry_over() -> None:
    old = {"spec": {"x": [1]}, "status": {"y": 1}}
    new: dict[str, Any] = {"spec": {"x": [1]}, "extra": 1}
    kept = new["spec"]
    jsonvalue.carry_over(new, old, "spec")
    assert new["spec"] is kept  # already exactly the stored value: no copy
    new["spec"] = {"x": [2]}
    jsonvalue.carry_over(new, old, "spec")
    assert new["spec"] == {"x": [1]} and new["spec"] is not old["spec"]
    jsonvalue.carry_over(new, old, "extra")
    assert "extra" not in new
    jsonvalue.carry_over(new, old, "status")
    assert new["status"] == {"y": 1} and new["status"] is not old["status"]
