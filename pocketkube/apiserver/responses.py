"""Turning results and errors into HTTP responses."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from pocketkube.apiserver import codec
from pocketkube.apiserver.context import RequestContext
from pocketkube.machinery import errors

JSON_CT = "application/json"


def warning_headers(ctx: RequestContext | None) -> list[tuple[str, str]]:
    if ctx is None or not ctx.warnings:
        return []
    seen: list[str] = []
    for w in ctx.warnings:
        if w not in seen:
            seen.append(w)
    return [("Warning", '299 - "' + w.replace('"', '\\"') + '"') for w in seen]


def respond(obj: Any, code: int = 200, *, ctx: RequestContext | None = None, fmt: str = codec.JSON,
            raw: bytes | None = None) -> web.Response:
    body = raw if raw is not None else codec.encode(obj, fmt)
    resp = web.Response(body=body, status=code, content_type=fmt)
    for k, v in warning_headers(ctx):
        resp.headers.add(k, v)
    return resp


def status_response(err: errors.StatusError, ctx: RequestContext | None = None) -> web.Response:
    return respond(err.status(), err.code, ctx=ctx)


def success_status() -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 200}


def raw_json(body: bytes, code: int = 200, *, content_type: str = JSON_CT,
             headers: dict[str, str] | None = None) -> web.Response:
    resp = web.Response(body=body, status=code)
    resp.headers["Content-Type"] = content_type
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)
