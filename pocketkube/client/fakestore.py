"""The in-memory object store behind `fake.FakeClient` (client-go's testing.ObjectTracker, with watch).

Theory of operation: objects live per resource (group, plural) by
"namespace/name". One global counter plays etcd's revision: every write takes
the next number as the object's resourceVersion and appends (revision, event)
to a bounded history. Watchers register with a predicate (namespace, label and
field selectors) and get their events through an asyncio queue: a watch from
"" or "0" first receives ADDED for every current object, a watch from N
replays the history after N, and a watch from before the compacted revision
fails with 410 Expired, as the apiserver's watch cache does. An object that
moves into or out of a watcher's selector is seen as ADDED / DELETED.

Server behaviour kept because controllers depend on it: uid, creationTimestamp,
generation (bumped when anything outside metadata/status changes) and
resourceVersion are assigned; an update carrying a stale resourceVersion is a
409 Conflict; the main resource keeps the stored status when the resource has
a status subresource, and the status subresource changes only status; delete
of an object with finalizers (for namespaces also spec.finalizers) only sets
deletionTimestamp, and the object goes away when its last finalizer is
removed. Not emulated: admission, defaulting, validation, graceful pod
deletion, garbage collection (client-go's fake does none of these either).
Returned objects are always copies; the store's own objects never leak.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pocketkube.api import labels
from pocketkube.api.scheme import SCHEME
from pocketkube.client.clock import WallClock, rfc3339, wall
from pocketkube.client.indexer import deep_copy
from pocketkube.client.rest import ApiError, ResourceRef
from pocketkube.machinery import errors

Obj = dict[str, Any]
GroupResource = tuple[str, str]
HISTORY_LIMIT = 10000
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def api_error(err: errors.StatusError) -> ApiError:
    return ApiError.from_status_error(err)


def _field_value(obj: Obj, path: str) -> str | None:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


@dataclass
class Predicate:
    namespace: str = ""
    label_selector: str = ""
    field_selector: str = ""

    def __post_init__(self) -> None:
        self._labels = labels.parse_label_selector(self.label_selector) if self.label_selector else ()
        self._fields = labels.parse_field_selector(self.field_selector) if self.field_selector else ()

    def __call__(self, obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        if self.namespace and meta.get("namespace", "") != self.namespace:
            return False
        if self._labels and not labels.matches(self._labels, meta.get("labels")):
            return False
        return not self._fields or labels.field_matches(self._fields, lambda p: _field_value(obj, p))


@dataclass
class Watcher:
    resource: GroupResource
    predicate: Predicate
    bookmarks: bool = False
    queue: asyncio.Queue[tuple[str, Obj] | ApiError | None] = field(default_factory=asyncio.Queue)

    def offer(self, kind: str, obj: Obj, old: Obj | None) -> None:
        now, before = self.predicate(obj), old is not None and self.predicate(old)
        if kind == "MODIFIED" and now != before:
            kind = "ADDED" if now else "DELETED"
        elif not now and not (kind == "DELETED" and before):
            return
        self.queue.put_nowait((kind, deep_copy(obj)))


def _finalizers(resource: GroupResource, obj: Obj) -> list[str]:
    found = list((obj.get("metadata") or {}).get("finalizers") or [])
    if resource == ("", "namespaces"):
        found += (obj.get("spec") or {}).get("finalizers") or []
    return found


def _has_status(ref: ResourceRef) -> bool:
    res = SCHEME.get(ref.group, ref.version, ref.plural)
    return res is not None and res.subresource("status") is not None


def _without(obj: Obj, *fields: str) -> Obj:
    return {k: v for k, v in obj.items() if k not in fields}


class ObjectTracker:
    def __init__(self, now: WallClock = wall) -> None:
        self.now = now
        self.objects: dict[GroupResource, dict[str, Obj]] = {}
        self.revision = 1  # like etcd: a fresh store is at revision 1, never 0
        self.compacted = 1
        self.history: deque[tuple[int, GroupResource, str, Obj, Obj | None]] = deque(maxlen=HISTORY_LIMIT)
        self.watchers: list[Watcher] = []
        self._names = 0

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def key(namespace: str, name: str) -> str:
        return f"{namespace}/{name}" if namespace else name

    def _bucket(self, ref: ResourceRef) -> dict[str, Obj]:
        return self.objects.setdefault((ref.group, ref.plural), {})

    def _not_found(self, ref: ResourceRef, name: str) -> ApiError:
        return api_error(errors.not_found_error(ref.plural, ref.group, name))

    def _record(self, ref: ResourceRef, kind: str, obj: Obj, old: Obj | None) -> None:
        gr = (ref.group, ref.plural)
        self.history.append((self.revision, gr, kind, deep_copy(obj), deep_copy(old) if old else None))
        if self.history.maxlen and len(self.history) == self.history.maxlen:
            self.compacted = self.history[0][0] - 1
        for w in list(self.watchers):
            if w.resource == gr:
                w.offer(kind, obj, old)

    def _stamp(self, obj: Obj) -> None:
        self.revision += 1
        obj["metadata"]["resourceVersion"] = str(self.revision)

    def _type(self, ref: ResourceRef, obj: Obj) -> None:
        res = SCHEME.get(ref.group, ref.version, ref.plural)
        if res is not None:
            obj.setdefault("kind", res.kind)
        obj.setdefault("apiVersion", ref.api_version)

    # ------------------------------------------------------------------ reads
    def get(self, ref: ResourceRef, namespace: str, name: str) -> Obj:
        obj = self._bucket(ref).get(self.key(namespace if ref.namespaced else "", name))
        if obj is None:
            raise self._not_found(ref, name)
        return deep_copy(obj)

    def list(self, ref: ResourceRef, predicate: Predicate) -> tuple[list[Obj], str]:
        items = [deep_copy(o) for k, o in sorted(self._bucket(ref).items()) if predicate(o)]
        return items, str(self.revision)

    # ------------------------------------------------------------------ writes
    def create(self, ref: ResourceRef, namespace: str, body: Obj) -> Obj:
        obj = deep_copy(body)
        meta = obj.setdefault("metadata", {})
        if ref.namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            self._names += 1
            suffix = "".join(_NAME_CHARS[(self._names * 7 + i * 13) % len(_NAME_CHARS)] for i in range(5))
            meta["name"] = meta["generateName"] + suffix
        if not meta.get("name"):
            raise api_error(errors.invalid_error(ref.plural, ref.group, "", [
                errors.required("metadata.name", "name or generateName is required")]))
        key = self.key(meta.get("namespace", ""), meta["name"])
        bucket = self._bucket(ref)
        if key in bucket:
            raise api_error(errors.already_exists(ref.plural, ref.group, meta["name"]))
        self._type(ref, obj)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", rfc3339(self.now()))
        meta.setdefault("generation", 1)
        self._stamp(obj)
        bucket[key] = obj
        self._record(ref, "ADDED", obj, None)
        return deep_copy(obj)

    def update(self, ref: ResourceRef, body: Obj, subresource: str = "", *, raw: bool = False) -> Obj:
        """PUT semantics (see the module doc); `raw` stores the body as is (spec and status)."""
        meta = body.get("metadata") or {}
        namespace = meta.get("namespace", "") if ref.namespaced else ""
        key = self.key(namespace, meta.get("name", ""))
        bucket = self._bucket(ref)
        old = bucket.get(key)
        if old is None:
            raise self._not_found(ref, meta.get("name", ""))
        want = meta.get("resourceVersion")
        if want and want != old["metadata"].get("resourceVersion"):
            raise api_error(errors.conflict(ref.plural, ref.group, meta["name"], errors.MODIFIED))
        new = deep_copy(body) if raw else self._merged(ref, old, deep_copy(body), subresource)
        self._stamp(new)
        if new["metadata"].get("deletionTimestamp") and not _finalizers((ref.group, ref.plural), new):
            del bucket[key]
            self._record(ref, "DELETED", new, old)
            return deep_copy(new)
        bucket[key] = new
        self._record(ref, "MODIFIED", new, old)
        return deep_copy(new)

    def _merged(self, ref: ResourceRef, old: Obj, new: Obj, subresource: str) -> Obj:
        if subresource == "status":
            merged = deep_copy(old)
            merged["status"] = new.get("status")
            return merged
        if subresource == "finalize":
            merged = deep_copy(old)
            merged.setdefault("spec", {})["finalizers"] = (new.get("spec") or {}).get("finalizers") or []
            return merged
        meta = new.setdefault("metadata", {})
        for fixed in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp",
                      "deletionGracePeriodSeconds"):
            if fixed in old["metadata"]:
                meta[fixed] = old["metadata"][fixed]
        if _has_status(ref):
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        self._type(ref, new)
        generation = int(old["metadata"].get("generation") or 1)
        if _without(old, "metadata", "status") != _without(new, "metadata", "status"):
            generation += 1
        meta["generation"] = generation
        return new

    def delete(self, ref: ResourceRef, namespace: str, name: str, options: Obj | None = None) -> Obj:
        key = self.key(namespace if ref.namespaced else "", name)
        bucket = self._bucket(ref)
        old = bucket.get(key)
        if old is None:
            raise self._not_found(ref, name)
        pre = (options or {}).get("preconditions") or {}
        for fld in ("uid", "resourceVersion"):
            if pre.get(fld) and pre[fld] != old["metadata"].get(fld):
                raise api_error(errors.conflict(ref.plural, ref.group, name,
                                                f"Precondition failed: {fld}: {pre[fld]}, "
                                                f"ObjectMeta.{fld[0].upper() + fld[1:]}: {old['metadata'].get(fld)}"))
        gr = (ref.group, ref.plural)
        if _finalizers(gr, old):
            if old["metadata"].get("deletionTimestamp"):
                return deep_copy(old)
            new = deep_copy(old)
            new["metadata"]["deletionTimestamp"] = rfc3339(self.now())
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            if gr == ("", "namespaces"):
                new.setdefault("status", {})["phase"] = "Terminating"
            self._stamp(new)
            bucket[key] = new
            self._record(ref, "MODIFIED", new, old)
            return deep_copy(new)
        del bucket[key]
        gone = deep_copy(old)
        self._stamp(gone)
        self._record(ref, "DELETED", gone, old)
        return gone

    def put(self, ref: ResourceRef, body: Obj) -> Obj:
        """Insert or overwrite without any checks (seeding a test); still a watch event."""
        obj = deep_copy(body)
        meta = obj.setdefault("metadata", {})
        if ref.namespaced:
            meta.setdefault("namespace", "default")
        key = self.key(meta.get("namespace", "") if ref.namespaced else "", meta.get("name", ""))
        self._type(ref, obj)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", rfc3339(self.now()))
        old = self._bucket(ref).get(key)
        self._stamp(obj)
        self._bucket(ref)[key] = obj
        self._record(ref, "MODIFIED" if old else "ADDED", obj, old)
        return deep_copy(obj)

    # ------------------------------------------------------------------ watch
    def watch(self, ref: ResourceRef, predicate: Predicate, resource_version: str,
              bookmarks: bool = False) -> Watcher:
        w = Watcher((ref.group, ref.plural), predicate, bookmarks)
        if resource_version in ("", "0"):
            for _, obj in sorted(self._bucket(ref).items()):
                if predicate(obj):
                    w.queue.put_nowait(("ADDED", deep_copy(obj)))
        else:
            start = int(resource_version)
            if start < self.compacted:
                raise api_error(errors.expired(f"too old resource version: {start} ({self.compacted + 1})"))
            for rev, gr, kind, obj, old in self.history:
                if rev > start and gr == w.resource:
                    w.offer(kind, obj, old)
        self.watchers.append(w)
        return w

    def stop_watch(self, w: Watcher) -> None:
        if w in self.watchers:
            self.watchers.remove(w)

    def compact(self) -> None:
        """Forget the history: watches from any earlier resourceVersion now get 410 Expired."""
        self.history.clear()
        self.compacted = self.revision

    def end_watches(self, error: Callable[[], ApiError] | None = None) -> None:
        """End every open watch stream (normally, or with the error `error()` builds)."""
        for w in list(self.watchers):
            w.queue.put_nowait(error() if error else None)

    def bookmark(self) -> None:
        """Send a BOOKMARK at the current revision to watchers that asked for bookmarks."""
        for w in self.watchers:
            if w.bookmarks:
                w.queue.put_nowait(("BOOKMARK", {"metadata": {"resourceVersion": str(self.revision)}}))
