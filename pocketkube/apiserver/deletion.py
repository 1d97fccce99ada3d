"""DELETE and DELETECOLLECTION: preconditions, graceful deletion, finalizers, removal.

Theory of operation (upstream Store.Delete + rest.BeforeDelete):
1. Preconditions (uid, resourceVersion) must match the stored object (409).
2. Graceful kinds (pods) get deletionTimestamp = now + grace and stay until their
   node agent confirms with a zero-grace delete; a second delete may only shorten
   the grace period.
3. The propagation policy becomes the garbage collector's finalizers (`orphan`,
   `foregroundDeletion`); an object with any finalizer is only marked
   (deletionTimestamp, deletionGracePeriodSeconds 0, generation bumped the first
   time: upstream markAsDeleting) and removed later, when an update drops its
   last finalizer (store.should_delete_during_update).
4. Otherwise the key is deleted and the answer is either the deleted object or a
   Success Status, per the strategy.
Namespaces follow their own REST: the first delete only sets deletionTimestamp
(no grace period) and phase Terminating, leaving the rest to the namespace
controller; a later delete is a 409 while `spec.finalizers` remain, else an
ordinary delete.
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
    """rest.BeforeDelete's checks (Conflict on the kind, as upstream words it); namespaces use their REST's."""
    m = obj["metadata"]
    name, uid, rv = m["name"], m.get("uid", ""), m.get("resourceVersion", "")
    r = store.resource
    if _is_namespace(store):
        if opts.precondition_uid is not None and opts.precondition_uid != uid:
            raise errors.conflict(r.plural, r.group, name, f"Precondition failed: UID in precondition: "
                                                           f"{opts.precondition_uid}, UID in object meta: {uid}")
        if opts.precondition_rv is not None and opts.precondition_rv != rv:
            raise errors.conflict(r.plural, r.group, name,
                                  f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                                  f"ResourceVersion in object meta: {rv}")
        return
    if opts.precondition_uid is not None and opts.precondition_uid != uid:
        raise errors.conflict(r.kind, r.group, name, f"the UID in the precondition ({opts.precondition_uid}) does "
                                                     f"not match the UID in record ({uid}). The object might have "
                                                     "been deleted and then recreated")
    if opts.precondition_rv is not None and opts.precondition_rv != rv:
        raise errors.conflict(r.kind, r.group, name, f"the ResourceVersion in the precondition "
                                                     f"({opts.precondition_rv}) does not match the ResourceVersion "
                                                     f"in record ({rv}). The object might have been modified")


def _is_namespace(store: ResourceStore) -> bool:
    return (store.resource.plural, store.resource.group) == ("namespaces", "")


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
    if finalizers and not graceful:
        changed = _mark_as_deleting(m, ctx) or changed
    return bool(finalizers) or graceful, changed


def _mark_as_deleting(m: Obj, ctx: RequestContext) -> bool:
    """Upstream markAsDeleting: finalizers hold a non-graceful delete. The first mark bumps a tracked
    generation; a deletionTimestamp in the future moves to now; the grace period is 0."""
    before = (m.get("deletionTimestamp"), m.get("deletionGracePeriodSeconds"), m.get("generation"))
    now = ctx.timestamp()
    if "deletionTimestamp" not in m:
        if m.get("generation"):
            m["generation"] += 1
        m["deletionTimestamp"] = now
    elif m["deletionTimestamp"] > now:
        m["deletionTimestamp"] = now
    m["deletionGracePeriodSeconds"] = 0
    return before != (m.get("deletionTimestamp"), m.get("deletionGracePeriodSeconds"), m.get("generation"))


def _mark_namespace(obj: Obj, opts: DeleteOptions, ctx: RequestContext) -> None:
    """The namespace REST's first delete: deletionTimestamp (no grace period), phase Terminating and the
    garbage collector's finalizers; the namespace controller takes it from there."""
    m = obj["metadata"]
    m["deletionTimestamp"] = ctx.timestamp()
    obj.setdefault("status", {})["phase"] = "Terminating"
    finalizers = _gc_finalizers(m.get("finalizers") or [], opts.propagation)
    if finalizers:
        m["finalizers"] = finalizers
    else:
        m.pop("finalizers", None)


NAMESPACE_NOT_EMPTY = ("The system is ensuring all content is removed from this namespace.  Upon completion, this "
                       "namespace will automatically be purged by the system.")


def _mark_for_delete(store: ResourceStore, obj: Obj, opts: DeleteOptions, ctx: RequestContext) -> tuple[bool, bool]:
    """Returns (keep_object, changed); namespaces first go Terminating, then wait for spec.finalizers."""
    if _is_namespace(store):
        if "deletionTimestamp" not in obj["metadata"]:
            _mark_namespace(obj, opts, ctx)
            return True, True
        if (obj.get("spec") or {}).get("finalizers"):
            raise errors.conflict("namespaces", "", obj["metadata"]["name"], NAMESPACE_NOT_EMPTY)
    return _mark(store, obj, opts, ctx)


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
        keep, changed = _mark_for_delete(store, obj, opts, ctx)
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
