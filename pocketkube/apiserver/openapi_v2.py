"""The Swagger 2.0 document (`/openapi/v2`) covering every served resource.

Theory of operation: one document for the whole server, built from the same
operation model as the v3 documents (`openapi_ops`) and the Swagger-dialect
definitions (`openapi_schemas`, refs "#/definitions/<name>" with siblings kept
beside `$ref`). Operations carry Swagger's per-operation `consumes`,
`produces` and `schemes`, body parameters instead of `requestBody`, and the
same `x-kubernetes-*` extensions as upstream. kubectl 1.32 only reads this
document (in protobuf form, see `openapi_proto`) for `kubectl explain
--output=plaintext-openapiv2`, as a fallback when `/openapi/v3` fails, and for
client-side validation when a server lacks fieldValidation.
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
from pocketkube.apiserver.openapi_schemas import V2_REF_PREFIX, definitions
from pocketkube.apiserver.openapi_v3 import INFO_VERSION, SECURITY_SCHEMES


def _schema(name: str | None) -> dict[str, Any]:
    return {"$ref": V2_REF_PREFIX + name} if name else {"type": "string"}


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "consumes": list(op.body_media) if op.body else ["*/*"],
        "description": op.description,
        "operationId": op.operation_id,
        "produces": list(op.produces),
        "schemes": ["https"],
        "tags": [op.tag],
    }
    params: list[dict[str, Any]] = []
    if op.body:
        body: dict[str, Any] = {"in": "body", "name": "body", "schema": _schema(op.body)}
        if op.body_required:
            body["required"] = True
        params.append(body)
    params.extend(p.v2() for p in op.params)
    if params:
        out["parameters"] = params
    responses: dict[str, Any] = {code: {"description": text, "schema": _schema(op.response)}
                                 for code, text in op.codes}
    responses["401"] = {"description": "Unauthorized"}
    out["responses"] = responses
    if op.action:
        out["x-kubernetes-action"] = op.action
    if op.gvk is not None:
        out["x-kubernetes-group-version-kind"] = dict(op.gvk)
    return out


def _all_items(scheme: Scheme) -> list[PathItem]:
    items = discovery_paths("api") + discovery_paths("apis")
    for group, versions in scheme.groups().items():
        if group:
            items.extend(discovery_paths("group", group))
        for version in versions:
            items.extend(gv_paths(scheme, group, version))
    return items + discovery_paths("version")


def document(scheme: Scheme) -> dict[str, Any]:
    """The Swagger 2.0 document as a JSON tree."""
    items = _all_items(scheme)
    paths: dict[str, Any] = {}
    for item in items:
        entry: dict[str, Any] = {op.method: _operation(op) for op in item.ops}
        if item.params:
            entry["parameters"] = [p.v2() for p in item.params]
        paths[item.path] = entry
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": INFO_VERSION},
        "paths": paths,
        "definitions": definitions(False).closure(response_definitions(items)),
        "securityDefinitions": SECURITY_SCHEMES,
        "security": [{"BearerToken": []}],
    }
