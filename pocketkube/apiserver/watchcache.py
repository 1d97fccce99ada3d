"""The watch cache: current objects and recent changes of every resource, in memory.

Theory of operation: one storage watch over the whole `/registry/` keyspace
feeds every resource's `ResourceCache` (dispatch by the key's resource prefix),
after an initial paged list at one revision. Each cache holds the current
objects (decoded once, treated as immutable, JSON bytes encoded lazily once)
and a window of recent changes ordered by revision. Lists and watches are served
from here, as kube-apiserver's cacher does:

- a consistent read (resourceVersion "") first asks storage for its current
  revision and waits until the cache has caught up to it;
- a watch from resourceVersion N replays the window's changes after N, then
  streams live ones; N older than the window gets 410 Expired;
- watchers carry a predicate; a change is delivered as ADDED/MODIFIED/DELETED
  according to whether the old and new states match it (an object that stops
  matching a selector is DELETED for that watcher).

All global revisions are storage revisions, so `revision` advances with every
event of any resource.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import heapq
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pocketkube.storage import interface as storage

log = logging.getLogger("pocketkube.apiserver.watchcache")

ROOT = "/registry/"
WINDOW_SECONDS = 300.0
WINDOW_MIN_CHANGES = 1000
WATCHER_QUEUE_LIMIT = 100_000


@dataclass(slots=True)
class Entry:
    """One object state as stored at `revision` (its resourceVersion)."""

    key: str
    obj: dict[str, Any]
    revision: int
    _raw: bytes | None = None

    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = orjson.dumps(self.obj)
        return self._raw

    def copy(self) -> dict[str, Any]:
        """A private deep copy of the object (JSON round trip is faster than deepcopy)."""
        result: dict[str, Any] = orjson.loads(self.raw())
        return result


@dataclass(slots=True)
class Change:
    type: str  # ADDED | MODIFIED | DELETED
    entry: Entry  # the new state; for DELETED the last state at the delete's revision
    prev: Entry | None
    revision: int
    at: float = 0.0
    # The DELETED entry for watchers the object stops matching, built once for them all.
    _left: Entry | None = field(default=None, compare=False, repr=False)

    def left_entry(self) -> Entry:
        """Upstream's event for an object leaving a watcher's filter: DELETED carrying the previous
        content, at this change's resourceVersion."""
        if self._left is None:
            assert self.prev is not None
            obj = dict(self.prev.obj)
            obj["metadata"] = {**(obj.get("metadata") or {}), "resourceVersion": str(self.revision)}
            self._left = Entry(self.prev.key, obj, self.revision)
        return self._left


def decode_entry(key: str, value: bytes, revision: int) -> Entry:
    obj = orjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return Entry(key, obj, revision)


class Watcher:
    """One client watch: a queue of (type, entry) filtered by a predicate."""

    def __init__(self, predicate: Callable[[Entry], bool]) -> None:
        self.predicate = predicate
        self.queue: asyncio.Queue[tuple[str, Entry] | None] = asyncio.Queue()
        self.closed = False

    def offer(self, change: Change) -> None:
        if self.closed:
            return
        new_ok = change.type != "DELETED" and self.predicate(change.entry)
        old_ok = change.prev is not None and self.predicate(change.prev)
        if change.type == "DELETED":
            if old_ok:
                self._put(("DELETED", change.entry))
        elif new_ok and old_ok:
            self._put(("MODIFIED", change.entry))
        elif new_ok:
            self._put(("ADDED", change.entry))
        elif old_ok:
            self._put(("DELETED", change.left_entry()))

    def _put(self, item: tuple[str, Entry]) -> None:
        if self.queue.qsize() >= WATCHER_QUEUE_LIMIT:
            self.close()  # too slow: the client relists, as upstream terminates slow watchers
            return
        self.queue.put_nowait(item)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


@dataclass
class ResourceCache:
    prefix: str
    entries: dict[str, Entry] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    change_revs: list[int] = field(default_factory=list)
    window_start: int = 0  # changes after this revision are all in `changes`
    watchers: set[Watcher] = field(default_factory=set)
    _sorted_keys: list[str] | None = None

    def apply(self, change: Change) -> None:
        if change.type == "DELETED":
            self.entries.pop(change.entry.key, None)
            self._sorted_keys = None
        else:
            if change.entry.key not in self.entries:
                self._sorted_keys = None
            self.entries[change.entry.key] = change.entry
        self.changes.append(change)
        self.change_revs.append(change.revision)
        for w in list(self.watchers):
            w.offer(change)
        self._trim(change.at)

    def _trim(self, now: float) -> None:
        excess = len(self.changes) - WINDOW_MIN_CHANGES
        if excess <= 0 or now - self.changes[0].at < WINDOW_SECONDS:
            return
        cut = 0
        while cut < excess and now - self.changes[cut].at >= WINDOW_SECONDS:
            cut += 1
        if cut:
            self.window_start = self.change_revs[cut - 1]
            del self.changes[:cut]
            del self.change_revs[:cut]

    def sorted_entries(self, prefix: str) -> list[Entry]:
        if self._sorted_keys is None:
            self._sorted_keys = sorted(self.entries)
        keys = self._sorted_keys
        if prefix == self.prefix:
            return [self.entries[k] for k in keys]
        lo = bisect.bisect_left(keys, prefix)
        hi = bisect.bisect_left(keys, prefix + "\xff")
        return [self.entries[k] for k in keys[lo:hi]]

    def changes_after(self, revision: int) -> list[Change]:
        i = bisect.bisect_right(self.change_revs, revision)
        return self.changes[i:]


class TooOld(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class WatchCache:
    """Every resource's cache, fed by one storage watch."""

    def __init__(self, store: storage.Store, prefixes: Iterable[str]) -> None:
        self.store = store
        self.caches: dict[str, ResourceCache] = {p: ResourceCache(p) for p in prefixes}
        self.revision = 0
        self.ready = asyncio.Event()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = 0

    def cache(self, prefix: str) -> ResourceCache:
        return self.caches[prefix]

    @staticmethod
    def prefix_of(key: str) -> str:
        parts = key.split("/", 4)  # ['', 'registry', group, plural, rest]
        return "/".join(parts[:4]) + "/"

    async def run(self) -> None:
        """List everything, then follow the storage watch forever (relisting after errors)."""
        while True:
            try:
                start = await self._initial_list()
                self.ready.set()
                await self._follow(start)
            except asyncio.CancelledError:
                raise
            except storage.Compacted as e:
                log.warning("watch cache fell behind compaction (%s); relisting", e)
            except Exception:
                log.exception("watch cache storage watch failed; relisting")
                await asyncio.sleep(1.0)

    async def _initial_list(self) -> int:
        rev = await self.store.current_revision()
        fresh: dict[str, dict[str, Entry]] = {p: {} for p in self.caches}
        after = ""
        while True:
            page = await self.store.list(ROOT, start_after=after, limit=5000, revision=rev)
            for kv in page.items:
                bucket = fresh.get(self.prefix_of(kv.key))
                if bucket is not None:
                    bucket[kv.key] = decode_entry(kv.key, kv.value, kv.mod_revision)
            if not page.more or not page.items:
                break
            after = page.items[-1].key
        for p, cache in self.caches.items():
            for w in list(cache.watchers):
                w.close()  # they resume from a revision and will get 410 or a replay
            cache.entries = fresh[p]
            cache.changes.clear()
            cache.change_revs.clear()
            cache.window_start = rev
            cache._sorted_keys = None
        await self._advance(rev)
        return rev

    async def _follow(self, start: int) -> None:
        async for batch in self.store.watch(ROOT, after_revision=start):
            now = time.monotonic()
            top = self.revision
            for ev in batch:
                cache = self.caches.get(self.prefix_of(ev.key))
                top = max(top, ev.revision)
                if cache is None:
                    continue
                cache.apply(self._change(cache, ev, now))
            await self._advance(top)

    @staticmethod
    def _change(cache: ResourceCache, ev: storage.Event, now: float) -> Change:
        prev = cache.entries.get(ev.key)
        entry = decode_entry(ev.key, ev.value, ev.revision)
        if ev.type == "delete":
            return Change("DELETED", entry, prev or entry, ev.revision, now)
        return Change("MODIFIED" if prev is not None else "ADDED", entry, prev, ev.revision, now)

    async def _advance(self, rev: int) -> None:
        if rev > self.revision:
            self.revision = rev
        waiters = self._waiters
        while waiters and waiters[0][0] <= self.revision:
            _, _, fut = heapq.heappop(waiters)
            if not fut.done():
                fut.set_result(None)

    async def wait_for(self, revision: int, timeout: float = 3.0) -> bool:
        """Wait until the cache has seen `revision`; False on timeout.

        Waiters are futures in a heap ordered by revision, resolved by `_advance`; a timed-out
        waiter's future is cancelled and skipped when its turn comes.
        """
        if self.revision >= revision:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._waiters, (revision, self._seq, fut))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fut, timeout)
        return self.revision >= revision

    async def wait_fresh(self) -> int:
        """Consistent read: catch up with storage's current revision."""
        current = await self.store.current_revision()
        await self.wait_for(current)
        return self.revision

    def start_watch(self, prefix: str, predicate: Callable[[Entry], bool], after: int | None,
                    initial: Callable[[ResourceCache], list[Entry]] | None) -> tuple[Watcher, list[tuple[str, Entry]]]:
        """Register a watcher; returns it with the events to send first.

        `after` None means "from now, with `initial` state as ADDED events"; otherwise the
        window's changes after that revision are replayed (TooOld if not available).
        """
        cache = self.caches[prefix]
        w = Watcher(predicate)
        backlog: list[tuple[str, Entry]] = []
        if after is None:
            assert initial is not None
            backlog = [("ADDED", e) for e in initial(cache) if predicate(e)]
        else:
            if after < cache.window_start:
                raise TooOld(after, cache.window_start + 1)
            replay = Watcher(predicate)
            for ch in cache.changes_after(after):
                replay.offer(ch)
            while not replay.queue.empty():
                item = replay.queue.get_nowait()
                if item is not None:
                    backlog.append(item)
        cache.watchers.add(w)
        return w, backlog

    def stop_watch(self, prefix: str, w: Watcher) -> None:
        self.caches[prefix].watchers.discard(w)
        w.close()
