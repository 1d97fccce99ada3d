"""The agent's clock: wall-clock epoch seconds, injectable so tests control time.

Theory of operation: the shell reads `now()` and sleeps with `sleep()`; the pure
modules never read a clock and take `now` as an argument. The loops of the
shell are written as a `step(now)`/`tick(now)` method plus a thin loop around
it, so unit tests call the step methods with a `ManualClock` and never sleep.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from pocketkube.client.clock import wall


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    """Wall time of the running loop (virtual on pocketkube.client.virtualtime's loop)."""

    def now(self) -> float:
        return wall().timestamp()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to (sleep advances it instantly)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0)
