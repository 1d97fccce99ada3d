"""OpenAPI 3.0 documents, one per served group-version, as kube-apiserver serves them.

Theory of operation: `/openapi/v3` lists one document per path key
("api/v1", "apis/apps/v1", plus the small discovery documents "api", "apis",
"apis/<group>" and "version"). Each document is built from the operation
model of `openapi_ops` and the definitions of `openapi_schemas`:

    {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": ...},
     "paths": {path: {"parameters": [...], method: operation, ...}},
     "components": {"schemas": <every definition referenced, transitively>,
                    "securitySchemes": {"BearerToken": ...}}}

Operations carry upstream's keys (operationId, tags, x-kubernetes-action,
x-kubernetes-group-version-kind, parameters, requestBody, responses). kubectl
reads these documents for fieldValidation detection (a PATCH operation of the
object's GVK declaring `fieldValidation`), for client-side apply patch
metadata (components schema carrying the GVK, patch strategies on fields)
and for `kubectl explain` (same schema, descriptions, `allOf` wrappers).

This module builds dicts only; `openapi` caches and encodes them.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.scheme import Scheme
from pocketkube.apiserver.openapi_ops import (
    Operation,
    PathItem,
    discovery_paths,
    gv_paths,
    response_definitions,
)
from pocketkube.apiserver.openapi_schemas import V3_REF_PREFIX, definitions, referenced_names

INFO_VERSION = "v1.32.0"

SECURITY_SCHEMES = {  # v2 publishes the same as securityDefinitions
    "BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization",
                    "type": "apiKey"},
}


def _schema(name: str | None) -> dict[str, Any]:
    return {"$ref": V3_REF_PREFIX + name} if name else {"type": "string"}


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"description": op.description, "operationId": op.operation_id}
    if op.params:
        out["parameters"] = [p.v3() for p in op.params]
    if op.body:
        body: dict[str, Any] = {"content": {m: {"schema": _schema(op.body)} for m in op.body_media}}
        if op.body_required:
            body["required"] = True
        out["requestBody"] = body
    schema = _schema(op.response)
    responses: dict[str, Any] = {
        code: {"content": {m: {"schema": schema} for m in op.produces}, "description": text}
        for code, text in op.codes
    }
    responses["401"] = {"description": "Unauthorized"}
    out["responses"] = responses
    out["tags"] = [op.tag]
    if op.action:
        out["x-kubernetes-action"] = op.action
    if op.gvk is not None:
        out["x-kubernetes-group-version-kind"] = dict(op.gvk)
    return out


def _paths(items: list[PathItem]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for item in items:
        entry: dict[str, Any] = {op.method: _operation(op) for op in item.ops}
        if item.params:
            entry["parameters"] = [p.v3() for p in item.params]
        paths[item.path] = entry
    return paths


def _document(items: list[PathItem]) -> dict[str, Any]:
    paths = _paths(items)
    roots = response_definitions(items) | referenced_names(paths)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": INFO_VERSION},
        "paths": paths,
        "components": {"schemas": definitions(True).closure(roots), "securitySchemes": SECURITY_SCHEMES},
    }


def root_keys(scheme: Scheme) -> list[str]:
    """Every document path `/openapi/v3` lists, in a stable order."""
    keys = ["api", "apis", "version"]
    for group, versions in scheme.groups().items():
        if group:
            keys.append(f"apis/{group}")
        keys.extend(f"apis/{group}/{v}" if group else f"api/{v}" for v in versions)
    return keys


def document(scheme: Scheme, key: str) -> dict[str, Any] | None:
    """The document for one `/openapi/v3/<key>` path, or None if not served."""
    if key not in root_keys(scheme):
        return None
    parts = key.split("/")
    if key in ("api", "apis", "version"):
        return _document(discovery_paths(key))
    if parts[0] == "api":
        return _document(gv_paths(scheme, "", parts[1]))
    if len(parts) == 2:
        return _document(discovery_paths("group", parts[1]))
    return _document(gv_paths(scheme, parts[1], parts[2]))


def key_for(group: str, version: str) -> str:
    """The root key of a group-version: "api/v1" or "apis/<group>/<version>"."""
    return f"apis/{group}/{version}" if group else f"api/{version}"
