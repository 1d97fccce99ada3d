"""SQLite schema and connection setup for the kine-shaped revision log (storage-notes §2.1, §2.8).

Theory of operation: one append-only table `log` holds every revision; its INTEGER PRIMARY KEY
`rev` is the revision. The writer inserts explicit revisions (its own counter, seeded from
sqlite_sequence), and AUTOINCREMENT keeps sqlite_sequence at the highest revision ever
written, so revisions keep increasing across restarts even after compaction has deleted the
newest row (a tombstone). A row (re)creating a key has created=1 and create_rev=rev; a delete
writes a tombstone (deleted=1) that carries the key's last value, so delete events need no
lookup. `prev_rev` names the row a row supersedes; compaction deletes rows named by a
successor at or below the target, plus tombstones there. The single index log(key) is
(key, rev), because rev is the rowid. `meta` holds compact_rev.

Connections: the writer uses WAL with synchronous=FULL (NORMAL on request) and keeps the
default autocheckpoint; readers are query_only with a large mmap. All connections are opened
with isolation_level=None: transactions are explicit (BEGIN IMMEDIATE for the writer, BEGIN for
multi-statement reads, so each read sees one snapshot).
"""

from __future__ import annotations

import sqlite3

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS log (
        rev        INTEGER PRIMARY KEY AUTOINCREMENT,
        key        TEXT NOT NULL,
        created    INTEGER NOT NULL,
        deleted    INTEGER NOT NULL,
        create_rev INTEGER NOT NULL,
        prev_rev   INTEGER NOT NULL,
        lease      INTEGER NOT NULL DEFAULT 0,
        value      BLOB NOT NULL
    ) STRICT""",
    "CREATE INDEX IF NOT EXISTS log_key ON log(key)",
    """CREATE TABLE IF NOT EXISTS meta (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID""",
    "INSERT OR IGNORE INTO meta(name, value) VALUES ('compact_rev', 0)",
)

CURRENT_REV = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'log'), 0)"
COMPACT_REV = "SELECT value FROM meta WHERE name = 'compact_rev'"

SYNC_MODES = ("FULL", "NORMAL")
_BUSY_MS = 5000
_CACHE_KIB = 65536
_MMAP_BYTES = 1 << 30
_JOURNAL_LIMIT = 64 << 20


def connect_writer(path: str, synchronous: str) -> sqlite3.Connection:
    """The one write connection: WAL, the chosen sync mode, schema created if missing."""
    if synchronous not in SYNC_MODES:
        raise ValueError(f"synchronous must be one of {SYNC_MODES}, not {synchronous!r}")
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch {path} to WAL (journal_mode={mode})")
        for pragma in (f"synchronous={synchronous}", f"busy_timeout={_BUSY_MS}",
                       f"cache_size=-{_CACHE_KIB}", "temp_store=MEMORY",
                       f"journal_size_limit={_JOURNAL_LIMIT}"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("BEGIN IMMEDIATE")
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(path: str) -> sqlite3.Connection:
    """A read-only connection for one reader thread."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("query_only=ON", f"busy_timeout={_BUSY_MS}", f"cache_size=-{_CACHE_KIB}",
                   "temp_store=MEMORY", f"mmap_size={_MMAP_BYTES}"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def read_revisions(conn: sqlite3.Connection) -> tuple[int, int]:
    """(current revision, compacted revision), read inside the caller's transaction."""
    current = conn.execute(CURRENT_REV).fetchone()[0]
    compacted = conn.execute(COMPACT_REV).fetchone()[0]
    return int(current), int(compacted)
