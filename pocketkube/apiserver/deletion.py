"""DELETE and DELETECOLLECTION: preconditions, graceful deletion, finalizers, removal.

Theory of operation (upstream Store.Delete + rest.BeforeDelete):
1. Preconditions (uid, resourceVersion) must match the stored object (409).
2. Graceful kinds (pods) get deletionTimestamp = now + grace and stay until their
   node agent confirms with a zero-grace delete; a second delete may only shorten
   the grace period.
3. The propagation policy becomes the garbage collector's finalizers (`orphan`,
   `foregroundDeletion`); an object with any finalizer is only marked
   (deletionTimestamp, deletionGracePeriodSeconds 0) and removed later, when an
   update drops its last finalizer (store.should_delete_during_update).
4. Otherwise the key is deleted and the answer is either the deleted object or a
   Success Status, per the strategy.
Namespaces hold their own `spec.finalizers`: deleting one sets phase Terminating
and leaves the rest to the namespace controller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.watchcache import Entry
from pocketkube.machinery import errors
from pocketkube.storage import interface as storage

if TYPE_CHECKING:
    from pocketkube.apiserver.store import ListOptions, ResourceStore

Obj = dict[str, Any]
ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
POLICIES = ("Orphan", "Background", "Foreground")


@dataclass
class DeleteOptions:
    grace_period: int | None = None
    propagation: str | None = None
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False

    @classmethod
    def from_json(cls, body: Any, query: dict[str, str]) -> DeleteOptions:
        body = body if isinstance(body, dict) else {}
        grace = body.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
        policy = body.get("propagationPolicy", query.get("propagationPolicy"))
        orphan = body.get("orphanDependents", query.get("orphanDependents"))
        pre = body.get("preconditions") or {}
        dry = body.get("dryRun") or ([query["dryRun"]] if query.get("dryRun") else [])
        try:
            grace_i = int(grace) if grace is not None else None
        except (TypeError, ValueError):
            raise errors.bad_request(f"invalid gracePeriodSeconds: {grace!r}") from None
        if policy is not None and policy not in POLICIES:
            raise errors.invalid_error("DeleteOptions", "", "", [
                errors.not_supported("propagationPolicy", policy, POLICIES)])
        if orphan is not None and policy is not None:
            raise errors.invalid_error("DeleteOptions", "", "", [errors.invalid(
                "propagationPolicy", policy, "orphanDependents and deletionPropagation cannot be both set")])
        if orphan is not None:
            policy = "Orphan" if orphan in (True, "true") else "Background"
        if dry and dry != ["All"]:
            raise errors.bad_request(f"Invalid dry run value: {dry!r}")
        return cls(grace_i, policy, pre.get("uid"), pre.get("resourceVersion"), bool(dry))


def _check_preconditions(store: ResourceStore, obj: Obj, opts: DeleteOptions) -> None:
    m = obj["metadata"]
    name = m["name"]
    if opts.precondition_uid is not None and opts.precondition_uid != m.get("uid"):
        raise errors.conflict(store.resource.plural, store.resource.group, name,
                              f"Precondition failed: UID in precondition: {opts.precondition_uid}, "
                              f"UID in object meta: {m.get('uid')}")
    if opts.precondition_rv is not None and opts.precondition_rv != m.get("resourceVersion"):
        raise errors.conflict(store.resource.plural, store.resource.group, name,
                              f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                              f"ResourceVersion in object meta: {m.get('resourceVersion')}")


def _gc_finalizers(finalizers: list[str], policy: str | None) -> list[str]:
    out = list(finalizers)
    if policy == "Orphan":
        out = [f for f in out if f != FOREGROUND]
        if ORPHAN not in out:
            out.append(ORPHAN)
    elif policy == "Foreground":
        out = [f for f in out if f != ORPHAN]
        if FOREGROUND not in out:
            out.append(FOREGROUND)
    elif policy == "Background":
        out = [f for f in out if f not in (ORPHAN, FOREGROUND)]
    return out


def _mark(store: ResourceStore, obj: Obj, opts: DeleteOptions, ctx: RequestContext) -> tuple[bool, bool]:
    """Set deletion metadata in place. Returns (keep_object, changed)."""
    m = obj["metadata"]
    changed = False
    grace = store.strategy.grace_period(obj, opts.grace_period)
    graceful = grace > 0
    if graceful:
        current = m.get("deletionGracePeriodSeconds")
        if "deletionTimestamp" not in m or current is None or grace < current:
            m["deletionTimestamp"] = (ctx.now + timedelta(seconds=grace)).strftime("%Y-%m-%dT%H:%M:%SZ")
            m["deletionGracePeriodSeconds"] = grace
            if m.get("generation"):
                m["generation"] += 1
            changed = True
    finalizers = _gc_finalizers(m.get("finalizers") or [], opts.propagation)
    if finalizers != (m.get("finalizers") or []):
        changed = True
        if finalizers:
            m["finalizers"] = finalizers
        else:
            m.pop("finalizers", None)
    if (store.resource.plural, store.resource.group) == ("namespaces", "") and \
            (obj.get("spec") or {}).get("finalizers"):
        finalizers = finalizers or ["spec"]  # hold the object while spec.finalizers remain
        if obj.setdefault("status", {}).get("phase") != "Terminating":
            obj["status"]["phase"] = "Terminating"
            changed = True
    if finalizers and "deletionTimestamp" not in m:
        m["deletionTimestamp"] = ctx.timestamp()
        m["deletionGracePeriodSeconds"] = 0
        changed = True
    return bool(finalizers) or graceful, changed


async def delete(store: ResourceStore, namespace: str, name: str, opts: DeleteOptions,
                 ctx: RequestContext) -> tuple[Obj, int]:
    """Returns (response body, HTTP code)."""
    await store.cache.wait_fresh()
    for _ in range(8):
        entry = store.entry(namespace, name)
        if entry is None:
            raise store.not_found(name)
        obj = entry.copy()
        _check_preconditions(store, obj, opts)
        keep, changed = _mark(store, obj, opts, ctx)
        try:
            if keep:
                return await _persist_mark(store, entry, obj, changed, opts), 200
            return await _remove(store, entry, obj, opts), 200
        except storage.RevisionMismatch:
            await store.cache.wait_fresh()
        except storage.KeyNotFound:
            raise store.not_found(name) from None
    raise errors.conflict(store.resource.plural, store.resource.group, name, errors.MODIFIED)


async def _persist_mark(store: ResourceStore, entry: Entry, obj: Obj, changed: bool, opts: DeleteOptions) -> Obj:
    if not changed or opts.dry_run:
        return obj
    rev = await store.store.update(entry.key, store.encode(obj), expected_revision=entry.revision)
    obj["metadata"]["resourceVersion"] = str(rev)
    return obj


async def _remove(store: ResourceStore, entry: Entry, obj: Obj, opts: DeleteOptions) -> Obj:
    release = await store.admission.admit("DELETE", store.resource, None, entry.obj, RequestContext())
    if opts.dry_run:
        await release(False)
        return _deleted_response(store, obj)
    try:
        rev, _ = await store.store.delete(entry.key, expected_revision=entry.revision)
    except BaseException:
        await release(False)
        raise
    await release(True)
    obj["metadata"]["resourceVersion"] = str(rev)
    return _deleted_response(store, obj)


def _deleted_response(store: ResourceStore, obj: Obj) -> Obj:
    if store.strategy.return_deleted_object:
        return obj
    r = store.resource
    details: dict[str, Any] = {"name": obj["metadata"]["name"]}
    if r.group:
        details["group"] = r.group
    details["kind"] = r.plural
    details["uid"] = obj["metadata"].get("uid", "")
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


async def delete_collection(store: ResourceStore, namespace: str, list_opts: ListOptions, opts: DeleteOptions,
                            ctx: RequestContext) -> Obj:
    """Delete every matching object; returns the list of what was deleted or marked."""
    await store.cache.wait_fresh()
    match = store.matcher(list_opts)
    items = []
    for entry in store.cache.cache(store.prefix).sorted_entries(store.resource.collection_prefix(namespace)):
        if not match(entry):
            continue
        try:
            body, _ = await delete(store, namespace or entry.obj["metadata"].get("namespace", ""),
                                   entry.obj["metadata"]["name"], opts, ctx)
        except errors.StatusError as e:
            if e.code == 404:
                continue
            raise
        items.append(body if body.get("kind") != "Status" else entry.obj)
    r = store.resource
    return {"kind": r.list_kind, "apiVersion": r.api_version,
            "metadata": {"resourceVersion": str(store.cache.revision)}, "items": items}
