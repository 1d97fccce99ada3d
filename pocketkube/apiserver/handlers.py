"""Resource request handlers: one generic handler per verb, for every resource.

Theory of operation: `ResourceHandlers.handle` gets a parsed RequestInfo and the
authenticated user, finds the resource in the scheme and dispatches on (verb,
subresource). Bodies are decoded once here (codec), the work is done by the
generic store (store.py, patching.py, deletion.py, listing.py) or a subresource
module, and the result is encoded once into the shape the client accepts
(object, Table, PartialObjectMetadata). Versions that share storage with
another (events.k8s.io, autoscaling/v1) go through `conversion.VersionedStore`,
which has the same interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from pocketkube.api import labels
from pocketkube.api.scheme import Resource
from pocketkube.apiserver import codec, deletion, listing, patching, responses, tables, watch
from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.requestinfo import RequestInfo
from pocketkube.apiserver.store import ListOptions, ResourceStore
from pocketkube.machinery import errors

if TYPE_CHECKING:
    from pocketkube.apiserver.server import APIServer

Obj = dict[str, Any]
NOT_FOUND_MESSAGE = "the server could not find the requested resource"


def not_found_resource() -> errors.StatusError:
    return errors.StatusError(404, "NotFound", NOT_FOUND_MESSAGE, {})


def list_options(query: dict[str, str]) -> ListOptions:
    try:
        lsel = labels.parse_label_selector(query.get("labelSelector", ""))
    except labels.SelectorError as e:
        raise errors.bad_request(f"unable to parse requirement: {e}" if e.in_requirement else str(e)) from None
    try:
        fsel = labels.parse_field_selector(query.get("fieldSelector", ""))
    except labels.SelectorError as e:
        raise errors.bad_request(str(e)) from None
    try:
        limit = int(query.get("limit") or 0)
    except ValueError:
        raise errors.bad_request(f"invalid limit: {query.get('limit')}") from None
    match = query.get("resourceVersionMatch", "")
    if match and match not in ("Exact", "NotOlderThan"):
        raise errors.bad_request(f'"{match}" is not a valid resourceVersionMatch')
    if match and not query.get("resourceVersion"):
        raise errors.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
    return ListOptions(lsel, fsel, max(limit, 0), query.get("continue", ""), query.get("resourceVersion", ""), match)


def write_context(request: web.Request, query: dict[str, str], ctx: RequestContext) -> RequestContext:
    dry = query.get("dryRun", "")
    if dry and dry != "All":
        raise errors.bad_request(f"Invalid dry run value: {dry}")
    ctx.dry_run = dry == "All"
    ctx.field_manager = query.get("fieldManager", "")
    fv = query.get("fieldValidation", "")
    if fv and fv not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(f"fieldValidation parameter unsupported: {fv}")
    ctx.field_validation = fv or "Warn"
    if len(ctx.field_manager) > 128:
        raise errors.bad_request("fieldManager must be at most 128 characters")
    return ctx


class ResourceHandlers:
    def __init__(self, server: APIServer) -> None:
        self.server = server

    async def handle(self, request: web.Request, info: RequestInfo, query: dict[str, str],
                     ctx: RequestContext) -> web.StreamResponse:
        resource = self.server.scheme.get(info.group, info.version, info.resource)
        if resource is None:
            raise not_found_resource()
        if resource.namespaced and not info.namespace and info.verb not in ("list", "watch", "deletecollection") \
                and not (info.verb == "create" and not info.name):
            raise not_found_resource()
        if not resource.namespaced and info.namespace and resource.plural != "namespaces":
            raise not_found_resource()
        if info.subresource:
            sub = resource.subresource(info.subresource)
            if sub is None:
                raise not_found_resource()
            return await self.server.subresources.handle(request, info, resource, query, ctx)
        if not resource.stored:
            return await self.server.virtual.handle(request, info, resource, query, ctx)
        store = self.server.store_for(resource)
        ns = info.namespace if resource.namespaced else ""
        if info.verb not in resource.verbs:
            raise errors.method_not_supported(resource.plural, resource.group, info.verb)
        verb = info.verb
        if verb == "get":
            return await self.get(request, store, ns, info.name, query)
        if verb == "list":
            return await self.list(request, store, ns, query)
        if verb == "watch":
            return await watch.serve(request, store, ns, info.name, query, list_options(query))
        ctx = write_context(request, query, ctx)
        if verb == "create":
            if info.name:
                raise errors.method_not_supported(resource.plural, resource.group, "create")
            body = await self.object_body(request, ctx)
            obj = await store.create(ns, body, ctx)
            return responses.respond(store.present(obj), 201, ctx=ctx)
        if verb == "update":
            body = await self.object_body(request, ctx)
            obj, created = await store.update(ns, info.name, body, ctx)
            return responses.respond(store.present(obj), 201 if created else 200, ctx=ctx)
        if verb == "patch":
            return await self.patch(request, store, ns, info.name, query, ctx)
        if verb == "delete":
            body = await self.delete_body(request)
            opts = deletion.DeleteOptions.from_json(body, query)
            ctx.dry_run = ctx.dry_run or opts.dry_run
            result, code = await deletion.delete(store, ns, info.name, opts, ctx)
            return responses.respond(store.present(result), code, ctx=ctx)
        if verb == "deletecollection":
            body = await self.delete_body(request)
            opts = deletion.DeleteOptions.from_json(body, query)
            result = await deletion.delete_collection(store, ns, list_options(query), opts, ctx)
            result["items"] = [store.present(i) for i in result["items"]]
            return responses.respond(result, 200, ctx=ctx)
        raise errors.method_not_supported(resource.plural, resource.group, verb)

    @staticmethod
    async def object_body(request: web.Request, ctx: RequestContext) -> Any:
        """A create/update body, its duplicate fields noted for fieldValidation."""
        raw = await request.read()
        content_type = request.headers.get("Content-Type")
        body = codec.decode_body(content_type, raw)
        if ctx.field_validation != "Ignore":
            ctx.duplicate_fields = codec.duplicate_fields(content_type, raw)
        return body

    @staticmethod
    async def delete_body(request: web.Request) -> Any:
        raw = await request.read()
        if not raw.strip():
            return {}
        return codec.decode_body(request.headers.get("Content-Type"), raw)

    async def get(self, request: web.Request, store: ResourceStore, ns: str, name: str,
                  query: dict[str, str]) -> web.StreamResponse:
        shape = codec.negotiate(request.headers.get("Accept"))
        entry = await store.get(ns, name, query.get("resourceVersion", ""))
        if shape.kind == "table":
            include = tables.check_include(query.get("includeObject", ""))
            obj = store.present(entry.obj)
            return responses.respond(tables.table(store.resource, [obj], include=include,
                                                  resource_version=obj["metadata"].get("resourceVersion", ""),
                                                  version=shape.table_version))
        if shape.kind == "partial":
            return responses.respond(tables.partial(store.present(entry.obj), shape.table_version))
        if store.converts:
            return responses.respond(store.present(entry.obj), fmt=shape.format)
        return responses.respond(None, raw=entry.raw()) if shape.format == codec.JSON else \
            responses.respond(entry.obj, fmt=shape.format)

    async def list(self, request: web.Request, store: ResourceStore, ns: str,
                   query: dict[str, str]) -> web.StreamResponse:
        shape = codec.negotiate(request.headers.get("Accept"))
        opts = list_options(query)
        entries, rev, cont = await listing.list_entries(store, ns, opts)
        r = store.resource
        if shape.kind == "table":
            include = tables.check_include(query.get("includeObject", ""))
            objs = [store.present(e.obj) for e in entries]
            return responses.respond(tables.table(r, objs, include=include, resource_version=str(rev),
                                                  continue_token=cont, version=shape.table_version))
        if shape.kind == "partial":
            return responses.respond(tables.partial_list([store.present(e.obj) for e in entries], str(rev), cont,
                                                         shape.table_version))
        meta = {"resourceVersion": str(rev)}
        if cont:
            meta["continue"] = cont
        if store.converts or shape.format != codec.JSON:
            return responses.respond({"kind": r.list_kind, "apiVersion": r.api_version, "metadata": meta,
                                      "items": [store.present(e.obj) for e in entries]}, fmt=shape.format)
        head = b'{"kind":"' + r.list_kind.encode() + b'","apiVersion":"' + r.api_version.encode() + \
            b'","metadata":' + responses.dumps(meta) + b',"items":['
        return responses.respond(None, raw=head + b",".join(e.raw() for e in entries) + b"]}")

    async def patch(self, request: web.Request, store: ResourceStore, ns: str, name: str, query: dict[str, str],
                    ctx: RequestContext, subresource: str = "") -> web.StreamResponse:
        patch_type, patch_body = patching.parse_patch(request.headers.get("Content-Type"), await request.read())
        force = query.get("force", "") in ("true", "1")
        obj, created = await store.patch(ns, name, patch_type, patch_body, ctx, subresource=subresource,
                                         force=force)
        return responses.respond(store.present(obj), 201 if created else 200, ctx=ctx)


def resource_for_request(server: APIServer, info: RequestInfo) -> Resource | None:
    return server.scheme.get(info.group, info.version, info.resource)
