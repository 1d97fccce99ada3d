"""Informers: a local, read-only cache of one resource kept current by list + watch.

Theory of operation (client-go's reflector + indexer, reduced): `run()` lists
the resource, replaces the cache (emitting add/update/delete for the
difference), then watches from the list's resourceVersion with bookmarks. Each
event updates the cache and calls the registered handlers. When the watch ends
it resumes from the last seen resourceVersion; a 410 (Expired/Gone) or any
error relists after a backoff. `synced` is set after the first list. Cached
objects are shared: handlers and readers must copy before changing them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pocketkube.aio.backoff import Backoff
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient

log = logging.getLogger("pocketkube.client.informer")

Obj = dict[str, Any]


def key_of(obj: Obj) -> str:
    m = obj.get("metadata", {})
    ns = m.get("namespace", "")
    return f"{ns}/{m.get('name', '')}" if ns else str(m.get("name", ""))


@dataclass
class Handlers:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


@dataclass
class Informer:
    client: RESTClient
    ref: ResourceRef
    namespace: str = ""
    label_selector: str = ""
    field_selector: str = ""
    cache: dict[str, Obj] = field(default_factory=dict)
    handlers: list[Handlers] = field(default_factory=list)
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    resource_version: str = ""

    def add_handlers(self, handlers: Handlers) -> None:
        self.handlers.append(handlers)

    def get(self, key: str) -> Obj | None:
        return self.cache.get(key)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return list(self.cache.values())
        return [o for o in self.cache.values() if o.get("metadata", {}).get("namespace") == namespace]

    def _params(self) -> dict[str, str]:
        p = {}
        if self.label_selector:
            p["labelSelector"] = self.label_selector
        if self.field_selector:
            p["fieldSelector"] = self.field_selector
        return p

    async def run(self) -> None:
        backoff = Backoff(initial=0.5, maximum=30.0)
        while True:
            try:
                await self._list()
                backoff.reset()
                await self._watch_loop()
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if e.code not in (410,):
                    log.warning("informer %s: %s", self.ref.plural, e)
                    await asyncio.sleep(backoff.next())
            except Exception as e:
                log.warning("informer %s: %s: %s", self.ref.plural, type(e).__name__, e)
                await asyncio.sleep(backoff.next())

    async def _list(self) -> None:
        result = await self.client.list(self.ref, self.namespace, **self._params())
        fresh = {key_of(o): o for o in result.get("items") or []}
        old = self.cache
        self.cache = fresh
        self.resource_version = result.get("metadata", {}).get("resourceVersion", "")
        for k, obj in fresh.items():
            prev = old.get(k)
            if prev is None:
                self._emit("add", obj)
            elif prev.get("metadata", {}).get("resourceVersion") != obj.get("metadata", {}).get("resourceVersion"):
                self._emit("update", obj, prev)
        for k, prev in old.items():
            if k not in fresh:
                self._emit("delete", prev)
        self.synced.set()

    async def _watch_loop(self) -> None:
        while True:
            params = {**self._params(), "resourceVersion": self.resource_version, "allowWatchBookmarks": "true",
                      "timeoutSeconds": "300"}
            async for event in self.client.watch(self.ref, self.namespace, **params):
                self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        rv = obj.get("metadata", {}).get("resourceVersion")
        if rv:
            self.resource_version = rv
        if kind == "BOOKMARK":
            return
        k = key_of(obj)
        if kind == "DELETED":
            self.cache.pop(k, None)
            self._emit("delete", obj)
            return
        prev = self.cache.get(k)
        self.cache[k] = obj
        if prev is None:
            self._emit("add", obj)
        else:
            self._emit("update", obj, prev)

    def _emit(self, what: str, obj: Obj, prev: Obj | None = None) -> None:
        for h in self.handlers:
            try:
                if what == "add" and h.on_add:
                    h.on_add(obj)
                elif what == "update" and h.on_update:
                    assert prev is not None
                    h.on_update(prev, obj)
                elif what == "delete" and h.on_delete:
                    h.on_delete(obj)
            except Exception:
                log.exception("informer %s handler failed", self.ref.plural)
