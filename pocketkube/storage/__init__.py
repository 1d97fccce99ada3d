"""Storage: the revisioned key-value seam (interface.py) and its three implementations.

Theory of operation: the apiserver names its datastore with a URL and calls `open_store`,
which parses it, opens the matching implementation and checks that it is usable, so a bad
datastore fails at startup with a clear message rather than on the first request:

    memory://                                   in-process (tests, all-in-one)
    sqlite:///abs/path/state.db[?sync=normal]   embedded default (a plain path means the same)
    etcd://127.0.0.1:2379[,host:port...][?prefix=/pocketkube&timeout=5]

A URL that does not parse raises ValueError; a datastore that cannot be reached or opened
raises Unavailable. Implementations are imported lazily, so memory/SQLite users never load grpc.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

from .interface import (
    Compacted,
    Event,
    EventBatch,
    EventType,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    RevisionMismatch,
    StorageError,
    Store,
    Unavailable,
    WatchStream,
)

__all__ = [
    "Compacted", "Event", "EventBatch", "EventType", "FutureRevision", "KeyExists", "KeyNotFound", "KeyValue",
    "ListResult", "RevisionMismatch", "StorageError", "Store", "Unavailable", "WatchStream", "open_store",
]


async def open_store(url: str) -> Store:
    """Open the datastore named by `url` (see the module docstring)."""
    if not url or not url.strip():
        raise ValueError("empty datastore URL")
    if "://" not in url:
        return await _open_sqlite(url, {})
    parts = urlsplit(url)
    options = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    if parts.scheme == "memory":
        if parts.netloc or parts.path.strip("/") or options:
            raise ValueError(f"memory:// takes no path or options: {url!r}")
        from .memory import MemoryStore

        return MemoryStore()
    if parts.scheme == "sqlite":
        if parts.netloc:
            raise ValueError(f"sqlite URL must be sqlite:///absolute/path (three slashes): {url!r}")
        return await _open_sqlite(parts.path, options)
    if parts.scheme == "etcd":
        return await _open_etcd(url, parts.netloc, options)
    raise ValueError(f"unknown datastore URL scheme {parts.scheme!r} in {url!r}")


async def _open_sqlite(path: str, options: dict[str, str]) -> Store:
    from .sqlite import SqliteStore

    if not path or path.endswith("/") or path == ":memory:":
        raise ValueError(f"sqlite datastore needs a database file path, not {path!r}")
    unknown = set(options) - {"sync"}
    if unknown:
        raise ValueError(f"unknown sqlite URL options: {sorted(unknown)}")
    sync = options.get("sync", "full").upper()
    if sync not in ("FULL", "NORMAL"):
        raise ValueError(f"sqlite sync must be full or normal, not {sync.lower()!r}")
    return await SqliteStore.open(os.path.abspath(path), synchronous=sync)


async def _open_etcd(url: str, netloc: str, options: dict[str, str]) -> Store:
    from .etcd import EtcdStore, parse_endpoints

    unknown = set(options) - {"prefix", "timeout"}
    if unknown:
        raise ValueError(f"unknown etcd URL options: {sorted(unknown)}")
    endpoints = parse_endpoints(netloc)
    try:
        timeout = float(options.get("timeout", "5"))
    except ValueError:
        raise ValueError(f"etcd timeout must be a number of seconds: {url!r}") from None
    if timeout <= 0:
        raise ValueError(f"etcd timeout must be positive: {url!r}")
    return await EtcdStore.open(endpoints, key_prefix=options.get("prefix", ""), dial_timeout=timeout)
