"""Read queries over the SQLite revision log; each runs in a reader thread on its own connection.

Theory of operation: every function takes a reader connection and runs in ONE read transaction
(`BEGIN` … `COMMIT`), so the revision checks (compact_rev from meta, the current revision from
sqlite_sequence) and the rows come from the same WAL snapshot; a concurrent compaction can
never make a read silently wrong. A read "at" revision R refuses R below the compacted
revision (Compacted) and above the committed one (FutureRevision).

The list query is the two-step NOT EXISTS shape of storage-notes §2.5: scan the key index for
rows at or below R that have no newer row at or below R, then fetch only those rows by rowid;
the continue key is folded into the single lower bound, so LIMIT stops the scan early. Watch
replay walks the primary key (revision) range and joins each row to the row it supersedes
for prev_value.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from .interface import Compacted, Event, EventType, FutureRevision, KeyValue, ListResult
from .keyrange import prefix_end, range_start
from .sqlite_schema import read_revisions

T = TypeVar("T")

_GET = ("SELECT rev, create_rev, deleted, lease, value FROM log "
        "WHERE key = ? AND rev <= ? ORDER BY rev DESC LIMIT 1")
_LIST = """SELECT l.rev, l.key, l.create_rev, l.lease, l.value
FROM log AS c JOIN log AS l ON l.rev = c.rev
WHERE c.key >= :start {upper} AND c.rev <= :at
  AND NOT EXISTS (SELECT 1 FROM log AS n WHERE n.key = c.key AND n.rev > c.rev AND n.rev <= :at)
  AND l.deleted = 0
ORDER BY c.key {limit}"""
_COUNT = """SELECT count(*) FROM log AS c JOIN log AS l ON l.rev = c.rev
WHERE c.key >= :start {upper}
  AND NOT EXISTS (SELECT 1 FROM log AS n WHERE n.key = c.key AND n.rev > c.rev)
  AND l.deleted = 0"""
_REPLAY = """SELECT l.rev, l.key, l.created, l.deleted, l.create_rev, l.value, p.value
FROM log AS l LEFT JOIN log AS p ON p.rev = l.prev_rev AND l.created = 0
WHERE l.rev > :after AND l.rev <= :upto {keys}
ORDER BY l.rev LIMIT :limit"""


def in_snapshot(conn: sqlite3.Connection, read: Callable[[sqlite3.Connection], T]) -> T:
    """Run `read` inside one read transaction."""
    conn.execute("BEGIN")
    try:
        return read(conn)
    finally:
        conn.execute("COMMIT")


def check_revision(conn: sqlite3.Connection, revision: int) -> int:
    """Raise Compacted/FutureRevision for `revision`; return the current revision."""
    current, compacted = read_revisions(conn)
    if revision < compacted:
        raise Compacted(revision, compacted)
    if revision > current:
        raise FutureRevision(revision, current)
    return current


def get(conn: sqlite3.Connection, key: str, at: int) -> KeyValue | None:
    def read(conn: sqlite3.Connection) -> KeyValue | None:
        check_revision(conn, at)
        row = conn.execute(_GET, (key, at)).fetchone()
        if row is None or row[2]:
            return None
        return KeyValue(key, row[4], row[1], row[0], row[3])

    return in_snapshot(conn, read)


def list_keys(conn: sqlite3.Connection, prefix: str, start_after: str, limit: int, at: int) -> ListResult:
    start, end = range_start(prefix, start_after), prefix_end(prefix)
    params: dict[str, object] = {"start": start, "end": end, "at": at, "limit": limit + 1}
    sql = _LIST.format(upper="AND c.key < :end" if end is not None else "",
                       limit="LIMIT :limit" if limit else "")

    def read(conn: sqlite3.Connection) -> ListResult:
        check_revision(conn, at)
        if end is not None and start >= end:
            return ListResult([], at, False)
        rows = conn.execute(sql, params).fetchall()
        more = bool(limit) and len(rows) > limit
        if more:
            del rows[limit:]
        return ListResult([KeyValue(r[1], r[4], r[2], r[0], r[3]) for r in rows], at, more)

    return in_snapshot(conn, read)


def count(conn: sqlite3.Connection, prefix: str) -> int:
    end = prefix_end(prefix)
    sql = _COUNT.format(upper="AND c.key < :end" if end is not None else "")
    return int(conn.execute(sql, {"start": prefix, "end": end}).fetchone()[0])


def replay(conn: sqlite3.Connection, prefix: str, after: int, upto: int, limit: int) -> list[Event]:
    end = prefix_end(prefix)
    keys = ""
    if prefix:
        keys = "AND l.key >= :start" + (" AND l.key < :end" if end is not None else "")
    sql = _REPLAY.format(keys=keys)
    params = {"after": after, "upto": upto, "start": prefix, "end": end, "limit": limit}

    def read(conn: sqlite3.Connection) -> list[Event]:
        _, compacted = read_revisions(conn)
        if after < compacted:
            raise Compacted(after, compacted)
        return [_event(row) for row in conn.execute(sql, params)]

    return in_snapshot(conn, read)


def current(conn: sqlite3.Connection) -> int:
    return read_revisions(conn)[0]


def _event(row: tuple[int, str, int, int, int, bytes, bytes | None]) -> Event:
    rev, key, created, deleted, create_rev, value, prev = row
    kind: EventType = "delete" if deleted else ("create" if created else "update")
    if deleted:
        prev = value
    return Event(kind, key, value, rev, create_rev, prev)
