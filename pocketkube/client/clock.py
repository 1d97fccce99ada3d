"""Time sources for the client machinery: loop time for deadlines, wall time for API timestamps.

Theory of operation: every deadline, backoff, TTL, rate and lease computation
reads `monotonic()`, which is the running event loop's clock (`loop.time()`)
when there is one and `time.monotonic()` otherwise. Production loops clock on
`time.monotonic`, so the two agree. Tests run on the virtual-time loop of
`pocketkube.client.virtualtime`, whose clock jumps forward whenever every task
is waiting: backoffs, TTLs, lease renewals and resyncs then run in virtual time
and tests never really sleep.

Timestamps written into API objects (Event first/lastTimestamp, Lease
renewTime) come from `wall()`. On a loop that offers `wall_clock()` (the
virtual-time loop does) that clock is used, so timestamps advance with virtual
time too. The formatters produce the two wire formats of Kubernetes: `Time`
(RFC 3339, seconds) and `MicroTime` (RFC 3339, microseconds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
WallClock = Callable[[], datetime]


def monotonic() -> float:
    """Seconds on the running loop's clock (time.monotonic() outside a loop)."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


def wall() -> datetime:
    """The current UTC time (the running loop's wall clock when it has one)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return datetime.now(UTC)
    wall_clock: WallClock | None = getattr(loop, "wall_clock", None)
    return wall_clock() if wall_clock is not None else datetime.now(UTC)


def rfc3339(dt: datetime) -> str:
    """metav1.Time on the wire: `2006-01-02T15:04:05Z`."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(dt: datetime) -> str:
    """metav1.MicroTime on the wire: `2006-01-02T15:04:05.000000Z`."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> datetime | None:
    """Parse a Time or MicroTime string (None for empty or malformed values)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
