"""watchcache: ResourceCache bookkeeping, Watcher event semantics, and WatchCache over a MemoryStore."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from pocketkube.apiserver import watchcache
from pocketkube.apiserver.watchcache import Change, Entry, ResourceCache, TooOld, WatchCache, Watcher
from pocketkube.storage.memory import MemoryStore

CM = "/registry/core/configmaps/"
SECRETS = "/registry/core/secrets/"


def entry(name: str, rev: int, ns: str = "default", prefix: str = CM, **labels: str) -> Entry:
    obj = {"metadata": {"name": name, "namespace": ns, "resourceVersion": str(rev), "labels": dict(labels)}}
    return Entry(f"{prefix}{ns}/{name}", obj, rev)


def drain(w: Watcher) -> list[tuple[str, str, int]]:
    out = []
    while not w.queue.empty():
        item = w.queue.get_nowait()
        out.append(("CLOSED", "", 0) if item is None else (item[0], item[1].obj["metadata"]["name"], item[1].revision))
    return out


def labelled(value: str) -> Callable[[Entry], bool]:
    return lambda e: e.obj["metadata"]["labels"].get("app") == value


# --- Entry ----------------------------------------------------------------------------------


def test_entry_raw_is_cached_and_copy_is_private() -> None:
    e = entry("a", 3)
    raw = e.raw()
    assert raw is e.raw()
    assert orjson.loads(raw) == e.obj
    c = e.copy()
    c["metadata"]["name"] = "changed"
    assert e.obj["metadata"]["name"] == "a"


def test_decode_entry_sets_resource_version() -> None:
    e = watchcache.decode_entry(CM + "default/a", b'{"metadata":{"name":"a"}}', 17)
    assert (e.key, e.revision, e.obj["metadata"]["resourceVersion"]) == (CM + "default/a", 17, "17")
    bare = watchcache.decode_entry(CM + "default/b", b"{}", 2)
    assert bare.obj == {"metadata": {"resourceVersion": "2"}}


def test_prefix_of() -> None:
    assert WatchCache.prefix_of("/registry/core/pods/default/web") == "/registry/core/pods/"
    assert WatchCache.prefix_of("/registry/apps/deployments/ns/d") == "/registry/apps/deployments/"
    assert WatchCache.prefix_of("/registry/core/nodes/n1") == "/registry/core/nodes/"


# --- ResourceCache ---------------------------------------------------------------------------


def test_apply_add_modify_delete() -> None:
    c = ResourceCache(CM)
    a1 = entry("a", 1)
    c.apply(Change("ADDED", a1, None, 1))
    a2 = entry("a", 2)
    c.apply(Change("MODIFIED", a2, a1, 2))
    assert c.entries[a1.key] is a2
    c.apply(Change("DELETED", a2, a2, 3))
    assert c.entries == {}
    assert c.change_revs == [1, 2, 3]
    assert [ch.type for ch in c.changes] == ["ADDED", "MODIFIED", "DELETED"]


def test_sorted_entries_by_prefix_and_after_changes() -> None:
    c = ResourceCache(CM)
    for ns, name, rev in (("b", "x", 1), ("a", "z", 2), ("a", "y", 3), ("ab", "w", 4)):
        c.apply(Change("ADDED", entry(name, rev, ns), None, rev))
    names = [e.key for e in c.sorted_entries(CM)]
    assert names == [CM + "a/y", CM + "a/z", CM + "ab/w", CM + "b/x"]
    assert [e.key for e in c.sorted_entries(CM + "a/")] == [CM + "a/y", CM + "a/z"]
    assert c.sorted_entries(CM + "none/") == []
    # The sorted key list is rebuilt after adds and deletes.
    c.apply(Change("ADDED", entry("a0", 5, "a"), None, 5))
    c.apply(Change("DELETED", c.entries[CM + "a/z"], c.entries[CM + "a/z"], 6))
    assert [e.key for e in c.sorted_entries(CM + "a/")] == [CM + "a/a0", CM + "a/y"]
    modified = entry("y", 7, "a")
    c.apply(Change("MODIFIED", modified, c.entries[CM + "a/y"], 7))
    assert c.sorted_entries(CM + "a/")[1] is modified


def test_changes_after() -> None:
    c = ResourceCache(CM)
    for rev in (3, 5, 8):
        c.apply(Change("ADDED", entry(f"n{rev}", rev), None, rev))
    assert [ch.revision for ch in c.changes_after(0)] == [3, 5, 8]
    assert [ch.revision for ch in c.changes_after(3)] == [5, 8]
    assert [ch.revision for ch in c.changes_after(4)] == [5, 8]
    assert c.changes_after(8) == []


def test_window_trimming(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchcache, "WINDOW_MIN_CHANGES", 3)
    monkeypatch.setattr(watchcache, "WINDOW_SECONDS", 10.0)
    c = ResourceCache(CM)
    for rev, at in ((1, 0.0), (2, 1.0), (3, 2.0), (4, 3.0), (5, 4.0)):
        c.apply(Change("ADDED", entry(f"n{rev}", rev), None, rev, at))
    assert c.change_revs == [1, 2, 3, 4, 5]  # young changes are kept however many
    assert c.window_start == 0
    c.apply(Change("ADDED", entry("n6", 6), None, 6, 11.5))  # 1 and 2 are now older than 10 s
    assert c.change_revs == [3, 4, 5, 6]
    assert c.window_start == 2
    assert [ch.revision for ch in c.changes_after(2)] == [3, 4, 5, 6]
    c.apply(Change("ADDED", entry("n7", 7), None, 7, 100.0))  # never below WINDOW_MIN_CHANGES
    assert c.change_revs == [5, 6, 7]
    assert c.window_start == 4


# --- Watcher -----------------------------------------------------------------------------------


def test_watcher_event_types() -> None:
    w = Watcher(lambda e: True)
    a1, a2 = entry("a", 1), entry("a", 2)
    w.offer(Change("ADDED", a1, None, 1))
    w.offer(Change("MODIFIED", a2, a1, 2))
    w.offer(Change("DELETED", entry("a", 3), a2, 3))
    assert drain(w) == [("ADDED", "a", 1), ("MODIFIED", "a", 2), ("DELETED", "a", 3)]


def test_watcher_filters_by_predicate() -> None:
    w = Watcher(labelled("web"))
    w.offer(Change("ADDED", entry("db", 1, app="db"), None, 1))
    w.offer(Change("DELETED", entry("db", 2, app="db"), entry("db", 1, app="db"), 2))
    assert drain(w) == []


def test_object_entering_and_leaving_a_selector() -> None:
    w = Watcher(labelled("web"))
    outside, inside = entry("a", 1, app="db"), entry("a", 2, app="web")
    w.offer(Change("ADDED", outside, None, 1))
    w.offer(Change("MODIFIED", inside, outside, 2))  # starts matching: ADDED
    still = entry("a", 3, app="web")
    w.offer(Change("MODIFIED", still, inside, 3))
    gone = entry("a", 4, app="db")
    w.offer(Change("MODIFIED", gone, still, 4))  # stops matching: DELETED at the change's revision
    assert drain(w) == [("ADDED", "a", 2), ("MODIFIED", "a", 3), ("DELETED", "a", 4)]


def test_leaving_selector_sends_previous_content_at_new_revision() -> None:
    w = Watcher(labelled("web"))
    before = entry("a", 3, app="web")
    after = entry("a", 4, app="db")
    w.offer(Change("MODIFIED", after, before, 4))
    item = w.queue.get_nowait()
    assert item is not None
    kind, sent = item
    assert kind == "DELETED"
    assert sent.obj["metadata"]["labels"] == {"app": "web"}
    assert sent.obj["metadata"]["resourceVersion"] == "4"


def test_closed_watcher_ignores_changes_and_signals_end_once() -> None:
    w = Watcher(lambda e: True)
    w.close()
    w.close()
    w.offer(Change("ADDED", entry("a", 1), None, 1))
    assert drain(w) == [("CLOSED", "", 0)]


def test_slow_watcher_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchcache, "WATCHER_QUEUE_LIMIT", 2)
    w = Watcher(lambda e: True)
    for rev in (1, 2, 3, 4):
        w.offer(Change("ADDED", entry(f"n{rev}", rev), None, rev))
    assert w.closed
    assert drain(w) == [("ADDED", "n1", 1), ("ADDED", "n2", 2), ("CLOSED", "", 0)]


def test_resource_cache_feeds_its_watchers() -> None:
    c = ResourceCache(CM)
    w = Watcher(lambda e: True)
    c.watchers.add(w)
    c.apply(Change("ADDED", entry("a", 1), None, 1))
    assert drain(w) == [("ADDED", "a", 1)]


# --- WatchCache over a MemoryStore ----------------------------------------------------------------


async def put(store: MemoryStore, key: str, **obj: Any) -> int:
    return await store.create(key, orjson.dumps({"metadata": {"name": key.rsplit("/", 1)[-1]}, **obj}))


@pytest.fixture
async def running() -> AsyncIterator[tuple[MemoryStore, WatchCache]]:
    store = MemoryStore()
    await put(store, CM + "default/before")
    await put(store, SECRETS + "default/s")
    await put(store, "/registry/core/unknownthings/default/x")
    cache = WatchCache(store, [CM, SECRETS])
    task = asyncio.create_task(cache.run())
    try:
        await asyncio.wait_for(cache.ready.wait(), 5)
        yield store, cache
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()


async def test_initial_list(running: tuple[MemoryStore, WatchCache]) -> None:
    store, cache = running
    assert cache.revision == await store.current_revision() == 3
    assert list(cache.cache(CM).entries) == [CM + "default/before"]
    assert cache.cache(CM).entries[CM + "default/before"].obj["metadata"]["resourceVersion"] == "1"
    assert list(cache.cache(SECRETS).entries) == [SECRETS + "default/s"]
    assert cache.cache(CM).window_start == 3


async def test_follow_and_wait_for(running: tuple[MemoryStore, WatchCache]) -> None:
    store, cache = running
    rev = await put(store, CM + "default/a", data={"k": "v"})
    assert await cache.wait_for(rev)
    e = cache.cache(CM).entries[CM + "default/a"]
    assert (e.revision, e.obj["data"]) == (rev, {"k": "v"})
    kv = await store.get(CM + "default/a")
    assert kv is not None
    rev2 = await store.update(CM + "default/a", b'{"metadata":{"name":"a"},"data":{"k":"w"}}',
                              expected_revision=kv.mod_revision)
    rev3, _ = await store.delete(CM + "default/before")
    assert await cache.wait_fresh() == rev3
    assert cache.cache(CM).entries[CM + "default/a"].obj["data"] == {"k": "w"}
    assert CM + "default/before" not in cache.cache(CM).entries
    assert [(ch.type, ch.revision) for ch in cache.cache(CM).changes] == [("ADDED", rev), ("MODIFIED", rev2),
                                                                         ("DELETED", rev3)]
    deleted = cache.cache(CM).changes[-1]
    assert deleted.entry.obj["metadata"]["resourceVersion"] == str(rev3)
    assert deleted.prev is not None and deleted.prev.revision == 1


async def test_wait_for_times_out_on_a_future_revision(running: tuple[MemoryStore, WatchCache]) -> None:
    _, cache = running
    assert await cache.wait_for(cache.revision)
    assert not await cache.wait_for(cache.revision + 100, timeout=0.01)


async def test_revision_advances_for_keys_outside_served_prefixes(running: tuple[MemoryStore, WatchCache]) -> None:
    store, cache = running
    rev = await put(store, "/registry/core/unknownthings/default/y")
    assert await cache.wait_for(rev)
    assert cache.revision == rev


async def test_watch_from_now_with_initial_state(running: tuple[MemoryStore, WatchCache]) -> None:
    store, cache = running
    w, backlog = cache.start_watch(CM, lambda e: True, None, lambda c: c.sorted_entries(CM))
    assert [(t, e.key) for t, e in backlog] == [("ADDED", CM + "default/before")]
    rev = await put(store, CM + "default/new")
    await cache.wait_for(rev)
    assert drain(w) == [("ADDED", "new", rev)]
    cache.stop_watch(CM, w)
    assert w not in cache.cache(CM).watchers
    assert drain(w) == [("CLOSED", "", 0)]


async def test_watch_replays_changes_after_a_revision(running: tuple[MemoryStore, WatchCache]) -> None:
    store, cache = running
    start = cache.revision
    r1 = await put(store, CM + "default/one", metadata={"name": "one", "labels": {"app": "web"}})
    r2 = await put(store, CM + "default/two", metadata={"name": "two", "labels": {"app": "db"}})
    await cache.wait_for(r2)
    w, backlog = cache.start_watch(CM, labelled_obj("web"), start, None)
    assert [(t, e.obj["metadata"]["name"], e.revision) for t, e in backlog] == [("ADDED", "one", r1)]
    _, later = cache.start_watch(CM, lambda e: True, r1, None)
    assert [e.revision for _, e in later] == [r2]
    cache.stop_watch(CM, w)


async def test_watch_from_before_the_window_is_too_old(running: tuple[MemoryStore, WatchCache]) -> None:
    _, cache = running
    with pytest.raises(TooOld) as e:
        cache.start_watch(CM, lambda e: True, 1, None)
    assert (e.value.requested, e.value.oldest) == (1, 4)
    assert str(e.value) == "too old resource version: 1 (4)"


def labelled_obj(value: str) -> Callable[[Entry], bool]:
    return lambda e: (e.obj["metadata"].get("labels") or {}).get("app") == value
