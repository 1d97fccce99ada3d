"""The embedded default Store: a kine-shaped revision log in SQLite (storage-notes §2).

Theory of operation:
- Writes go to one writer thread (sqlite_writer.py) that group-commits whatever is queued, in
  WAL mode with synchronous=FULL; a write's future resolves only after its COMMIT, from ONE
  loop callback per batch that also publishes the batch's events to the WatchHub. So watch is
  fed straight from committed batches: no polling.
- Reads run on a small pool of reader threads, each with its own connection (WAL readers never
  block the writer, never see a partial commit, never block the loop); each read is one
  snapshot (sqlite_reads.py). Reads "at latest" are pinned to the newest revision the loop has
  seen acknowledged (`hub.last`), so a list's revision is always one a watch can start from.
- Watches start from the hub's window of recent batches; older starting points are replayed
  from the log in pages, then continue live (watchhub.py).
- Compaction is a series of writer ops, one chunk of revisions each, so writes interleave.
- A lock file (<db>.lock, flock) keeps a second process from writing the same database: the
  writer numbers revisions itself.
The store belongs to the event loop that opened it. `close()` lets queued writes commit,
ends every watcher, and stops all threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from . import sqlite_reads as reads
from .interface import EventBatch, FutureRevision, KeyValue, ListResult, StorageError, Unavailable
from .sqlite_schema import connect_reader
from .sqlite_writer import Outcomes, SqliteWriter, WriteOp
from .watchhub import HubWatcher, WatchHub

T = TypeVar("T")


class SqliteStore:
    """Use `await SqliteStore.open(path)`; see the module docstring."""

    def __init__(self, path: str, loop: asyncio.AbstractEventLoop, *, readers: int,
                 compact_chunk: int) -> None:
        self.path = path
        self._loop = loop
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="pocketkube-sqlite-read")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._inflight: set[Future[Any]] = set()
        self._compact_chunk = compact_chunk
        self._compact_lock = asyncio.Lock()
        self._compacted = 0
        self._closed = False
        self._writer: SqliteWriter
        self._hub: WatchHub
        self._lock_fd = -1

    @classmethod
    async def open(cls, path: str, *, synchronous: str = "FULL", watch_window: int = 10_000,
                   max_backlog: int = 20_000, max_batch: int = 256, readers: int = 4,
                   compact_chunk: int = 5_000) -> SqliteStore:
        loop = asyncio.get_running_loop()
        store = cls(path, loop, readers=readers, compact_chunk=compact_chunk)
        try:
            store._lock_fd = await store._on_reader(_lock_file, path + ".lock")
            store._writer = SqliteWriter(path, synchronous, loop, store._deliver, max_batch=max_batch)
            current, compacted = await asyncio.wrap_future(store._writer.start())
        except BaseException:  # a failed start (the thread has exited) or a cancelled open
            if hasattr(store, "_writer"):
                store._writer.stop()
                store._writer.join()
            await store._shutdown_readers()
            raise
        store._compacted = compacted
        store._hub = WatchHub(store, last=current, compacted=compacted, window=watch_window,
                              max_backlog=max_backlog)
        return store

    # -- reads ----------------------------------------------------------------------------
    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        return await self._read(reads.get, key, revision or self._hub.last)

    async def list(self, prefix: str, *, start_after: str = "", limit: int = 0,
                   revision: int = 0) -> ListResult:
        return await self._read(reads.list_keys, prefix, start_after, limit, revision or self._hub.last)

    async def count(self, prefix: str) -> int:
        return await self._read(reads.count, prefix)

    async def current_revision(self) -> int:
        return self._hub.last

    async def compacted_revision(self) -> int:
        return self._compacted

    def watch(self, prefix: str, *, after_revision: int) -> HubWatcher:
        self._check_open()
        return self._hub.watch(prefix, after_revision)

    # -- writes ---------------------------------------------------------------------------
    async def create(self, key: str, value: bytes, *, lease: int = 0) -> int:
        return int(await self._write("create", key, value, lease))

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        return int(await self._write("update", key, value, expected_revision))

    async def delete(self, key: str, *, expected_revision: int = 0) -> tuple[int, KeyValue]:
        result: tuple[int, KeyValue] = await self._write("delete", key, b"", expected_revision)
        return result

    async def compact(self, revision: int) -> None:
        async with self._compact_lock:
            if revision > self._hub.last:
                raise FutureRevision(revision, self._hub.last)
            while self._compacted < revision:
                target = min(revision, self._compacted + self._compact_chunk)
                self._compacted = int(await self._write("compact", "", b"", target))
                self._hub.compacted = self._compacted

    # -- lifecycle ------------------------------------------------------------------------
    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.stop()
        await asyncio.wrap_future(self._writer.stopped)  # queued writes are delivered by now
        self._writer.join()
        self._hub.close()
        await self._shutdown_readers()

    def stats(self) -> dict[str, int]:
        """Writer statistics: committed batches and ops (ops/batches = mean group size)."""
        return {"batches": self._writer.batches, "ops": self._writer.ops}

    # -- ReplaySource for the hub ----------------------------------------------------------
    async def replay(self, prefix: str, after: int, upto: int, limit: int) -> EventBatch:
        return await self._read(reads.replay, prefix, after, upto, limit)

    async def check_future(self, revision: int) -> None:
        current = await self._read(reads.current)
        if revision > current:
            raise FutureRevision(revision, current)

    # -- internals ------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable(f"sqlite store {self.path} is closed")

    async def _write(self, kind: str, key: str, value: bytes, arg: int) -> Any:
        self._check_open()
        future: asyncio.Future[Any] = self._loop.create_future()
        self._writer.submit(WriteOp(kind, key, value, arg, future))
        return await future

    def _deliver(self, outcomes: Outcomes, events: EventBatch) -> None:
        if events:
            self._hub.publish(events)
        for op, result in outcomes:
            if op.future.done():  # the caller was cancelled
                continue
            if isinstance(result, BaseException):
                op.future.set_exception(result)
            else:
                op.future.set_result(result)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        self._check_open()
        return await self._on_reader(self._with_conn, fn, *args)

    async def _on_reader(self, fn: Callable[..., T], *args: Any) -> T:
        future = self._readers.submit(fn, *args)
        self._inflight.add(future)
        future.add_done_callback(self._inflight.discard)
        return await asyncio.wrap_future(future)

    def _with_conn(self, fn: Callable[..., T], *args: Any) -> T:
        """Runs in a reader thread: call fn with this thread's connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        try:
            if conn is None:
                conn = connect_reader(self.path)
                self._local.conn = conn
                with self._conns_lock:
                    self._reader_conns.append(conn)
            return fn(conn, *args)
        except StorageError:
            raise
        except sqlite3.Error as exc:
            raise Unavailable(f"sqlite read failed on {self.path}: {exc}") from exc

    async def _shutdown_readers(self) -> None:
        for future in list(self._inflight):
            with contextlib.suppress(BaseException):  # its caller already got the outcome
                await asyncio.wrap_future(future)
        self._readers.shutdown(wait=True)  # the threads are idle now: this only joins them
        with self._conns_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = -1


def _lock_file(path: str) -> int:
    """Take an exclusive flock on `path` (created if missing); the fd holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise Unavailable(f"cannot open lock file {path}: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        raise Unavailable(f"database is in use by another process (lock {path} is held)") from exc
    return fd
