"""The SQLite writer thread: every write of the store, group-committed (storage-notes §2.2).

Theory of operation: the event loop puts `WriteOp`s on a SimpleQueue (never blocks). One
thread owns the only write connection. It blocks for the first op, then takes whatever else
is queued (up to `max_batch`), and applies them in one `BEGIN IMMEDIATE … COMMIT`. A failed op
must leave no trace: preconditions are checked before anything is written, and an op writes
one row with one statement, which SQLite undoes by itself when it fails; only compaction (several
statements) runs inside a SAVEPOINT. If SQLite instead abandoned the whole transaction (it may,
on I/O errors or a full disk), the batch fails as a whole. Fewer statements matter here: each one
releases the GIL, and taking it back can wait behind a busy event loop. Revisions come
from the writer's own counter (it is the only writer; a lock file keeps other processes out),
so the rows it inserts are numbered before COMMIT and the counter advances only for ops that
succeeded, and only once the COMMIT did. After COMMIT — never before, so an acknowledgement
carries exactly the durability of the sync mode — it hands the batch's results and events to
the loop with ONE `call_soon_threadsafe`. If COMMIT itself fails, every op of the batch fails
with Unavailable and the counter is re-read from the database.

Compaction runs here too, as ops (one chunk of revisions each) that end their batch, so
normal writes interleave between chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from .interface import Event, KeyExists, KeyNotFound, KeyValue, RevisionMismatch, StorageError, Unavailable
from .sqlite_schema import connect_writer, read_revisions

_LATEST = "SELECT rev, create_rev, deleted, lease, value FROM log WHERE key = ? ORDER BY rev DESC LIMIT 1"
_INSERT = ("INSERT INTO log(rev, key, created, deleted, create_rev, prev_rev, lease, value) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_COMPACT = (
    "DELETE FROM log WHERE rev IN "
    "(SELECT prev_rev FROM log WHERE rev > ? AND rev <= ? AND prev_rev > 0)",
    "DELETE FROM log WHERE rev > ? AND rev <= ? AND deleted = 1",
)


class WriteOp:
    """One queued write. `kind` is create | update | delete | compact; `arg` is the lease,
    the expected revision or the compaction target."""

    __slots__ = ("arg", "future", "key", "kind", "value")

    def __init__(self, kind: str, key: str, value: bytes, arg: int, future: asyncio.Future[Any]) -> None:
        self.kind, self.key, self.value, self.arg, self.future = kind, key, value, arg, future


Outcome = tuple[WriteOp, Any]  # result value, or the exception to raise
Outcomes = list[Outcome]
Deliver = Callable[[Outcomes, list[Event]], None]
_STOP = object()


class SqliteWriter:
    def __init__(self, path: str, synchronous: str, loop: asyncio.AbstractEventLoop,
                 deliver: Deliver, *, max_batch: int = 256) -> None:
        self._path, self._sync, self._loop, self._deliver = path, synchronous, loop, deliver
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._rev = 0
        self._compacted = 0
        self._ready: Future[tuple[int, int]] = Future()
        self.stopped: Future[None] = Future()
        self.batches = 0  # committed batches (statistics; read from other threads)
        self.ops = 0
        self._thread = threading.Thread(target=self._run, name="pocketkube-sqlite-writer", daemon=True)

    def start(self) -> Future[tuple[int, int]]:
        """Start the thread; the future gives (current revision, compacted revision) once ready."""
        self._thread.start()
        return self._ready

    def submit(self, op: WriteOp) -> None:
        self._queue.put(op)

    def stop(self) -> None:
        """Ask the thread to finish the queued ops, close its connection and exit (see `stopped`)."""
        self._queue.put(_STOP)

    def join(self) -> None:
        if self._thread.ident is not None:  # started
            self._thread.join()

    # -- thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            conn = connect_writer(self._path, self._sync)
            self._rev, self._compacted = read_revisions(conn)
        except Exception as exc:  # reported to open(); nothing else to clean up
            self._ready.set_exception(Unavailable(f"cannot open sqlite database {self._path}: {exc}"))
            self.stopped.set_result(None)
            return
        self._ready.set_result((self._rev, self._compacted))
        try:
            stop = False
            while not stop:
                batch, stop = self._take()
                if batch:
                    self._commit(conn, batch)
        finally:
            conn.close()
            self.stopped.set_result(None)

    def _take(self) -> tuple[list[WriteOp], bool]:
        first = self._queue.get()
        if first is _STOP:
            return [], True
        batch = [first]
        while len(batch) < self._max_batch and batch[-1].kind != "compact":
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _commit(self, conn: sqlite3.Connection, batch: list[WriteOp]) -> None:
        outcomes: list[Outcome] = []
        events: list[Event] = []
        rev, compacted = self._rev, self._compacted
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                try:
                    result, event = self._apply(conn, op, rev, compacted)
                except (StorageError, sqlite3.Error) as exc:
                    if not conn.in_transaction:
                        raise  # SQLite rolled the whole transaction back
                    outcomes.append((op, _as_storage_error(exc)))
                    continue
                if event is not None:
                    rev = event.revision
                    events.append(event)
                elif op.kind == "compact":
                    compacted = result
                outcomes.append((op, result))
            conn.execute("COMMIT")
        except Exception as exc:  # the whole batch failed; report it rather than kill the thread
            outcomes, events = self._abort(conn, batch, exc)
        else:
            self._rev, self._compacted = rev, compacted
            self.batches += 1
            self.ops += len(batch)
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._deliver, outcomes, events)

    def _abort(self, conn: sqlite3.Connection, batch: list[WriteOp],
               exc: Exception) -> tuple[list[Outcome], list[Event]]:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._rev, self._compacted = read_revisions(conn)
        except sqlite3.Error:
            pass  # keep the counters: nothing of this batch was committed
        error = Unavailable(f"sqlite commit failed: {exc}")
        return [(op, error) for op in batch], []

    def _apply(self, conn: sqlite3.Connection, op: WriteOp, rev: int,
               compacted: int) -> tuple[Any, Event | None]:
        if op.kind == "compact":
            return _compact(conn, compacted, op.arg), None
        row = conn.execute(_LATEST, (op.key,)).fetchone()
        live = row is not None and not row[2]
        new = rev + 1
        if op.kind == "create":
            if live:
                raise KeyExists(op.key)
            conn.execute(_INSERT, (new, op.key, 1, 0, new, row[0] if row else 0, op.arg, op.value))
            return new, Event("create", op.key, op.value, new, new)
        if not live:
            raise KeyNotFound(op.key)
        cur_rev, create_rev, _, lease, cur_value = row
        if (op.arg or op.kind == "update") and cur_rev != op.arg:
            raise RevisionMismatch(op.key, KeyValue(op.key, cur_value, create_rev, cur_rev, lease))
        if op.kind == "update":
            conn.execute(_INSERT, (new, op.key, 0, 0, create_rev, cur_rev, lease, op.value))
            return new, Event("update", op.key, op.value, new, create_rev, cur_value)
        conn.execute(_INSERT, (new, op.key, 0, 1, create_rev, cur_rev, lease, cur_value))
        last = KeyValue(op.key, cur_value, create_rev, cur_rev, lease)
        return (new, last), Event("delete", op.key, cur_value, new, create_rev, cur_value)


def _compact(conn: sqlite3.Connection, lo: int, hi: int) -> int:
    if hi <= lo:
        return lo
    conn.execute("SAVEPOINT compact")
    try:
        for statement in _COMPACT:
            conn.execute(statement, (lo, hi))
        conn.execute("UPDATE meta SET value = ? WHERE name = 'compact_rev'", (hi,))
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK TO compact")
            conn.execute("RELEASE compact")
        raise
    conn.execute("RELEASE compact")
    return hi


def _as_storage_error(exc: BaseException) -> StorageError:
    if isinstance(exc, StorageError):
        return exc
    return StorageError(f"sqlite: {exc}")
