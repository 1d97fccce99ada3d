"""Raw storage write rates: "the limit" that apiserver benchmarks print beside their own figure.

Theory of operation: `raw_commit_rate` opens a store from a URL (or a plain SQLite path), runs
`concurrency` coroutines that each create fresh keys (`value_size` bytes) for `seconds`, and
reports acknowledged creates/s with p50/p99 latency. Every create is durable when counted
(the store's own guarantee: COMMIT with synchronous=FULL for SQLite). Keys go under a fresh
/bench/<run>/ prefix, so it can run against a store that holds other data.
`plain_sqlite_commit_rate` is the floor without our store: one connection, WAL, the given sync
mode, one INSERT per transaction in a plain loop (blocking; run it outside the event loop).

    python -m pocketkube.storage.bench_raw [URL] [--concurrency 1,8,64] [--seconds 2]
prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import tempfile
import time
import uuid
from typing import Any

from . import open_store


async def raw_commit_rate(store_url_or_path: str, concurrency: int, seconds: float,
                          value_size: int = 1024) -> dict[str, Any]:
    """Durable creates/s and latency at `concurrency` in-flight creates, for `seconds`."""
    store = await open_store(store_url_or_path)
    try:
        run = uuid.uuid4().hex[:8]
        value = os.urandom(value_size)
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def worker(n: int) -> None:
            i = 0
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                await store.create(f"/bench/{run}/{n}/{i}", value)
                latencies.append(time.perf_counter() - t0)
                i += 1

        start = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for n in range(concurrency):
                tg.create_task(worker(n))
        elapsed = time.perf_counter() - start
    finally:
        await store.close()
    return _summary("store", store_url_or_path, concurrency, value_size, latencies, elapsed)


def plain_sqlite_commit_rate(path: str, seconds: float, value_size: int = 1024,
                             synchronous: str = "FULL") -> dict[str, Any]:
    """Single-connection WAL commits/s (one INSERT per transaction) without our store. Blocking."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id INTEGER PRIMARY KEY, k TEXT, v BLOB)")
        value = os.urandom(value_size)
        latencies: list[float] = []
        start = time.perf_counter()
        deadline = start + seconds
        i = 0
        while (t0 := time.perf_counter()) < deadline:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO bench_raw(k, v) VALUES (?, ?)", (f"/bench/{i}", value))
            conn.execute("COMMIT")
            latencies.append(time.perf_counter() - t0)
            i += 1
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE bench_raw")
    finally:
        conn.close()
    return _summary(f"plain-sqlite-{synchronous.lower()}", path, 1, value_size, latencies, elapsed)


def _summary(kind: str, target: str, concurrency: int, value_size: int,
             latencies: list[float], elapsed: float) -> dict[str, Any]:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 3) if ordered else 0.0

    return {
        "kind": kind, "target": target, "concurrency": concurrency, "value_size": value_size,
        "ops": len(ordered), "seconds": round(elapsed, 3),
        "ops_per_s": round(len(ordered) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": pct(0.50), "p99_ms": pct(0.99),
    }


async def _main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="pocketkube-bench-") as tmp:
        url = args.url or os.path.join(tmp, "state.db")
        for c in (int(x) for x in args.concurrency.split(",")):
            print(json.dumps(await raw_commit_rate(url, c, args.seconds, args.value_size)), flush=True)
        plain = os.path.join(tmp, "plain.db")
        result = await asyncio.to_thread(plain_sqlite_commit_rate, plain, args.seconds, args.value_size)
        print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url", nargs="?", default="", help="store URL or SQLite path (default: temp SQLite)")
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--value-size", type=int, default=1024)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
