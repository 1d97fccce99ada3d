"""Informers: a local, read-only, indexed cache of one resource kept current by list + watch.

Theory of operation (client-go's reflector + indexer + shared informer, reduced):
- List. The first list asks for resourceVersion "0", which the apiserver
  serves from its watch cache without paging (as client-go's reflector does).
  A relist asks for the last resourceVersion seen (at least that fresh, also
  from the cache); if the server says that version is unavailable (410, or 504
  "Too large resource version") the informer falls back to a consistent list
  (resourceVersion "", paged 500 at a time, restarting without paging if a
  continue token expires). The result replaces the store and the difference is
  emitted as add / update (resourceVersion changed) / delete events.
- Watch. From the list's resourceVersion, with allowWatchBookmarks and a
  timeoutSeconds drawn from [300, 600) s. Each event updates the store and
  calls the handlers; bookmarks only advance the resourceVersion. When the
  server ends the stream the informer resumes from the last resourceVersion;
  transport errors and 429/5xx retry the watch after a backoff; 410
  Expired/Gone (the version left the watch cache) relists. A stream that ends
  at once with no events also relists after the backoff (client-go's "very
  short watch").
- Handlers get plain objects, never tombstones: on_delete receives the final
  state from the DELETED event, or the last known state when an object
  vanished between lists (client-go's DeletedFinalStateUnknown, unwrapped
  here once). A handler added after the first list is replayed an add for
  every cached object. With `resync_period` every cached object is also
  re-delivered as on_update(obj, obj) that often.
- Store. `Indexer` keeps the objects by "namespace/name" with a built-in
  namespace index plus any registered ones (`by_index`). Objects are shared
  and read-only: copy them (`get_copy`, indexer.deep_copy) before changing.
- `metadata_only=True` lists and watches PartialObjectMetadata (the garbage
  collector's view of every resource). `synced` is set after the first list;
  `wait_for_cache_sync` waits for several informers.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pocketkube.aio.backoff import Backoff
from pocketkube.client import rest
from pocketkube.client.clock import monotonic
from pocketkube.client.indexer import NAMESPACE_INDEX, Indexer, IndexFunc, deep_copy
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient

log = logging.getLogger("pocketkube.client.informer")

Obj = dict[str, Any]

WATCH_MIN_TIMEOUT = 300.0
LIST_PAGE_SIZE = 500
SHORT_WATCH = 1.0


def key_of(obj: Obj) -> str:
    m = obj.get("metadata", {})
    ns = m.get("namespace", "")
    return f"{ns}/{m.get('name', '')}" if ns else str(m.get("name", ""))


def _rv(obj: Obj | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion", ""))


@dataclass
class Handlers:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


@dataclass
class InformerStatistics:
    lists: int = 0
    watches: int = 0
    expired: int = 0
    events: int = 0


class Informer:
    def __init__(self, client: RESTClient, ref: ResourceRef, namespace: str = "", label_selector: str = "",
                 field_selector: str = "", *, metadata_only: bool = False, resync_period: float = 0.0,
                 indexers: Mapping[str, IndexFunc] | None = None, detect_mutation: bool | None = None,
                 watch_timeout: float = WATCH_MIN_TIMEOUT, page_size: int = LIST_PAGE_SIZE) -> None:
        self.client = client
        self.ref = ref
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.metadata_only = metadata_only
        self.resync_period = resync_period
        self.watch_timeout = watch_timeout
        self.page_size = page_size
        self.store = Indexer(indexers, detect_mutation=detect_mutation)
        self.handlers: list[Handlers] = []
        self.synced = asyncio.Event()
        self.resource_version = ""
        self.stats = InformerStatistics()
        self._rv_unavailable = False

    # ------------------------------------------------------------------ reading
    @property
    def cache(self) -> dict[str, Obj]:
        """key -> object (read-only view; do not change the objects)."""
        return self.store.items

    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    def get_copy(self, key: str) -> Obj | None:
        """A private copy of the cached object, safe to change."""
        obj = self.store.get(key)
        return deep_copy(obj) if obj is not None else None

    def list(self, namespace: str | None = None) -> builtins.list[Obj]:
        if namespace is None:
            return builtins.list(self.store.items.values())
        return self.store.by_index(NAMESPACE_INDEX, namespace)

    def by_index(self, name: str, value: str) -> builtins.list[Obj]:
        return self.store.by_index(name, value)

    def index_keys(self, name: str, value: str) -> builtins.list[str]:
        return self.store.index_keys(name, value)

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        self.store.add_indexers(indexers)

    def has_synced(self) -> bool:
        return self.synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> bool:
        return await wait_for_cache_sync(self, timeout=timeout)

    def check_mutations(self) -> None:
        """Raise indexer.CacheMutationError if a cached object was changed in place (detector on)."""
        self.store.check_mutations()

    def statistics(self) -> InformerStatistics:
        return self.stats

    # ------------------------------------------------------------------ handlers
    def add_handlers(self, handlers: Handlers) -> Handlers:
        """Register handlers; if the cache is already filled they first see every object as added."""
        self.handlers.append(handlers)
        if self.synced.is_set() and handlers.on_add:
            for obj in builtins.list(self.store.items.values()):
                self._call(handlers.on_add, obj)
        return handlers

    def remove_handlers(self, handlers: Handlers) -> None:
        self.handlers.remove(handlers)

    def _call(self, fn: Callable[..., None], *args: Obj) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("informer %s handler failed", self.ref.plural)

    def _emit(self, what: str, obj: Obj, prev: Obj | None = None) -> None:
        for h in builtins.list(self.handlers):
            if what == "add" and h.on_add:
                self._call(h.on_add, obj)
            elif what == "update" and h.on_update:
                self._call(h.on_update, prev if prev is not None else obj, obj)
            elif what == "delete" and h.on_delete:
                self._call(h.on_delete, obj)

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._reflect(), name=f"reflector-{self.ref.plural}")
            if self.resync_period > 0:
                tg.create_task(self._resync(), name=f"resync-{self.ref.plural}")

    def _params(self) -> dict[str, str]:
        p = {}
        if self.label_selector:
            p["labelSelector"] = self.label_selector
        if self.field_selector:
            p["fieldSelector"] = self.field_selector
        return p

    async def _reflect(self) -> None:
        backoff = Backoff(initial=0.8, maximum=30.0)
        while True:
            try:
                await self._list()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("informer %s: list failed: %s", self.ref.plural, e)
                await asyncio.sleep(backoff.next())
                continue
            healthy_since = monotonic()
            await self._watch(backoff)
            if monotonic() - healthy_since > 120.0:
                backoff.reset()
            await asyncio.sleep(backoff.next())

    async def _resync(self) -> None:
        await self.synced.wait()
        while True:
            await asyncio.sleep(self.resync_period)
            for obj in builtins.list(self.store.items.values()):
                self._emit("update", obj, obj)

    # ------------------------------------------------------------------ list
    async def _list(self) -> None:
        rv = "" if self._rv_unavailable else (self.resource_version or "0")
        try:
            items, list_rv = await self._list_pages(rv)
        except ApiError as e:
            if not (e.code == 410 or (e.code == 504 and "Too large resource version" in e.message)):
                raise
            self._rv_unavailable = True
            items, list_rv = await self._list_pages("")
        self._rv_unavailable = False
        self.stats.lists += 1
        self._replace(items, list_rv)

    async def _list_pages(self, rv: str) -> tuple[builtins.list[Obj], str]:
        accept = rest.PARTIAL_OBJECT_METADATA_LIST if self.metadata_only else ""
        params = {**self._params(), "resourceVersion": rv}
        if rv == "" and self.page_size:
            params["limit"] = str(self.page_size)
        items: builtins.list[Obj] = []
        while True:
            try:
                page = await self.client.list(self.ref, self.namespace, accept=accept, **params)
            except ApiError as e:
                if e.code != 410 or "continue" not in params:
                    raise
                params.pop("continue")  # the continue token expired: one full list instead
                params.pop("limit", None)
                items = []
                continue
            _fill_type(page)
            items.extend(page.get("items") or [])
            meta = page.get("metadata") or {}
            if not meta.get("continue"):
                return items, str(meta.get("resourceVersion", ""))
            params["continue"] = meta["continue"]

    def _replace(self, items: builtins.list[Obj], rv: str) -> None:
        fresh = {key_of(o): o for o in items}
        old = dict(self.store.items)
        self.store.replace(fresh)
        self.resource_version = rv
        for key, obj in fresh.items():
            prev = old.get(key)
            if prev is None:
                self._emit("add", obj)
            elif _rv(prev) != _rv(obj):
                self._emit("update", obj, prev)
        for key, prev in old.items():
            if key not in fresh:
                self._emit("delete", prev)
        self.synced.set()

    # ------------------------------------------------------------------ watch
    async def _watch(self, backoff: Backoff) -> None:
        """Watch from the last resourceVersion until a relist is needed."""
        accept = rest.PARTIAL_OBJECT_METADATA if self.metadata_only else ""
        while True:
            timeout = int(self.watch_timeout * (1.0 + random.random()))
            params = {**self._params(), "resourceVersion": self.resource_version,
                      "allowWatchBookmarks": "true", "timeoutSeconds": str(timeout)}
            started, seen = monotonic(), self.stats.events
            self.stats.watches += 1
            try:
                async for event in self.client.watch(self.ref, self.namespace, accept=accept, **params):
                    self.stats.events += 1
                    self._apply(event)
            except ApiError as e:
                if e.code == 410:
                    self.stats.expired += 1
                    log.info("informer %s: watch expired (%s); relisting", self.ref.plural, e.message)
                    return
                if e.code != 429 and e.code < 500:
                    log.warning("informer %s: watch failed: %s", self.ref.plural, e)
                    return
                log.info("informer %s: watch failed, retrying: %s", self.ref.plural, e)
                await asyncio.sleep(backoff.next())
                continue
            except Exception as e:  # transport trouble: resume from the last resourceVersion
                log.info("informer %s: watch broken, resuming: %s: %s", self.ref.plural, type(e).__name__, e)
                await asyncio.sleep(backoff.next())
                continue
            if self.stats.events == seen and monotonic() - started < SHORT_WATCH:
                log.warning("informer %s: very short watch; relisting", self.ref.plural)
                return

    def _apply(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        rv = _rv(obj)
        if rv:
            self.resource_version = rv
        if kind == "BOOKMARK":
            return
        key = key_of(obj)
        if kind == "DELETED":
            self.store.delete(key)
            self._emit("delete", obj)
        elif kind in ("ADDED", "MODIFIED"):
            prev = self.store.upsert(key, obj)
            if prev is None:
                self._emit("add", obj)
            else:
                self._emit("update", obj, prev)
        else:
            log.warning("informer %s: unexpected watch event type %r", self.ref.plural, kind)


def _fill_type(page: Obj) -> None:
    """List items carry no kind/apiVersion on the wire; give them the list's."""
    kind = str(page.get("kind", ""))
    item_kind = kind[:-4] if kind.endswith("List") else ""
    api_version = page.get("apiVersion", "")
    for item in page.get("items") or []:
        if item_kind and "kind" not in item:
            item["kind"] = item_kind
        if api_version and "apiVersion" not in item:
            item["apiVersion"] = api_version


async def wait_for_cache_sync(*informers: Informer, timeout: float | None = None) -> bool:
    """Wait until every informer has listed once; False if `timeout` seconds pass first."""
    try:
        async with asyncio.timeout(timeout):
            for inf in informers:
                await inf.synced.wait()
    except TimeoutError:
        return False
    return True
