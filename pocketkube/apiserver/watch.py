"""WATCH: stream ADDED/MODIFIED/DELETED/BOOKMARK/ERROR events from the watch cache.

Theory of operation: a watch registers a `Watcher` on the resource's cache with
a predicate built from the namespace, name and selectors, after either a
synthetic ADDED event per current object (resourceVersion "" or "0") or a
replay of the cache window after the given resourceVersion (410 Expired as an
ERROR event when the window no longer reaches back that far). Events are
written as newline-delimited JSON on a chunked 200 response; events already queued
when the writer wakes go out together in one chunk (up to BATCH_BYTES).
Table watches carry one-row Tables, with column definitions only on the first.
The stream ends at timeoutSeconds, when the client goes away, or when the
server shuts the watcher down (a slow watcher, a relist of the cache).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pocketkube.apiserver import codec, responses, tables
from pocketkube.apiserver.watchcache import Entry, TooOld
from pocketkube.machinery import errors

if TYPE_CHECKING:
    from pocketkube.apiserver.store import ListOptions, ResourceStore

BOOKMARK_INTERVAL = 60.0
DEFAULT_TIMEOUT = 1800.0
BATCH_BYTES = 256 * 1024


def _timeout(query: dict[str, str]) -> float:
    raw = query.get("timeoutSeconds")
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f"invalid timeoutSeconds: {raw}") from None
    return float(value) if value > 0 else DEFAULT_TIMEOUT


class EventEncoder:
    """Encodes one watch event in the shape the client asked for."""

    def __init__(self, store: ResourceStore, shape: codec.Shape, include: str) -> None:
        self.store = store
        self.shape = shape
        self.include = include
        self.first_table = True

    def encode(self, kind: str, entry: Entry) -> bytes:
        store = self.store
        if self.shape.kind == "table":
            obj = store.present(entry.obj)
            t = tables.table(store.resource, [obj], include=self.include,
                             resource_version=obj["metadata"].get("resourceVersion", ""),
                             with_columns=self.first_table, version=self.shape.table_version)
            self.first_table = False
            return responses.dumps({"type": kind, "object": t}) + b"\n"
        if self.shape.kind == "partial":
            obj = tables.partial(store.present(entry.obj), self.shape.table_version)
            return responses.dumps({"type": kind, "object": obj}) + b"\n"
        if store.converts:
            return responses.dumps({"type": kind, "object": store.present(entry.obj)}) + b"\n"
        return b'{"type":"' + kind.encode() + b'","object":' + entry.raw() + b"}\n"

    def bookmark(self, revision: int, annotations: dict[str, str] | None = None) -> bytes:
        r = self.store.resource
        meta: dict[str, Any] = {"resourceVersion": str(revision)}
        if annotations:
            meta["annotations"] = annotations
        return responses.dumps({"type": "BOOKMARK", "object": {"kind": r.kind, "apiVersion": r.api_version,
                                                               "metadata": meta}}) + b"\n"


async def serve(request: web.Request, store: ResourceStore, ns: str, name: str, query: dict[str, str],
                opts: ListOptions) -> web.StreamResponse:
    shape = codec.negotiate(request.headers.get("Accept"))
    include = tables.check_include(query.get("includeObject", "")) if shape.kind == "table" else ""
    predicate = store.matcher(opts)
    prefix = store.resource.collection_prefix(ns)
    key = store.resource.object_key(ns, name) if name else ""

    def match(e: Entry) -> bool:
        return e.key.startswith(prefix) and (not key or e.key == key) and predicate(e)

    rv = opts.resource_version
    after: int | None = None
    if rv not in ("", "0"):
        try:
            after = int(rv)
        except ValueError:
            raise errors.bad_request(f'invalid resource version "{rv}"') from None
        await store.cache.wait_for(after)
    elif rv == "":
        await store.cache.wait_fresh()
    cache = store.cache
    encoder = EventEncoder(store, shape, include)
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                   "Cache-Control": "no-cache, private"})
    resp.enable_chunked_encoding()
    try:
        watcher, backlog = cache.start_watch(store.prefix, match, after,
                                             lambda c: c.sorted_entries(prefix))
    except TooOld as e:
        await resp.prepare(request)
        status = errors.expired(str(e)).status()
        await resp.write(responses.dumps({"type": "ERROR", "object": status}) + b"\n")
        return resp
    try:
        await resp.prepare(request)
        await _write_all(resp, (encoder.encode(kind, entry) for kind, entry in backlog))
        if query.get("sendInitialEvents") == "true" and query.get("allowWatchBookmarks") == "true":
            await resp.write(encoder.bookmark(cache.revision, {"k8s.io/initial-events-end": "true"}))
        await _pump(resp, watcher, encoder, cache, query)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        cache.stop_watch(store.prefix, watcher)
    return resp


async def _pump(resp: web.StreamResponse, watcher: Any, encoder: EventEncoder, cache: Any,
                query: dict[str, str]) -> None:
    deadline = time.monotonic() + _timeout(query)
    bookmarks = query.get("allowWatchBookmarks") == "true"
    next_bookmark = time.monotonic() + BOOKMARK_INTERVAL
    while True:
        now = time.monotonic()
        wait = deadline - now
        if bookmarks:
            wait = min(wait, next_bookmark - now)
        if wait <= 0:
            if now >= deadline:
                return
            await resp.write(encoder.bookmark(cache.revision))
            next_bookmark = now + BOOKMARK_INTERVAL
            continue
        item = None
        with contextlib.suppress(TimeoutError):
            item = await asyncio.wait_for(watcher.queue.get(), wait)
        if item is None:
            if watcher.closed:
                return
            continue
        if not await _write_batch(resp, watcher, encoder, item):
            return


async def _write_all(resp: web.StreamResponse, events: Iterable[bytes]) -> None:
    chunks: list[bytes] = []
    size = 0
    for chunk in events:
        chunks.append(chunk)
        size += len(chunk)
        if size >= BATCH_BYTES:
            await resp.write(b"".join(chunks))
            chunks, size = [], 0
    if chunks:
        await resp.write(b"".join(chunks))


async def _write_batch(resp: web.StreamResponse, watcher: Any, encoder: EventEncoder,
                       first: tuple[str, Entry]) -> bool:
    """Write `first` and whatever else is queued already, so a burst costs one chunk per
    BATCH_BYTES rather than one per event (the stream's bytes are the same). False when the
    watcher was closed meanwhile."""
    closed = False

    def queued() -> Iterator[bytes]:
        nonlocal closed
        yield encoder.encode(*first)
        while not watcher.queue.empty():
            nxt = watcher.queue.get_nowait()
            if nxt is None:
                closed = True
                return
            yield encoder.encode(*nxt)

    await _write_all(resp, queued())
    return not closed
