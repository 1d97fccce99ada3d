"""The SQLite writer's group commit: a failing op in a batch leaves no trace and spares the others."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from pocketkube.storage.interface import Event, KeyExists, StorageError
from pocketkube.storage.sqlite_writer import SqliteWriter, WriteOp


async def run_batch(path: Path, ops: list[tuple[str, str, Any, int]]) -> tuple[list[Any], list[Event], int]:
    """Queue every op before the thread starts, so they make one batch; returns outcomes, events, batches."""
    loop = asyncio.get_running_loop()
    delivered: list[tuple[list[Any], list[Event]]] = []
    writer = SqliteWriter(str(path), "NORMAL", loop, lambda o, e: delivered.append((o, e)))
    futures = []
    for kind, key, value, arg in ops:
        fut: asyncio.Future[Any] = loop.create_future()
        writer.submit(WriteOp(kind, key, value, arg, fut))
        futures.append(fut)
    await asyncio.wrap_future(writer.start())
    writer.stop()
    await asyncio.wrap_future(writer.stopped)
    writer.join()
    await asyncio.sleep(0)  # the delivery callback
    outcomes = [r for batch, _ in delivered for _, r in batch]
    events = [e for _, batch in delivered for e in batch]
    return outcomes, events, writer.batches


def rows(path: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute("SELECT rev, key FROM log ORDER BY rev"))
    finally:
        conn.close()


async def test_failed_ops_leave_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    outcomes, events, batches = await run_batch(path, [
        ("create", "/a", b"1", 0),
        ("create", "/a", b"again", 0),     # precondition: exists (within the same batch)
        ("create", "/b", "not bytes", 0),  # SQLite refuses the row (STRICT BLOB column)
        ("update", "/a", b"2", 1),
        ("create", "/c", b"3", 0),
    ])
    assert batches == 1
    assert outcomes[0] == 1 and outcomes[3] == 2 and outcomes[4] == 3
    assert isinstance(outcomes[1], KeyExists)
    assert isinstance(outcomes[2], StorageError) and not isinstance(outcomes[2], KeyExists)
    assert [(e.type, e.key, e.revision) for e in events] == [("create", "/a", 1), ("update", "/a", 2),
                                                              ("create", "/c", 3)]
    assert rows(path) == [(1, "/a"), (2, "/a"), (3, "/c")]


async def test_compaction_in_a_batch(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    outcomes, _, _ = await run_batch(path, [("create", "/a", b"1", 0), ("update", "/a", b"2", 1),
                                            ("update", "/a", b"3", 2), ("compact", "", b"", 2)])
    assert outcomes == [1, 2, 3, 2]
    assert rows(path) == [(2, "/a"), (3, "/a")]  # revision 1 was superseded at or below 2
