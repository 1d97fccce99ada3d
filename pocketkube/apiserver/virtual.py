"""Resources that are computed, never stored: reviews, bindings, component statuses.

Theory of operation: these kinds only accept `create` (the reviews answer a
question about the requesting or a named user; a Binding assigns a pod to a
node) or are read-only computed lists. Each handler decodes the body (JSON or
protobuf: kubectl's `auth can-i` and `auth whoami` send protobuf), computes the
answer and returns the object with its status filled in, as kube-apiserver does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from pocketkube.api.scheme import Resource
from pocketkube.apiserver import codec, responses
from pocketkube.apiserver.auth import Attributes
from pocketkube.apiserver.context import RequestContext, UserInfo
from pocketkube.apiserver.requestinfo import RequestInfo
from pocketkube.machinery import errors

if TYPE_CHECKING:
    from pocketkube.apiserver.server import APIServer

Obj = dict[str, Any]


def _attributes(spec: Obj) -> Attributes:
    ra = spec.get("resourceAttributes")
    if ra:
        return Attributes(verb=ra.get("verb", ""), resource_request=True, api_group=ra.get("group", ""),
                          api_version=ra.get("version", ""), namespace=ra.get("namespace", ""),
                          resource=ra.get("resource", ""), subresource=ra.get("subresource", ""),
                          name=ra.get("name", ""))
    nra = spec.get("nonResourceAttributes") or {}
    return Attributes(verb=nra.get("verb", ""), resource_request=False, path=nra.get("path", ""))


def _answer(resource: Resource, body: Obj, status: Obj) -> Obj:
    meta = dict(body.get("metadata") or {})
    meta.setdefault("creationTimestamp", None)
    out: Obj = {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": meta}
    if "spec" in body:
        out["spec"] = body["spec"]
    out["status"] = status
    return out


class VirtualResources:
    def __init__(self, server: APIServer) -> None:
        self.server = server

    async def handle(self, request: web.Request, info: RequestInfo, resource: Resource, query: dict[str, str],
                     ctx: RequestContext) -> web.StreamResponse:
        if info.verb not in resource.verbs:
            raise errors.method_not_supported(resource.plural, resource.group, info.verb)
        if resource.plural == "componentstatuses":
            return responses.respond({"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {},
                                      "items": []})
        body = codec.decode_body(request.headers.get("Content-Type"), await request.read())
        if not isinstance(body, dict):
            raise errors.bad_request("request body must be an object")
        handler = getattr(self, "_" + resource.plural)
        result: Obj = await handler(resource, body, info, ctx)
        return responses.respond(result, 201, ctx=ctx)

    async def _selfsubjectreviews(self, resource: Resource, body: Obj, info: RequestInfo,
                                  ctx: RequestContext) -> Obj:
        return _answer(resource, body, {"userInfo": ctx.user.to_json()})

    async def _review(self, resource: Resource, body: Obj, user: UserInfo) -> Obj:
        spec = body.get("spec") or {}
        allowed, reason = await self.server.authorizer.authorize(user, _attributes(spec))
        status: Obj = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        return _answer(resource, body, status)

    async def _selfsubjectaccessreviews(self, resource: Resource, body: Obj, info: RequestInfo,
                                        ctx: RequestContext) -> Obj:
        return await self._review(resource, body, ctx.user)

    async def _subjectaccessreviews(self, resource: Resource, body: Obj, info: RequestInfo,
                                    ctx: RequestContext) -> Obj:
        spec = body.get("spec") or {}
        if not spec.get("user") and not spec.get("groups"):
            raise errors.invalid_error("SubjectAccessReview", resource.group, "", [
                errors.invalid("spec.user", "", "at least one of user or group must be specified")])
        user = UserInfo(spec.get("user", ""), tuple(spec.get("groups") or ()), spec.get("uid", ""))
        return await self._review(resource, body, user)

    async def _localsubjectaccessreviews(self, resource: Resource, body: Obj, info: RequestInfo,
                                         ctx: RequestContext) -> Obj:
        ra = (body.get("spec") or {}).get("resourceAttributes") or {}
        if ra.get("namespace") != info.namespace:
            raise errors.invalid_error("LocalSubjectAccessReview", resource.group, "", [errors.invalid(
                "spec.resourceAttributes.namespace", ra.get("namespace", ""),
                "must match metadata.namespace")])
        return await self._subjectaccessreviews(resource, body, info, ctx)

    async def _selfsubjectrulesreviews(self, resource: Resource, body: Obj, info: RequestInfo,
                                       ctx: RequestContext) -> Obj:
        namespace = (body.get("spec") or {}).get("namespace", "")
        rules = await self.server.rules_for(ctx.user, namespace)
        return _answer(resource, body, rules)

    async def _tokenreviews(self, resource: Resource, body: Obj, info: RequestInfo, ctx: RequestContext) -> Obj:
        spec = body.get("spec") or {}
        if not spec.get("token"):
            raise errors.bad_request("token is required for TokenReview in authentication")
        status = await self.server.review_token(spec["token"], list(spec.get("audiences") or []))
        return _answer(resource, body, status)

    async def _bindings(self, resource: Resource, body: Obj, info: RequestInfo, ctx: RequestContext) -> Obj:
        from pocketkube.apiserver.subresources import bind_pod

        name = (body.get("metadata") or {}).get("name", "")
        pods = self.server.store_for(self.server.scheme.get("", "v1", "pods"))  # type: ignore[arg-type]
        await bind_pod(pods, info.namespace, name, body, ctx)
        return responses.success_status() | {"code": 201}
