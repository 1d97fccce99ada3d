"""Work queue and rate limiters: client-go semantics, in virtual time."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from pocketkube.client import virtualtime
from pocketkube.client.ratelimit import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    TokenBucket,
    default_controller_rate_limiter,
)
from pocketkube.client.workqueue import ShutDown, WorkQueue


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_dedup_and_fifo() -> None:
    async def main() -> None:
        q = WorkQueue()
        for k in ("a", "b", "a", "c", "b"):
            q.add(k)
        assert len(q) == 3
        assert [await q.get(), await q.get(), await q.get()] == ["a", "b", "c"]
    virtualtime.run(main())


def test_key_added_while_processing_is_requeued_on_done() -> None:
    async def main() -> None:
        q = WorkQueue()
        q.add("a")
        key = await q.get()
        q.add("a")
        q.add("a")
        assert len(q) == 0  # not handed to a second worker while the first holds it
        q.done(key)
        assert len(q) == 1
        assert await q.get() == "a"
        q.done("a")
        assert len(q) == 0
    virtualtime.run(main())


def test_get_waits_for_add() -> None:
    async def main() -> None:
        q = WorkQueue()
        getter = asyncio.create_task(q.get())
        await asyncio.sleep(0)
        assert not getter.done()
        q.add("x")
        assert await getter == "x"
    virtualtime.run(main())


def test_add_after_fires_in_order_and_earliest_wins() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        q = WorkQueue()
        q.add_after("late", 10)
        q.add_after("early", 5)
        q.add_after("late", 20)  # a later time does not postpone
        q.add_after("early", 1)  # an earlier time wins
        assert q.waiting() == 2 and len(q) == 0
        assert await q.get() == "early"
        assert loop.time() == pytest.approx(1)
        assert await q.get() == "late"
        assert loop.time() == pytest.approx(10)
        q.add_after("now", 0)
        assert len(q) == 1
    virtualtime.run(main())


def test_rate_limited_backoff_and_forget() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        q = WorkQueue(name="")
        delays = []
        for _ in range(4):
            start = loop.time()
            q.add_rate_limited("k")
            assert await q.get() == "k"
            q.done("k")
            delays.append(round(loop.time() - start, 6))
        assert delays == [0.005, 0.01, 0.02, 0.04]
        assert q.retries("k") == 4
        q.forget("k")
        assert q.retries("k") == 0
    virtualtime.run(main())


def test_shutdown_drains_queued_keys_then_raises() -> None:
    async def main() -> None:
        q = WorkQueue()
        q.add("a")
        q.add("b")
        q.add_after("later", 5)
        q.shutdown()
        q.add("c")  # refused
        assert await q.get() == "a"
        assert await q.get() == "b"
        with pytest.raises(ShutDown):
            await q.get()
        assert q.waiting() == 0
    virtualtime.run(main())


def test_shutdown_wakes_waiting_getters_and_drain_waits_for_done() -> None:
    async def main() -> None:
        q = WorkQueue()
        q.add("a")
        key = await q.get()
        waiter = asyncio.create_task(q.get())
        drained = asyncio.create_task(q.shutdown_with_drain())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not drained.done()
        with pytest.raises(ShutDown):
            await waiter
        q.done(key)
        await drained
    virtualtime.run(main())


def test_item_exponential_limiter_caps() -> None:
    lim = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    delays = [lim.when("x") for _ in range(20)]
    assert delays[:3] == [0.005, 0.01, 0.02]
    assert delays[-1] == 1000.0
    assert lim.when("other") == 0.005
    assert lim.num_requeues("x") == 20
    for _ in range(2000):
        lim.when("x")
    assert lim.when("x") == 1000.0


def test_token_bucket_burst_then_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=10, burst=100, clock=clock)
    assert [bucket.reserve() for _ in range(100)] == [0.0] * 100
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)
    clock.now = 10.0
    assert bucket.reserve() == 0.0
    tb = TokenBucket(qps=1 / 300, burst=2, clock=clock)
    assert tb.try_accept() and tb.try_accept() and not tb.try_accept()
    clock.now += 300
    assert tb.try_accept() and not tb.try_accept()


def test_default_controller_limiter_is_max_of_item_and_bucket() -> None:
    clock = FakeClock()
    lim = default_controller_rate_limiter(clock=clock)
    # 100 distinct items drain the overall bucket; then the bucket dominates the 5 ms item delay.
    assert all(lim.when(f"i{n}") == 0.005 for n in range(100))
    assert lim.when("fresh") == pytest.approx(0.1)
    assert lim.num_requeues("fresh") == 1
    lim.forget("fresh")
    assert lim.num_requeues("fresh") == 0
    assert BucketRateLimiter().num_requeues("x") == 0


def _sample(registry: CollectorRegistry, metric: str, name: str) -> float:
    value = registry.get_sample_value(metric, {"name": name})
    return 0.0 if value is None else value


def test_metrics_with_upstream_names() -> None:
    registry = CollectorRegistry()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        q = WorkQueue(name="demo", registry=registry)
        q.add("a")
        q.add("a")
        q.add("b")
        assert _sample(registry, "workqueue_depth", "demo") == 2
        assert _sample(registry, "workqueue_adds_total", "demo") == 2
        await asyncio.sleep(2)
        key = await q.get()
        await asyncio.sleep(3)
        assert _sample(registry, "workqueue_unfinished_work_seconds", "demo") == pytest.approx(3)
        assert _sample(registry, "workqueue_longest_running_processor_seconds", "demo") == pytest.approx(3)
        q.done(key)
        q.add_rate_limited("c")
        assert _sample(registry, "workqueue_retries_total", "demo") == 1
        assert _sample(registry, "workqueue_queue_duration_seconds_count", "demo") == 1
        assert _sample(registry, "workqueue_queue_duration_seconds_sum", "demo") == pytest.approx(2)
        assert _sample(registry, "workqueue_work_duration_seconds_sum", "demo") == pytest.approx(3)
        assert _sample(registry, "workqueue_unfinished_work_seconds", "demo") == 0
        assert _sample(registry, "workqueue_depth", "demo") == 1
        assert loop.time() == pytest.approx(5)
    virtualtime.run(main())
