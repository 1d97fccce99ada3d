"""Storage conformance: every invariant of pocketkube/storage/interface.py, on memory, SQLite, etcd.

The `store` fixture (conftest.py) is parametrized over the three implementations; tests that
concern one implementation only (SQLite durability, its replay window) say so in their name.
Revisions are compared relative to what a test wrote itself, because the etcd member is shared
by the session (each test has its own key prefix there).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pocketkube.storage import (
    Compacted,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    RevisionMismatch,
    Store,
    Unavailable,
    open_store,
    watchhub,
)
from pocketkube.storage.memory import MemoryStore
from pocketkube.storage.sqlite import SqliteStore


async def collect(it: AsyncIterator[list[Event]], n: int) -> list[list[Event]]:
    """Read batches until `n` events arrived."""
    batches: list[list[Event]] = []
    while sum(len(b) for b in batches) < n:
        batches.append(await anext(it))
    return batches


def flat(batches: list[list[Event]]) -> list[Event]:
    return [e for b in batches for e in b]


# -- get / create / update / delete ---------------------------------------------------------
async def test_create_get_and_key_exists(store: Store) -> None:
    assert await store.get("/c/a") is None
    rev = await store.create("/c/a", b"one")
    kv = await store.get("/c/a")
    assert kv is not None and (kv.key, kv.value, kv.create_revision, kv.mod_revision) == ("/c/a", b"one", rev, rev)
    assert await store.current_revision() == rev
    with pytest.raises(KeyExists) as err:
        await store.create("/c/a", b"two")
    assert err.value.key == "/c/a"
    assert await store.current_revision() == rev  # a failed write takes no revision


async def test_update_if_revision(store: Store) -> None:
    r1 = await store.create("/u/a", b"v1")
    r2 = await store.update("/u/a", b"v2", expected_revision=r1)
    assert r2 > r1
    kv = await store.get("/u/a")
    assert kv is not None and (kv.value, kv.create_revision, kv.mod_revision) == (b"v2", r1, r2)
    with pytest.raises(RevisionMismatch) as err:
        await store.update("/u/a", b"v3", expected_revision=r1)
    current = err.value.current
    assert current is not None and (current.value, current.mod_revision, current.create_revision) == (b"v2", r2, r1)
    with pytest.raises(KeyNotFound):
        await store.update("/u/missing", b"x", expected_revision=r1)
    with pytest.raises((KeyNotFound, RevisionMismatch)):
        await store.update("/u/a", b"x", expected_revision=0)


async def test_delete_if_revision_returns_last_value(store: Store) -> None:
    r1 = await store.create("/d/a", b"v1")
    with pytest.raises(RevisionMismatch) as err:
        await store.delete("/d/a", expected_revision=r1 + 1000)
    assert err.value.current is not None and err.value.current.value == b"v1"
    rev, last = await store.delete("/d/a", expected_revision=r1)
    assert rev > r1 and (last.key, last.value, last.mod_revision) == ("/d/a", b"v1", r1)
    assert await store.get("/d/a") is None
    with pytest.raises(KeyNotFound):
        await store.delete("/d/a")
    with pytest.raises(KeyNotFound):
        await store.update("/d/a", b"x", expected_revision=rev)
    r3 = await store.create("/d/a", b"again")  # re-create after delete: a new lifetime
    kv = await store.get("/d/a")
    assert kv is not None and kv.create_revision == r3 and kv.mod_revision == r3
    rev, last = await store.delete("/d/a")  # unconditional
    assert last.value == b"again"


async def test_revisions_strictly_increase(store: Store) -> None:
    revs = [await store.create(f"/r/{i}", b"x") for i in range(5)]
    revs.append(await store.update("/r/0", b"y", expected_revision=revs[0]))
    revs.append((await store.delete("/r/1"))[0])
    assert revs == sorted(set(revs))
    assert await store.current_revision() == revs[-1]


async def test_concurrent_cas_only_one_wins(store: Store) -> None:
    r1 = await store.create("/cas/k", b"0")
    results = await asyncio.gather(
        *(store.update("/cas/k", str(i).encode(), expected_revision=r1) for i in range(20)),
        return_exceptions=True)
    wins = [r for r in results if isinstance(r, int)]
    assert len(wins) == 1
    assert all(isinstance(r, RevisionMismatch) for r in results if not isinstance(r, int))


async def test_concurrent_writers_all_acknowledged_and_visible(store: Store, store_kind: str) -> None:
    writers, each = 64, (4 if store_kind == "etcd" else 10)

    async def writer(n: int) -> list[int]:
        return [await store.create(f"/many/{n:02d}/{i}", b"v" * 1024) for i in range(each)]

    revs = [r for rs in await asyncio.gather(*(writer(n) for n in range(writers))) for r in rs]
    assert len(set(revs)) == writers * each
    listed = await store.list("/many/")
    assert len(listed.items) == writers * each and listed.revision >= max(revs)
    assert await store.count("/many/") == writers * each


# -- list -----------------------------------------------------------------------------------
async def test_list_prefix_order_and_boundaries(store: Store) -> None:
    keys = ["/p/a/2", "/p/a/1", "/p/a/é", "/p/a/日本", "/p/a/10", "/p/ab", "/p/a", "/p/b/1", "/q/a/1"]
    for k in keys:
        await store.create(k, k.encode())
    got = [kv.key for kv in (await store.list("/p/a/")).items]
    assert got == sorted(k for k in keys if k.startswith("/p/a/"))
    assert [kv.key for kv in (await store.list("/p/")).items] == sorted(k for k in keys if k.startswith("/p/"))
    assert (await store.list("/nothing/")).items == []
    assert await store.count("/p/a/") == 5 and await store.count("/p/") == 8


async def test_list_limit_and_paging_at_pinned_revision(store: Store) -> None:
    for i in range(25):
        await store.create(f"/pg/{i:02d}", f"v{i}".encode())
    await store.create("/pg0", b"outside")
    first = await store.list("/pg/", limit=10)
    assert len(first.items) == 10 and first.more
    # changes after the first page must not show on later pages read at its revision
    kv = await store.get("/pg/20")
    assert kv is not None
    await store.update("/pg/20", b"changed", expected_revision=kv.mod_revision)
    await store.create("/pg/99", b"new")
    await store.delete("/pg/21")
    pages, token = [first], first.items[-1].key
    while pages[-1].more:
        page = await store.list("/pg/", start_after=token, limit=10, revision=first.revision)
        assert page.revision == first.revision
        pages.append(page)
        token = page.items[-1].key
    items = [kv for p in pages for kv in p.items]
    assert [kv.key for kv in items] == [f"/pg/{i:02d}" for i in range(25)]
    assert [len(p.items) for p in pages] == [10, 10, 5] and not pages[-1].more
    assert {kv.key: kv.value for kv in items}["/pg/20"] == b"v20"
    exact = await store.list("/pg/", start_after="/pg/14", limit=10, revision=first.revision)
    assert len(exact.items) == 10 and not exact.more


async def test_list_and_get_at_revision(store: Store) -> None:
    r1 = await store.create("/h/a", b"a1")
    r2 = await store.create("/h/b", b"b1")
    r3 = await store.update("/h/a", b"a2", expected_revision=r1)
    r4, _ = await store.delete("/h/b")
    await store.create("/h/c", b"c1")
    at_r2 = await store.list("/h/", revision=r2)
    assert at_r2.revision == r2
    assert [(kv.key, kv.value) for kv in at_r2.items] == [("/h/a", b"a1"), ("/h/b", b"b1")]
    at_r3 = await store.list("/h/", revision=r3)
    assert [(kv.key, kv.value) for kv in at_r3.items] == [("/h/a", b"a2"), ("/h/b", b"b1")]
    assert [kv.key for kv in (await store.list("/h/", revision=r4)).items] == ["/h/a"]
    old = await store.get("/h/a", revision=r2)
    assert old is not None and old.value == b"a1" and old.mod_revision == r1
    assert await store.get("/h/b", revision=r4) is None


async def test_future_revision_refused(store: Store) -> None:
    rev = await store.create("/f/a", b"x")
    with pytest.raises(FutureRevision):
        await store.list("/f/", revision=rev + 1000)
    with pytest.raises(FutureRevision):
        await store.get("/f/a", revision=rev + 1000)
    with pytest.raises(FutureRevision):
        await anext(store.watch("/f/", after_revision=rev + 1000))


# -- watch ----------------------------------------------------------------------------------
async def test_watch_replays_from_revision_in_order(store: Store) -> None:
    base = await store.create("/w/base", b"b")
    r1 = await store.create("/w/a", b"a1")
    r2 = await store.update("/w/a", b"a2", expected_revision=r1)
    await store.create("/x/other", b"not watched")
    r3, _ = await store.delete("/w/a")
    watch = store.watch("/w/", after_revision=base)
    try:
        events = flat(await collect(watch, 3))
    finally:
        await watch.aclose()
    assert [(e.type, e.key, e.value, e.revision) for e in events] == [
        ("create", "/w/a", b"a1", r1), ("update", "/w/a", b"a2", r2), ("delete", "/w/a", b"a2", r3)]
    assert events[1].prev_value == b"a1" and events[1].create_revision == r1
    assert events[2].create_revision == r1  # a delete names the lifetime it ends


async def test_watch_live_batches_ordered_and_prefix_filtered(store: Store) -> None:
    start = await store.current_revision()
    watch = store.watch("/live/", after_revision=start)
    try:
        writes = [store.create(f"/live/{i}", b"x") for i in range(30)]
        writes += [store.create(f"/livex/{i}", b"x") for i in range(5)]
        await asyncio.gather(*writes)
        batches = await collect(watch, 30)
    finally:
        await watch.aclose()
    revs = [e.revision for e in flat(batches)]
    assert all(b for b in batches) and revs == sorted(set(revs)) and len(revs) == 30
    assert {e.key for e in flat(batches)} == {f"/live/{i}" for i in range(30)}


async def test_many_concurrent_watchers(store: Store) -> None:
    start = await store.current_revision()
    watches = [store.watch("/mw/", after_revision=start) for _ in range(40)]
    try:
        readers = [asyncio.ensure_future(collect(w, 20)) for w in watches]
        for i in range(20):
            await store.create(f"/mw/{i}", str(i).encode())
        results = await asyncio.gather(*readers)
    finally:
        for w in watches:
            await w.aclose()
    expected = [f"/mw/{i}" for i in range(20)]
    assert all([e.key for e in flat(r)] == expected for r in results)


async def test_watch_cancellation_leaves_no_tasks(store: Store) -> None:
    start = await store.current_revision()
    before = asyncio.all_tasks()
    watch = store.watch("/wc/", after_revision=start)
    got = asyncio.Event()

    async def consume() -> None:
        async for _ in watch:
            got.set()

    reader = asyncio.ensure_future(consume())
    await store.create("/wc/a", b"x")
    await got.wait()
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await watch.aclose()
    # grpc.aio finishes a cancelled call on a task of its own once its core reports the status
    # (from grpc's poller thread): that task must end by itself, promptly; nothing else may remain.
    leftover = asyncio.all_tasks() - before
    if leftover:
        _, pending = await asyncio.wait(leftover, timeout=5)
        assert pending == set()


async def test_close_ends_watchers(store_url: str) -> None:
    s = await open_store(store_url)
    start = await s.current_revision()
    watch = s.watch("/cl/", after_revision=start)
    seen: list[Event] = []
    got = asyncio.Event()

    async def consume() -> None:
        async for batch in watch:
            seen.extend(batch)
            got.set()

    reader = asyncio.ensure_future(consume())
    await s.create("/cl/a", b"x")
    await got.wait()
    await s.close()
    await asyncio.wait_for(reader, timeout=10)  # ends cleanly: no exception
    assert [e.key for e in seen] == ["/cl/a"]
    with pytest.raises(Unavailable):
        await s.create("/cl/b", b"y")


# -- compaction -----------------------------------------------------------------------------
async def test_compaction(store: Store) -> None:
    r1 = await store.create("/cp/a", b"a1")
    r2 = await store.update("/cp/a", b"a2", expected_revision=r1)
    r3 = await store.create("/cp/b", b"b1")
    r4, _ = await store.delete("/cp/b")
    r5 = await store.update("/cp/a", b"a3", expected_revision=r2)
    await store.compact(r4)
    assert await store.compacted_revision() == r4
    for rev in (r2, r3):
        with pytest.raises(Compacted):
            await store.list("/cp/", revision=rev)
        with pytest.raises(Compacted):
            await store.get("/cp/a", revision=rev)
        with pytest.raises(Compacted):
            await anext(store.watch("/cp/", after_revision=rev))
    at_r4 = await store.list("/cp/", revision=r4)
    assert [(kv.key, kv.value) for kv in at_r4.items] == [("/cp/a", b"a2")]
    assert [(kv.key, kv.value) for kv in (await store.list("/cp/")).items] == [("/cp/a", b"a3")]
    watch = store.watch("/cp/", after_revision=r4)
    try:
        events = flat(await collect(watch, 1))
    finally:
        await watch.aclose()
    assert [(e.type, e.revision, e.value, e.prev_value) for e in events] == [("update", r5, b"a3", b"a2")]
    await store.compact(r2)  # at or below the compacted revision: nothing to do
    with pytest.raises(FutureRevision):
        await store.compact(r5 + 1000)


History = tuple[dict[int, dict[str, bytes]], list[tuple[int, str, str, bytes]], dict[str, bytes]]


async def random_history(store: Store, rng: random.Random, writes: int) -> History:
    """Random creates/updates/deletes under /rnd/; returns (state per revision, events, final state)."""
    state: dict[str, bytes] = {}
    mods: dict[str, int] = {}
    snapshots: dict[int, dict[str, bytes]] = {}
    events: list[tuple[int, str, str, bytes]] = []
    for i in range(writes):
        key, value = f"/rnd/{rng.randrange(12):02d}", str(i).encode()
        if key not in state:
            rev, kind = await store.create(key, value), "create"
        elif rng.random() < 0.6:
            rev, kind = await store.update(key, value, expected_revision=mods[key]), "update"
        else:
            (rev, last), kind, value = await store.delete(key, expected_revision=mods[key]), "delete", state[key]
            assert last.value == value
        events.append((rev, kind, key, value))
        if kind == "delete":
            del state[key], mods[key]
        else:
            state[key], mods[key] = value, rev
        snapshots[rev] = dict(state)
    return snapshots, events, state


async def paged(store: Store, prefix: str, rev: int) -> dict[str, bytes]:
    items, token = [], ""
    while True:
        page = await store.list(prefix, start_after=token, limit=5, revision=rev)
        items += page.items
        if not page.more:
            break
        token = page.items[-1].key
    assert [kv.key for kv in items] == sorted(kv.key for kv in items)
    return {kv.key: kv.value for kv in items}


async def test_random_history_matches_model(store: Store) -> None:
    """Random writes against a plain-dict model: lists at any revision, paging, compaction, replay."""
    rng = random.Random(20261122)
    snapshots, events, state = await random_history(store, rng, 150)
    revs = sorted(snapshots)
    for rev in rng.sample(revs, 12):
        assert await paged(store, "/rnd/", rev) == snapshots[rev]
    mid = revs[len(revs) // 2]
    await store.compact(mid)
    for rev in revs[::10]:
        if rev < mid:
            with pytest.raises(Compacted):
                await store.list("/rnd/", revision=rev)
        else:
            assert await paged(store, "/rnd/", rev) == snapshots[rev]
    assert await store.count("/rnd/") == len(state)
    watch = store.watch("/rnd/", after_revision=mid)
    try:
        replayed = flat(await collect(watch, len(revs) - revs.index(mid) - 1))
    finally:
        await watch.aclose()
    assert [(e.revision, e.type, e.key, e.value) for e in replayed] == [ev for ev in events if ev[0] > mid]


# -- open_store -----------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["", "bogus://x", "sqlite://relative/x.db", "sqlite:///tmp/x.db?bad=1",
                                 "sqlite:///tmp/x.db?sync=off", "memory://x", "etcd://nohost",
                                 "etcd://h:99999", "etcd://127.0.0.1:2379?timeout=abc",
                                 "etcd://a.example:1,b.example:2"])
async def test_open_store_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        await open_store(url)


async def test_open_store_unavailable(tmp_path: Path) -> None:
    with pytest.raises(Unavailable):
        await open_store(str(tmp_path))  # a directory
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(8192))
    with pytest.raises(Unavailable):
        await open_store(f"sqlite://{garbage}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(Unavailable):
            await open_store(f"etcd://127.0.0.1:{port}?timeout=2")


async def test_open_store_plain_path_and_memory(tmp_path: Path) -> None:
    for url in (str(tmp_path / "plain.db"), "memory://"):
        s = await open_store(url)
        assert await s.create("/k", b"v") == 1
        await s.close()


# -- SQLite specifics -------------------------------------------------------------------------
async def test_sqlite_restart_durability(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    threads = set(threading.enumerate())
    s = await SqliteStore.open(path)
    r1 = await s.create("/k/a", b"a1")
    r2 = await s.update("/k/a", b"a2", expected_revision=r1)
    await s.create("/k/b", b"b1")
    await s.compact(r2)
    with pytest.raises(Unavailable):  # one process per database
        await SqliteStore.open(path)
    await s.create("/k/tomb", b"t")
    last, _ = await s.delete("/k/tomb")
    await s.compact(last)  # removes the newest row (a tombstone)
    before = await s.list("/k/")
    await s.close()
    assert set(threading.enumerate()) == threads  # writer and readers are gone
    s = await SqliteStore.open(path)
    try:
        assert await s.current_revision() == last and await s.compacted_revision() == last
        assert await s.list("/k/") == before
        assert await s.create("/k/c", b"c1") == last + 1  # revisions never go back
    finally:
        await s.close()


_CHILD_WRITER = """
import asyncio, sys
from pocketkube.storage.sqlite import SqliteStore
async def main():
    store = await SqliteStore.open(sys.argv[1])
    i = 0
    while True:
        rev = await store.create(f"/kill/{i:06d}", b"v" * 1024)
        print(f"/kill/{i:06d} {rev}", flush=True)
        i += 1
asyncio.run(main())
"""


async def test_sqlite_acknowledged_writes_survive_kill(tmp_path: Path) -> None:
    path = str(tmp_path / "killed.db")
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", _CHILD_WRITER, path,
                                                 stdout=asyncio.subprocess.PIPE)
    acked: dict[str, int] = {}
    try:
        assert child.stdout is not None
        while len(acked) < 300:
            line = await asyncio.wait_for(child.stdout.readline(), timeout=30)
            assert line, "the writer process died"
            key, rev = line.decode().split()
            acked[key] = int(rev)
    finally:
        child.kill()  # SIGKILL, by PID, mid-stream
        await child.wait()
    s = await SqliteStore.open(path)
    try:
        stored = {kv.key: kv.mod_revision for kv in (await s.list("/kill/")).items}
        assert all(stored.get(key) == rev for key, rev in acked.items())
        assert await s.current_revision() >= max(acked.values())
    finally:
        await s.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_slow_watcher_and_small_window_catch_up(kind: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchhub, "REPLAY_PAGE", 7)
    s: MemoryStore | SqliteStore
    if kind == "memory":
        s = MemoryStore(max_backlog=5)
    else:
        s = await SqliteStore.open(str(tmp_path / "w.db"), watch_window=4, max_backlog=5)
    try:
        base = await s.create("/sw/base", b"b")
        for i in range(30):
            await s.create(f"/sw/{i:02d}", b"x")
        old = s.watch("/sw/", after_revision=base)  # older than the window: replayed from the log
        slow = s.watch("/sw/", after_revision=await s.current_revision())
        first = await anext(old)
        await asyncio.gather(*(s.create(f"/sw/n{i:02d}", b"y") for i in range(40)))
        seen = first + flat(await collect(old, 70 - len(first)))
        assert [e.revision for e in seen] == list(range(base + 1, base + 71))
        fresh = flat(await collect(slow, 40))  # it overflowed and caught up from its cursor
        assert [e.key for e in fresh] == [f"/sw/n{i:02d}" for i in range(40)]
        await old.aclose()
        await slow.aclose()
    finally:
        await s.close()
