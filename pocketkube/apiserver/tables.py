"""meta.k8s.io Table and PartialObjectMetadata responses built from cache entries.

Theory of operation: kubectl's human output is the server's Table. The columns
and cells come from `apiserver/printers` (one printer per kind, wide columns
always filled); this module wraps them into Table objects for lists, single
objects and watch events, and handles `includeObject` (Metadata by default:
rows carry PartialObjectMetadata so kubectl can show namespaces and labels).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pocketkube.api.labels import go_quote
from pocketkube.api.scheme import Resource
from pocketkube.apiserver import printers
from pocketkube.machinery import errors

Obj = dict[str, Any]
INCLUDE_VALUES = ("", "Metadata", "Object", "None")


def check_include(value: str) -> str:
    if value not in INCLUDE_VALUES:
        raise errors.bad_request(f"unrecognized includeObject value: {go_quote(value)}")
    return value or "Metadata"


def partial(obj: Obj, version: str = "v1") -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata", {})}


def columns(resource: Resource) -> list[Obj]:
    return [c.definition() for c in printers.printer_for(resource.group, resource.kind).columns]


def rows(resource: Resource, objs: list[Obj], include: str, now: datetime | None = None,
         version: str = "v1") -> list[Obj]:
    printer = printers.printer_for(resource.group, resource.kind)
    now = now or datetime.now(UTC)
    out = []
    for obj in objs:
        row: Obj = {"cells": printer.row(obj, now)}
        conditions = printers.row_conditions(resource.group, resource.kind, obj)
        if conditions:
            row["conditions"] = conditions
        if include == "Metadata":
            row["object"] = partial(obj, version)
        elif include == "Object":
            row["object"] = obj
        out.append(row)
    return out


def table(resource: Resource, objs: list[Obj], *, include: str = "Metadata", resource_version: str = "",
          continue_token: str = "", with_columns: bool = True, version: str = "v1") -> Obj:
    meta: Obj = {}
    if resource_version:
        meta["resourceVersion"] = resource_version
    if continue_token:
        meta["continue"] = continue_token
    t: Obj = {"kind": "Table", "apiVersion": f"meta.k8s.io/{version}", "metadata": meta}
    t["columnDefinitions"] = columns(resource) if with_columns else None
    t["rows"] = rows(resource, objs, include, version=version)
    return t


def partial_list(objs: list[Obj], resource_version: str, continue_token: str, version: str = "v1") -> Obj:
    meta: Obj = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    return {"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{version}", "metadata": meta,
            "items": [partial(o, version) for o in objs]}
