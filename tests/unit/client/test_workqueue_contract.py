"""WorkQueue contract as controllers rely on it: de-duplication, dirty re-adds, delayed adds through the
dirty/processing states, rate limiting without overflow, shutdown (virtual time, never real sleeps)."""

from __future__ import annotations

import asyncio

import pytest

from pocketkube.client import virtualtime
from pocketkube.client.workqueue import ShutDown, WorkQueue


def test_queue_holds_each_key_once() -> None:
    async def main() -> None:
        q = WorkQueue()
        for key in ("ns/a", "ns/b", "ns/a", "ns/a", "ns/c", "ns/b"):
            q.add(key)
        assert len(q) == 3
        got = [await q.get() for _ in range(3)]
        assert got == ["ns/a", "ns/b", "ns/c"]
        assert len(q) == 0 and q.processing() == 3
    virtualtime.run(main())


def test_dirty_key_is_requeued_once_after_done() -> None:
    async def main() -> None:
        q = WorkQueue()
        q.add("k")
        assert await q.get() == "k"
        for _ in range(3):
            q.add("k")  # changes while the worker holds it
        assert len(q) == 0
        q.done("k")
        assert len(q) == 1
        assert await q.get() == "k"
        q.done("k")
        assert len(q) == 0 and q.processing() == 0
    virtualtime.run(main())


def test_two_workers_never_hold_the_same_key() -> None:
    async def main() -> None:
        q = WorkQueue()
        q.add("a")
        q.add("b")
        first, second = await q.get(), await q.get()
        assert {first, second} == {"a", "b"}
        q.add("a")
        waiter = asyncio.create_task(q.get())
        await asyncio.sleep(0)
        assert not waiter.done()  # "a" is dirty but still held by the first worker
        q.done("a")
        assert await waiter == "a"
        q.done("a")
        q.done("b")
    virtualtime.run(main())


def test_delayed_add_of_a_queued_key_does_not_duplicate() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        q = WorkQueue()
        q.add("k")
        q.add_after("k", 5)
        assert q.waiting() == 1
        assert await q.get() == "k"
        q.done("k")
        start = loop.time()
        assert await q.get() == "k"  # the delayed add still happens, once
        assert loop.time() - start == pytest.approx(5)
        q.done("k")
        assert len(q) == 0 and q.waiting() == 0
    virtualtime.run(main())


def test_delayed_add_of_a_processing_key_marks_it_dirty() -> None:
    async def main() -> None:
        q = WorkQueue()
        q.add("k")
        assert await q.get() == "k"
        q.add_after("k", 2)
        await asyncio.sleep(3)
        assert len(q) == 0  # fired, but the key is being processed
        q.done("k")
        assert await q.get() == "k"
        q.done("k")
    virtualtime.run(main())


def test_rate_limited_delays_double_and_forget_resets() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        q = WorkQueue(base_delay=1.0, max_delay=6.0)
        delays = []
        for _ in range(5):
            start = loop.time()
            q.add_rate_limited("k")
            assert await q.get() == "k"
            q.done("k")
            delays.append(round(loop.time() - start, 6))
        assert delays == [1.0, 2.0, 4.0, 6.0, 6.0]
        assert q.retries("k") == 5
        q.forget("k")
        assert q.retries("k") == 0
        start = loop.time()
        q.add_rate_limited("k")
        assert await q.get() == "k"
        assert loop.time() - start == pytest.approx(1.0)
        q.done("k")
    virtualtime.run(main())


def test_rate_limiting_survives_very_many_failures() -> None:
    async def main() -> None:
        q = WorkQueue()
        for _ in range(1100):  # 0.005 * 2**1024 does not fit a float
            q.add_rate_limited("k")
        assert q.retries("k") == 1100
        q.shutdown()
    virtualtime.run(main())


def test_rate_limited_keys_are_tracked_separately() -> None:
    async def main() -> None:
        q = WorkQueue(base_delay=1.0, max_delay=100.0)
        for _ in range(3):
            q.add_rate_limited("a")
        q.add_rate_limited("b")
        assert (q.retries("a"), q.retries("b")) == (3, 1)
        q.shutdown()
    virtualtime.run(main())


def test_shutdown_drops_parked_keys_and_refuses_new_ones() -> None:
    async def main() -> None:
        q = WorkQueue()
        q.add("queued")
        q.add_after("parked", 10)
        q.shutdown()
        assert q.waiting() == 0
        q.add("late")
        q.add_after("late", 1)
        q.add_rate_limited("late")
        assert await q.get() == "queued"
        q.done("queued")
        with pytest.raises(ShutDown):
            await q.get()
    virtualtime.run(main())
