"""PATCH: turn (current object, patch body, patch type) into the desired object.

Theory of operation: the four patch types kubectl sends are applied to the
object as the client sees it (JSON), then the result takes the ordinary update
path (structural decode with fieldValidation, defaults, strategy, validation).
Server-side apply (application/apply-patch+yaml) instead hands the applied
configuration to the field manager, which merges it with the live object under
ownership rules and may create the object when it does not exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from pocketkube.apiserver import codec, objectmeta
from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.watchcache import Entry
from pocketkube.machinery import errors, fieldmanager, jsonpatch, mergepatch, strategicpatch

if TYPE_CHECKING:
    from pocketkube.apiserver.store import ResourceStore

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)

Obj = dict[str, Any]


def parse_patch(content_type: str | None, body: bytes) -> tuple[str, Any]:
    mt = codec.media_type(content_type)
    if mt not in PATCH_TYPES:
        raise errors.unsupported_patch_type(mt)
    codec.check_size(body)
    patch = codec.decode_yaml(body) if mt == APPLY_PATCH else codec.decode_json(body)
    if mt == JSON_PATCH and not isinstance(patch, list):
        raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    if mt != JSON_PATCH and not isinstance(patch, dict):
        raise errors.bad_request(f"error decoding patch: expected a JSON object, got {type(patch).__name__}")
    return mt, patch


def apply_patch(store: ResourceStore, current: Obj, patch_type: str, patch: Any) -> Obj:
    """The patched object (a new dict); raises 422/400 like upstream on bad patches."""
    try:
        if patch_type == JSON_PATCH:
            result = jsonpatch.apply_json_patch(current, patch)
        elif patch_type == MERGE_PATCH:
            result = mergepatch.apply_merge_patch(current, patch)
        else:
            result = strategicpatch.apply_strategic_merge_patch(current, patch, store.node)
    except (jsonpatch.PatchError, strategicpatch.PatchError) as e:
        raise errors.StatusError(422 if patch_type == JSON_PATCH else 400,
                                 "Invalid" if patch_type == JSON_PATCH else "BadRequest", str(e)) from None
    if not isinstance(result, dict):
        raise errors.bad_request("patched object is not a JSON object")
    return result


async def patch(store: ResourceStore, namespace: str, name: str, patch_type: str, patch_body: Any,
                ctx: RequestContext, *, subresource: str = "", force: bool = False) -> tuple[Obj, bool]:
    """PATCH a resource (or its status subresource); returns (object, created)."""
    if patch_type == APPLY_PATCH:
        return await _server_side_apply(store, namespace, name, patch_body, ctx, subresource, force)
    if force:
        raise errors.bad_request("force may not be specified for non-apply patch")
    precondition = _patch_resource_version(patch_type, patch_body)

    async def transform(current: Entry | None) -> Obj:
        assert current is not None
        result = apply_patch(store, current.copy(), patch_type, patch_body)
        store.decode(result, ctx, known=current.obj)
        objectmeta.set_namespace(result, store.resource, namespace)
        _check_name(result, name)
        return result

    return await store.guaranteed_update(namespace, name, transform, ctx, subresource=subresource,
                                         precondition_rv=precondition)


def _patch_resource_version(patch_type: str, body: Any) -> str:
    if patch_type == JSON_PATCH:
        for op in body:
            if isinstance(op, dict) and op.get("path") == "/metadata/resourceVersion" and op.get("op") in (
                    "add", "replace"):
                return str(op.get("value") or "")
        return ""
    rv = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body.get("metadata"), dict) else None
    return str(rv) if rv else ""


def _check_name(obj: Obj, name: str) -> None:
    got = obj.get("metadata", {}).get("name", "")
    if got != name:
        raise errors.bad_request(f"the name of the object ({got}) does not match the name on the URL ({name})")


async def _server_side_apply(store: ResourceStore, namespace: str, name: str, applied: Any, ctx: RequestContext,
                             subresource: str, force: bool) -> tuple[Obj, bool]:
    if not ctx.field_manager:
        raise errors.bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be specified")
    applied = orjson.loads(orjson.dumps(applied))  # private copy; YAML may carry non-JSON scalars
    store.decode(applied, ctx)
    objectmeta.set_namespace(applied, store.resource, namespace)
    meta = applied.setdefault("metadata", {})
    if meta.get("name", name) != name:
        _check_name(applied, name)
    meta["name"] = name

    async def transform(current: Entry | None) -> Obj:
        live = current.copy() if current is not None else None
        merged = fieldmanager.apply(live, orjson.loads(orjson.dumps(applied)), manager=ctx.field_manager,
                                    force=force, api_version=store.resource.api_version, node=store.node,
                                    now=ctx.timestamp(), subresource=subresource)
        if current is None:
            return merged
        store.decode(merged, ctx, known=current.obj)
        return merged

    rv = str(meta.get("resourceVersion") or "")
    allow_create = subresource == ""
    return await store.guaranteed_update(namespace, name, transform, ctx, subresource=subresource,
                                         precondition_rv=rv, allow_create=allow_create, prepared=True)
