"""In-process Store: tests and the all-in-one mode where nothing has to survive a restart.

Theory of operation: all state lives on the event loop and every write runs to completion
without awaiting, so each operation is atomic and "durable" (as durable as the process) when
it returns. Per key the store keeps its history since the last compaction, a list of
(revision, KeyValue or None for a tombstone), which answers reads at any revision by bisection;
a sorted list of keys answers prefix scans. Each write publishes a one-event batch to a
WatchHub whose window is unbounded, so every event since the compaction is replayable and no
replay from elsewhere is ever needed. Compaction drops superseded history at or below the
target and keys whose last entry there is a tombstone.
"""

from __future__ import annotations

import bisect
import sys

from .interface import (
    Compacted,
    Event,
    EventBatch,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    RevisionMismatch,
    Unavailable,
)
from .keyrange import prefix_end, range_start
from .watchhub import HubWatcher, WatchHub

_History = list[tuple[int, KeyValue | None]]


class MemoryStore:
    def __init__(self, *, max_backlog: int = 100_000) -> None:
        self._rev = 0
        self._compacted = 0
        self._history: dict[str, _History] = {}
        self._keys: list[str] = []  # sorted; every key with history
        self._live: dict[str, KeyValue] = {}
        self._closed = False
        self._hub = WatchHub(self, last=0, compacted=0, window=sys.maxsize, max_backlog=max_backlog)

    # -- reads ----------------------------------------------------------------------------
    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        self._check_open()
        if revision == 0:
            return self._live.get(key)
        self._check_revision(revision)
        return self._at(key, revision)

    async def list(self, prefix: str, *, start_after: str = "", limit: int = 0,
                   revision: int = 0) -> ListResult:
        self._check_open()
        at = revision or self._rev
        self._check_revision(at)
        end = prefix_end(prefix)
        items: list[KeyValue] = []
        keys = self._keys
        i = bisect.bisect_left(keys, range_start(prefix, start_after))
        while i < len(keys) and (end is None or keys[i] < end):
            kv = self._live.get(keys[i]) if at == self._rev else self._at(keys[i], at)
            i += 1
            if kv is None:
                continue
            if limit and len(items) == limit:
                return ListResult(items, at, True)
            items.append(kv)
        return ListResult(items, at, False)

    async def count(self, prefix: str) -> int:
        self._check_open()
        return sum(1 for key in self._live if key.startswith(prefix))

    async def current_revision(self) -> int:
        return self._rev

    async def compacted_revision(self) -> int:
        return self._compacted

    # -- writes ---------------------------------------------------------------------------
    async def create(self, key: str, value: bytes, *, lease: int = 0) -> int:
        self._check_open()
        if key in self._live:
            raise KeyExists(key)
        rev = self._rev + 1
        self._commit(KeyValue(key, value, rev, rev, lease), Event("create", key, value, rev, rev))
        return rev

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        self._check_open()
        cur = self._live.get(key)
        if cur is None:
            raise KeyNotFound(key)
        if cur.mod_revision != expected_revision:
            raise RevisionMismatch(key, cur)
        rev = self._rev + 1
        kv = KeyValue(key, value, cur.create_revision, rev, cur.lease)
        self._commit(kv, Event("update", key, value, rev, cur.create_revision, cur.value))
        return rev

    async def delete(self, key: str, *, expected_revision: int = 0) -> tuple[int, KeyValue]:
        self._check_open()
        cur = self._live.get(key)
        if cur is None:
            raise KeyNotFound(key)
        if expected_revision and cur.mod_revision != expected_revision:
            raise RevisionMismatch(key, cur)
        rev = self._rev + 1
        self._commit(None, Event("delete", key, cur.value, rev, cur.create_revision, cur.value))
        return rev, cur

    def watch(self, prefix: str, *, after_revision: int) -> HubWatcher:
        self._check_open()
        return self._hub.watch(prefix, after_revision)

    async def compact(self, revision: int) -> None:
        self._check_open()
        if revision > self._rev:
            raise FutureRevision(revision, self._rev)
        if revision <= self._compacted:
            return
        for key in list(self._history):
            self._compact_key(key, revision)
        self._compacted = revision
        self._hub.compacted = revision
        self._hub.forget_through(revision)

    async def close(self) -> None:
        self._closed = True
        self._hub.close()

    # -- ReplaySource (the hub's window is unbounded, so these are only consistency checks) --
    async def replay(self, prefix: str, after: int, upto: int, limit: int) -> EventBatch:
        raise Compacted(after, self._compacted)

    async def check_future(self, revision: int) -> None:
        if revision > self._rev:
            raise FutureRevision(revision, self._rev)

    # -- internals ------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("store is closed")

    def _check_revision(self, revision: int) -> None:
        if revision < self._compacted:
            raise Compacted(revision, self._compacted)
        if revision > self._rev:
            raise FutureRevision(revision, self._rev)

    def _at(self, key: str, revision: int) -> KeyValue | None:
        history = self._history.get(key)
        if not history:
            return None
        i = bisect.bisect_right(history, revision, key=lambda entry: entry[0])
        return history[i - 1][1] if i else None

    def _commit(self, kv: KeyValue | None, event: Event) -> None:
        self._rev = event.revision
        history = self._history.get(event.key)
        if history is None:
            history = self._history[event.key] = []
            bisect.insort(self._keys, event.key)
        history.append((event.revision, kv))
        if kv is None:
            del self._live[event.key]
        else:
            self._live[event.key] = kv
        self._hub.publish([event])

    def _compact_key(self, key: str, revision: int) -> None:
        history = self._history[key]
        i = bisect.bisect_right(history, revision, key=lambda entry: entry[0])
        if i == 0:
            return
        keep_from = i - 1 if history[i - 1][1] is not None else i
        del history[:keep_from]
        if not history:
            del self._history[key]
            del self._keys[bisect.bisect_left(self._keys, key)]
