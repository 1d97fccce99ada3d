"""A virtual-time asyncio event loop for tests: time jumps forward whenever every task waits.

Theory of operation (the idea of kopf's `looptime` and trio's autojump clock):
`VirtualTimeLoop.time()` returns a virtual clock that starts at 0. The loop's
selector is wrapped: each select first polls real I/O without blocking; if
nothing is ready and the loop would have slept until its next timer, the
virtual clock is advanced by exactly that timeout instead, so the timer fires
at once. A backoff of 1000 s, a lease of 15 s or a resync of 30 s costs no real
time, and their order is exactly as on a real clock. `wall_clock()` is a UTC
datetime moving with the virtual clock (read by `client.clock.wall`).

Assumptions: the code under test does its work on the loop (in-memory fakes,
no real sockets or threads that finish "later"): real I/O that is not ready at
the moment of the poll lets virtual time run ahead of it. When nothing at all
is scheduled the loop really waits for I/O, and gives up with
`VirtualTimeDeadlock` after `idle_limit` real seconds, so a test that awaits
something that can never happen fails instead of hanging.

`run(coro)` runs a coroutine on a fresh loop and fails when it leaves tasks
running (the leaked-task check of rule 9).
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")


class VirtualTimeDeadlock(RuntimeError):
    """Nothing is scheduled and no I/O arrived: the test waits for something that cannot happen."""


class _FastForwardSelector(selectors.BaseSelector):
    def __init__(self, loop: VirtualTimeLoop, inner: selectors.BaseSelector) -> None:
        self._loop = loop
        self._inner = inner

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            ready = self._inner.select(self._loop.idle_limit)
            if not ready:
                raise VirtualTimeDeadlock("nothing scheduled on the loop and no I/O for "
                                          f"{self._loop.idle_limit} s")
            return ready
        self._loop.advance(timeout)
        return []

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock is virtual and skips idle time."""

    def __init__(self, start: float = 0.0, idle_limit: float = 10.0,
                 epoch: datetime | None = None) -> None:
        self._virtual_now = start
        self.idle_limit = idle_limit
        self.epoch = epoch or datetime.now(UTC)
        super().__init__(selector=_FastForwardSelector(self, selectors.DefaultSelector()))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward (timers due by then fire on the next iteration)."""
        if seconds > 0:
            self._virtual_now += seconds

    def wall_clock(self) -> datetime:
        return self.epoch + timedelta(seconds=self._virtual_now)


async def _checked(main: Coroutine[Any, Any, T]) -> T:
    result = await main
    await asyncio.sleep(0)
    me = asyncio.current_task()
    leaked = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    if leaked:
        for t in leaked:
            t.cancel()
        await asyncio.gather(*leaked, return_exceptions=True)
        raise AssertionError("tasks left running: " + ", ".join(sorted(t.get_name() for t in leaked)))
    return result


def run(main: Coroutine[Any, Any, T], *, check_leaks: bool = True) -> T:
    """Run `main` on a fresh VirtualTimeLoop; fail if it leaves tasks running."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(_checked(main) if check_leaks else main)
