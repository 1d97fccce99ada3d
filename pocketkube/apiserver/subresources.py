"""Subresources: status, scale, namespace finalize, pod binding and eviction.

Theory of operation: a subresource is a different view of, or a narrow write to,
its parent object, so every one is implemented on top of the parent's generic
store: `status` is the parent with the status strategy; `scale` is an
autoscaling/v1 Scale computed from spec.replicas/status.replicas/selector whose
writes change only spec.replicas (with the parent's resourceVersion as the
Scale's); `finalize` writes only spec.finalizers of a namespace; `binding` sets
a pod's spec.nodeName once; `eviction` is a graceful pod delete. Streaming
subresources (log, exec, attach, portforward, proxy) belong to the node agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from pocketkube.api import labels, structural
from pocketkube.api.scheme import Resource
from pocketkube.apiserver import codec, deletion, patching, responses
from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.handlers import write_context
from pocketkube.apiserver.requestinfo import RequestInfo
from pocketkube.apiserver.store import ResourceStore
from pocketkube.apiserver.watchcache import Entry
from pocketkube.machinery import errors

if TYPE_CHECKING:
    from pocketkube.apiserver.server import APIServer

Obj = dict[str, Any]


def scale_of(obj: Obj) -> Obj:
    m = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = spec.get("selector") or {}
    if obj.get("kind") == "ReplicationController":
        sel = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    else:
        sel = labels.selector_string(selector)
    meta = {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in m}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta,
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": status.get("replicas", 0), "selector": sel}}


class Subresources:
    def __init__(self, server: APIServer) -> None:
        self.server = server

    async def handle(self, request: web.Request, info: RequestInfo, resource: Resource, query: dict[str, str],
                     ctx: RequestContext) -> web.StreamResponse:
        sub = resource.subresource(info.subresource)
        assert sub is not None
        if info.verb not in sub.verbs and not (info.verb == "get" and "get" in sub.verbs):
            raise errors.method_not_supported(f"{resource.plural}/{sub.name}", resource.group, info.verb)
        store = self.server.store_for(resource)
        ns = info.namespace if resource.namespaced else ""
        name = info.name
        if info.verb != "get":
            ctx = write_context(request, query, ctx)
        handler = getattr(self, f"_{sub.name}", None)
        if handler is None:
            return await self.server.streaming.handle(request, info, resource, query, ctx)
        result: web.StreamResponse = await handler(request, info.verb, store, ns, name, query, ctx)
        return result

    # ------------------------------------------------------------------ status
    async def _status(self, request: web.Request, verb: str, store: ResourceStore, ns: str, name: str,
                      query: dict[str, str], ctx: RequestContext) -> web.StreamResponse:
        if verb == "get":
            entry = await store.get(ns, name, query.get("resourceVersion", ""))
            return responses.respond(store.present(entry.obj))
        if verb == "patch":
            patch_type, body = patching.parse_patch(request.headers.get("Content-Type"), await request.read())
            obj, _ = await store.patch(ns, name, patch_type, body, ctx, subresource="status",
                                       force=query.get("force") == "true")
            return responses.respond(store.present(obj), ctx=ctx)
        body = codec.decode_body(request.headers.get("Content-Type"), await request.read())
        obj, _ = await store.update(ns, name, body, ctx, subresource="status")
        return responses.respond(store.present(obj), ctx=ctx)

    _approval = _status
    _ephemeralcontainers = _status

    # ------------------------------------------------------------------ scale
    async def _scale(self, request: web.Request, verb: str, store: ResourceStore, ns: str, name: str,
                     query: dict[str, str], ctx: RequestContext) -> web.StreamResponse:
        if verb == "get":
            entry = await store.get(ns, name, query.get("resourceVersion", ""))
            return responses.respond(scale_of(entry.obj))
        raw = await request.read()
        if verb == "patch":
            patch_type, body = patching.parse_patch(request.headers.get("Content-Type"), raw)
        else:
            patch_type, body = "", codec.decode_body(request.headers.get("Content-Type"), raw)

        async def transform(current: Entry | None) -> Obj:
            assert current is not None
            scale = scale_of(current.obj)
            if verb == "patch":
                if patch_type == patching.APPLY_PATCH:
                    raise errors.bad_request("apply patches are not supported on the scale subresource")
                scale = patching.apply_patch(_ScaleNode(store), scale, patch_type, body)  # type: ignore[arg-type]
            else:
                scale = body
            try:
                replicas = _replicas(scale, name, store)
            except errors.StatusError as e:
                if verb == "patch" or e.code != 400:
                    raise
                raise errors.bad_request(f'Scale in version "v1" cannot be handled as a Scale: {e.message}') from None
            obj = current.copy()
            obj.setdefault("spec", {})["replicas"] = replicas
            return obj

        precondition = _scale_rv(body if verb != "patch" else {}, patch_type)
        obj, _ = await store.guaranteed_update(ns, name, transform, ctx, subresource="scale",
                                               precondition_rv=precondition)
        return responses.respond(scale_of(obj), ctx=ctx)

    # ------------------------------------------------------------------ namespaces/finalize
    async def _finalize(self, request: web.Request, verb: str, store: ResourceStore, ns: str, name: str,
                        query: dict[str, str], ctx: RequestContext) -> web.StreamResponse:
        body = codec.decode_body(request.headers.get("Content-Type"), await request.read())
        finalizers = ((body or {}).get("spec") or {}).get("finalizers") or []

        async def transform(current: Entry | None) -> Obj:
            assert current is not None
            obj = current.copy()
            obj.setdefault("spec", {})["finalizers"] = finalizers
            if not finalizers:
                obj["spec"].pop("finalizers")
            return obj

        obj, _ = await store.guaranteed_update(ns, name, transform, ctx, subresource="finalize")
        m = obj["metadata"]
        if "deletionTimestamp" in m and not finalizers and not m.get("finalizers"):
            await deletion.delete(store, "", name, deletion.DeleteOptions(), ctx)
        return responses.respond(obj, ctx=ctx)

    # ------------------------------------------------------------------ pods/binding
    async def _binding(self, request: web.Request, verb: str, store: ResourceStore, ns: str, name: str,
                       query: dict[str, str], ctx: RequestContext) -> web.StreamResponse:
        body = codec.decode_body(request.headers.get("Content-Type"), await request.read())
        await bind_pod(store, ns, name, body, ctx)
        return responses.respond(responses.success_status(), 201, ctx=ctx)

    # ------------------------------------------------------------------ serviceaccounts/token
    async def _token(self, request: web.Request, verb: str, store: ResourceStore, ns: str, name: str,
                     query: dict[str, str], ctx: RequestContext) -> web.StreamResponse:
        """TokenRequest (token_request.py): a signed service-account token, 201."""
        from pocketkube.apiserver import token_request

        body = codec.decode_body(request.headers.get("Content-Type"), await request.read())
        result = await token_request.create(self.server.security.tokens, ns, name, body, ctx)
        return responses.respond(result, 201, ctx=ctx)

    # ------------------------------------------------------------------ pods/eviction
    async def _eviction(self, request: web.Request, verb: str, store: ResourceStore, ns: str, name: str,
                        query: dict[str, str], ctx: RequestContext) -> web.StreamResponse:
        body = codec.decode_body(request.headers.get("Content-Type"), await request.read()) or {}
        opts = deletion.DeleteOptions.from_json(body.get("deleteOptions") or {}, {})
        ctx.dry_run = ctx.dry_run or opts.dry_run
        await deletion.delete(store, ns, name, opts, ctx)
        return responses.respond(responses.success_status() | {"code": 201}, 201, ctx=ctx)


async def bind_pod(store: ResourceStore, ns: str, name: str, binding: Any, ctx: RequestContext) -> None:
    from pocketkube.apiserver.registry.core_pods import apply_binding

    target = (binding or {}).get("target") or {}
    if not target.get("name"):
        raise errors.invalid_error("Binding", "", name, [errors.required("target.name")])

    async def transform(current: Entry | None) -> Obj:
        assert current is not None
        return apply_binding(current.copy(), binding, ctx.timestamp())

    await store.guaranteed_update(ns, name, transform, ctx, subresource="binding")


class _ScaleNode:
    """Lets patching.apply_patch patch a Scale (schema autoscaling/v1 Scale)."""

    def __init__(self, store: ResourceStore) -> None:
        from pocketkube.api import schema

        self.node = schema.get_schema().root("io.k8s.api.autoscaling.v1.Scale")


_SCALE = "io.k8s.api.autoscaling.v1.Scale"


def _replicas(scale: Any, name: str, store: ResourceStore) -> int:
    """spec.replicas of a Scale body, type-checked as Go decodes it (int32; "json: cannot unmarshal ...")."""
    replicas = ((scale or {}).get("spec") or {}).get("replicas")
    probe: dict[str, Any] = {"spec": {"replicas": 0 if replicas is None else replicas}}
    try:
        structural.decode(probe, _SCALE)
    except structural.TypeMismatch as e:
        raise errors.bad_request(str(e)) from None
    replicas = probe["spec"]["replicas"]
    if replicas < 0:
        raise errors.invalid_error("Scale", "autoscaling", name, [
            errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")])
    return replicas


def _scale_rv(body: Any, patch_type: str) -> str:
    if not isinstance(body, dict):
        return ""
    return str(((body.get("metadata") or {}).get("resourceVersion")) or "")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)
