"""tables: meta.k8s.io Table and PartialObjectMetadata(List) responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pocketkube.api.scheme import SCHEME, Resource
from pocketkube.apiserver import tables
from pocketkube.machinery.errors import StatusError

NOW = datetime(2024, 1, 1, 1, 0, 0, tzinfo=UTC)


def res(plural: str, group: str = "") -> Resource:
    r = SCHEME.get(group, "v1", plural)
    assert r is not None
    return r


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "x"},
                         "creationTimestamp": "2024-01-01T00:00:00Z", "resourceVersion": "5"},
            "data": dict(data)}


@pytest.mark.parametrize("value,expected", [("", "Metadata"), ("Metadata", "Metadata"), ("Object", "Object"),
                                            ("None", "None")])
def test_check_include(value: str, expected: str) -> None:
    assert tables.check_include(value) == expected


def test_check_include_rejects_unknown() -> None:
    with pytest.raises(StatusError) as e:
        tables.check_include("Everything")
    assert e.value.code == 400
    assert e.value.message.startswith("unrecognized includeObject value: ")


def test_check_include_message_quotes_like_go() -> None:
    with pytest.raises(StatusError) as e:
        tables.check_include("Everything")
    assert e.value.message == 'unrecognized includeObject value: "Everything"'


def test_partial() -> None:
    obj = cm("a", k="v")
    assert tables.partial(obj) == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                   "metadata": obj["metadata"]}
    assert tables.partial(obj, "v1beta1")["apiVersion"] == "meta.k8s.io/v1beta1"
    assert tables.partial({})["metadata"] == {}


def test_columns_come_from_the_printer() -> None:
    cols = tables.columns(res("configmaps"))
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in cols] == [
        ("Name", "string", "name", 0), ("Data", "string", "", 0), ("Age", "string", "", 0)]
    assert all(c["description"] for c in cols)


def test_rows_with_each_include_mode() -> None:
    r = res("configmaps")
    objs = [cm("a", k="v", l="w")]
    (meta_row,) = tables.rows(r, objs, "Metadata", now=NOW)
    assert meta_row == {"cells": ["a", 2, "60m"], "object": tables.partial(objs[0])}
    (full_row,) = tables.rows(r, objs, "Object", now=NOW)
    assert full_row["object"] is objs[0]
    (bare_row,) = tables.rows(r, objs, "None", now=NOW)
    assert bare_row == {"cells": ["a", 2, "60m"]}
    (beta,) = tables.rows(r, objs, "Metadata", now=NOW, version="v1beta1")
    assert beta["object"]["apiVersion"] == "meta.k8s.io/v1beta1"


def test_rows_carry_printer_conditions() -> None:
    done = {"metadata": {"name": "p", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Succeeded"}}
    (row,) = tables.rows(res("pods"), [done], "None", now=NOW)
    assert row["conditions"][0]["type"] == "Completed"
    assert row["cells"][0] == "p"


def test_table() -> None:
    r = res("configmaps")
    t = tables.table(r, [cm("a"), cm("b")], resource_version="12", continue_token="tok")
    assert (t["kind"], t["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert t["metadata"] == {"resourceVersion": "12", "continue": "tok"}
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert [row["cells"][0] for row in t["rows"]] == ["a", "b"]
    assert t["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_table_for_watch_events_and_beta() -> None:
    t = tables.table(res("configmaps"), [cm("a")], include="None", with_columns=False, version="v1beta1")
    assert t["apiVersion"] == "meta.k8s.io/v1beta1"
    assert t["metadata"] == {}
    assert t["columnDefinitions"] is None
    assert "object" not in t["rows"][0]
    empty = tables.table(res("configmaps"), [])
    assert empty["rows"] == []


def test_partial_list() -> None:
    objs = [cm("a"), cm("b")]
    out = tables.partial_list(objs, "9", "")
    assert out == {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                   "metadata": {"resourceVersion": "9"},
                   "items": [tables.partial(objs[0]), tables.partial(objs[1])]}
    paged = tables.partial_list(objs, "9", "next", "v1beta1")
    assert paged["metadata"] == {"resourceVersion": "9", "continue": "next"}
    assert paged["items"][0]["apiVersion"] == "meta.k8s.io/v1beta1"
