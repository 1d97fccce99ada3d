"""The informer's local store: objects by key plus secondary indexes (client-go's cache.Indexer).

Theory of operation: `Indexer.items` maps "namespace/name" (or "name") to the
object last seen by the informer. Each registered index function maps an
object to the index values it is filed under (a pod under its node name, a
ReplicaSet's pods under its uid); `indices[name][value]` is the set of keys
filed there and is kept in step on every upsert, delete and replace, so
`by_index` is one dictionary lookup. The namespace index is always present.
Index functions are registered by name; registering the same function again is
a no-op (shared informers are configured by several controllers) and adding an
index to a filled store builds it at once.

Read-only contract: the objects are shared by every reader and handler and
must never be changed in place. Use `deep_copy` (a JSON round trip, much faster
than copy.deepcopy) before changing anything. With the mutation detector on
(`detect_mutation=True` or POCKETKUBE_CACHE_MUTATION_DETECTOR=true, like
client-go's KUBE_CACHE_MUTATION_DETECTOR) the store keeps a serialized copy of
every object and reports objects that changed behind its back, on every write
of the same key and from `check_mutations()`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

log = logging.getLogger("pocketkube.client.indexer")

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], list[str]]

NAMESPACE_INDEX = "namespace"
CONTROLLER_UID_INDEX = "controllerUID"
OWNER_UID_INDEX = "ownerUID"
NODE_NAME_INDEX = "spec.nodeName"


class CacheMutationError(AssertionError):
    """A cached object was changed in place."""


def deep_copy(obj: Obj) -> Obj:
    """A private copy of a JSON object, safe to change."""
    copied: Obj = orjson.loads(orjson.dumps(obj))
    return copied


def index_by_namespace(obj: Obj) -> list[str]:
    return [str((obj.get("metadata") or {}).get("namespace") or "")]


def index_by_controller_uid(obj: Obj) -> list[str]:
    """The uid of the controlling owner; "" for orphans, so they are one lookup away."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return [str(ref.get("uid", ""))]
    return [""]


def index_by_owner_uid(obj: Obj) -> list[str]:
    """The uid of every owner (the garbage collector's view)."""
    return [str(r.get("uid", "")) for r in (obj.get("metadata") or {}).get("ownerReferences") or []]


def index_by_node_name(obj: Obj) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [str(node)] if node else []


def index_by_label(label: str) -> IndexFunc:
    """An index function filing objects under the value of one label."""
    def index(obj: Obj) -> list[str]:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return [str(labels[label])] if label in labels else []
    return index


def mutation_detector_enabled() -> bool:
    return os.environ.get("POCKETKUBE_CACHE_MUTATION_DETECTOR", "").lower() in ("1", "true", "yes")


class Indexer:
    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None, *,
                 detect_mutation: bool | None = None) -> None:
        self.items: dict[str, Obj] = {}
        self.index_funcs: dict[str, IndexFunc] = {NAMESPACE_INDEX: index_by_namespace}
        self.indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        self._filed: dict[str, dict[str, list[str]]] = {}  # key -> index name -> values
        self.detect_mutation = mutation_detector_enabled() if detect_mutation is None else detect_mutation
        self._pristine: dict[str, bytes] = {}
        if indexers:
            self.add_indexers(indexers)

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        for name, func in indexers.items():
            known = self.index_funcs.get(name)
            if known is func:
                continue
            if known is not None:
                raise ValueError(f"indexer {name!r} already registered with another function")
            self.index_funcs[name] = func
            self.indices[name] = {}
            for key, obj in self.items.items():
                self._file(key, name, func(obj))

    def _file(self, key: str, name: str, values: list[str]) -> None:
        self._filed.setdefault(key, {})[name] = values
        index = self.indices[name]
        for v in values:
            index.setdefault(v, set()).add(key)

    def _unfile(self, key: str) -> None:
        for name, values in self._filed.pop(key, {}).items():
            index = self.indices[name]
            for v in values:
                keys = index.get(v)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[v]

    def upsert(self, key: str, obj: Obj) -> Obj | None:
        """Store `obj` under `key`; returns the object it replaced."""
        old = self.items.get(key)
        if old is not None:
            self._verify(key, old)
            self._unfile(key)
        self.items[key] = obj
        for name, func in self.index_funcs.items():
            self._file(key, name, func(obj))
        if self.detect_mutation:
            self._pristine[key] = orjson.dumps(obj)
        return old

    def delete(self, key: str) -> Obj | None:
        old = self.items.pop(key, None)
        if old is not None:
            self._verify(key, old)
            self._unfile(key)
            self._pristine.pop(key, None)
        return old

    def replace(self, items: Mapping[str, Obj]) -> None:
        for key in list(self.items):
            if key not in items:
                self.delete(key)
        for key, obj in items.items():
            self.upsert(key, obj)

    def get(self, key: str) -> Obj | None:
        return self.items.get(key)

    def keys(self) -> list[str]:
        return list(self.items)

    def by_index(self, name: str, value: str) -> list[Obj]:
        return [self.items[k] for k in self.index_keys(name, value)]

    def index_keys(self, name: str, value: str) -> list[str]:
        if name not in self.indices:
            raise KeyError(f"index {name!r} does not exist")
        return sorted(self.indices[name].get(value, ()))

    def index_values(self, name: str) -> list[str]:
        return sorted(self.indices[name])

    def _verify(self, key: str, obj: Obj) -> None:
        if not self.detect_mutation:
            return
        before = self._pristine.get(key)
        if before is not None and before != orjson.dumps(obj):
            log.error("cached object %s was mutated in place; copy objects before changing them", key)
            raise CacheMutationError(f"cached object {key} was mutated in place")

    def check_mutations(self, keys: Iterable[str] | None = None) -> None:
        """Raise CacheMutationError if any cached object changed since it was stored (detector on)."""
        for key in keys if keys is not None else list(self.items):
            obj = self.items.get(key)
            if obj is not None:
                self._verify(key, obj)
