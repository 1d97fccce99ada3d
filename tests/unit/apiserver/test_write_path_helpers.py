"""Small pieces of the fast write path: watch event batching, UIDs, GC tuning."""

from __future__ import annotations

import gc
import re
from typing import Any

import pytest

from pocketkube.aio import gctuning
from pocketkube.apiserver import objectmeta, watch
from pocketkube.apiserver.watchcache import Entry, Watcher


class FakeResponse:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    async def write(self, data: bytes) -> None:
        self.writes.append(data)


class RawEncoder:
    def encode(self, kind: str, entry: Entry) -> bytes:
        return kind.encode() + b" " + entry.raw() + b"\n"


def entry(i: int, size: int = 0) -> Entry:
    return Entry(f"/registry/core/configmaps/ns/c{i}", {"i": i, "pad": "x" * size}, i)


async def test_queued_events_go_out_in_one_write() -> None:
    w = Watcher(lambda e: True)
    for i in range(2, 5):
        w.queue.put_nowait(("ADDED", entry(i)))
    resp = FakeResponse()
    assert await watch._write_batch(resp, w, RawEncoder(), ("ADDED", entry(1)))  # type: ignore[arg-type]
    assert len(resp.writes) == 1
    assert resp.writes[0].count(b"\n") == 4 and resp.writes[0].startswith(b'ADDED {"i":1,')
    assert w.queue.empty()


async def test_batches_are_bounded_and_closing_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "BATCH_BYTES", 1000)
    w = Watcher(lambda e: True)
    for i in range(2, 6):
        w.queue.put_nowait(("MODIFIED", entry(i, 400)))
    w.close()
    resp = FakeResponse()
    assert not await watch._write_batch(resp, w, RawEncoder(), ("ADDED", entry(1, 400)))  # type: ignore[arg-type]
    body = b"".join(resp.writes)
    assert body.count(b"\n") == 5 and len(resp.writes) == 2  # 3 events reach 1000 bytes, then the rest
    assert all(len(x) < 1000 + 500 for x in resp.writes)


async def test_write_all_keeps_order() -> None:
    resp = FakeResponse()
    await watch._write_all(resp, (b"%d\n" % i for i in range(10)))  # type: ignore[arg-type]
    assert resp.writes == [b"".join(b"%d\n" % i for i in range(10))]


def test_uids_are_unique_random_v4() -> None:
    uids = [objectmeta.new_uid() for _ in range(1000)]
    assert len(set(uids)) == 1000
    pattern = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
    assert all(pattern.fullmatch(u) for u in uids)


def test_generate_name() -> None:
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", objectmeta.generate_name("web-"))
    assert len(objectmeta.generate_name("x" * 80)) == 63


def test_tune_gc(monkeypatch: Any) -> None:
    before = gc.get_threshold()
    try:
        gctuning.tune_gc()
        assert gc.get_threshold() == gctuning.GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
