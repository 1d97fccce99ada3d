"""The virtual-time loop the client tests run on."""

from __future__ import annotations

import asyncio
import time

import pytest

from pocketkube.client import clock, virtualtime


def test_idle_time_is_skipped_in_order() -> None:
    async def main() -> list[str]:
        order: list[str] = []

        async def after(delay: float, name: str) -> None:
            await asyncio.sleep(delay)
            order.append(f"{name}@{asyncio.get_running_loop().time():g}")
        async with asyncio.TaskGroup() as tg:
            tg.create_task(after(1000, "slow"))
            tg.create_task(after(15, "lease"))
            tg.create_task(after(0.005, "backoff"))
        return order

    started = time.monotonic()
    assert virtualtime.run(main()) == ["backoff@0.005", "lease@15", "slow@1000"]
    assert time.monotonic() - started < 2.0


def test_timeouts_and_wall_clock_follow_virtual_time() -> None:
    async def main() -> None:
        before = clock.wall()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(30):
                await asyncio.Event().wait()
        assert (clock.wall() - before).total_seconds() == pytest.approx(30)
        assert clock.monotonic() == pytest.approx(30)
    virtualtime.run(main())


def test_leaked_tasks_fail_the_run() -> None:
    async def main() -> None:
        asyncio.get_running_loop().create_task(asyncio.sleep(5), name="leaky")

    with pytest.raises(AssertionError, match="leaky"):
        virtualtime.run(main())


def test_waiting_for_nothing_is_a_deadlock_not_a_hang() -> None:
    async def main() -> None:
        await asyncio.Event().wait()

    loop = virtualtime.VirtualTimeLoop(idle_limit=0.05)
    try:
        task = loop.create_task(main())
        with pytest.raises(virtualtime.VirtualTimeDeadlock):
            loop.run_until_complete(task)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            loop.run_until_complete(task)
    finally:
        loop.close()


def test_formats() -> None:
    ts = clock.parse_time("2025-01-02T03:04:05Z")
    assert ts is not None
    assert clock.rfc3339(ts) == "2025-01-02T03:04:05Z"
    assert clock.micro_time(ts) == "2025-01-02T03:04:05.000000Z"
    assert clock.parse_time("") is None and clock.parse_time("garbage") is None
