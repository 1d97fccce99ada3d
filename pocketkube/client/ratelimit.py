"""Rate limiters of client-go's workqueue and flowcontrol packages.

Theory of operation: a `RateLimiter` answers "how long should this item wait
before it is retried" (`when`), counts retries per item (`num_requeues`) and
forgets an item after a success (`forget`). The default for controllers is
client-go's DefaultControllerRateLimiter: the larger of a per-item exponential
backoff (5 ms doubling up to 1000 s) and an overall token bucket (10 qps, burst
100) that keeps a storm of failures from hammering the API server.

`TokenBucket` is golang.org/x/time/rate's reservation model: the bucket starts
full; each reservation takes one token, the balance may go negative, and the
wait is the time the refill needs to bring it back to zero. The same bucket
backs the event spam filter (`try_accept`: take a token only if one is there).
Time comes from an injectable clock (the running loop's clock by default).
"""

from __future__ import annotations

from typing import Protocol

from pocketkube.client.clock import Clock, monotonic


class TokenBucket:
    def __init__(self, qps: float, burst: int, clock: Clock = monotonic) -> None:
        self.qps = qps
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._last: float | None = None

    def _refill(self) -> float:
        now = self.clock()
        if self._last is not None and now > self._last:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now if self._last is None else max(now, self._last)
        return now

    def reserve(self) -> float:
        """Take a token (possibly on credit); the seconds to wait before using it."""
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def try_accept(self) -> bool:
        """Take a token if one is available now."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class RateLimiter(Protocol):
    def when(self, item: str) -> float:
        """Seconds the item should wait before its next retry (records a failure)."""
        ...

    def forget(self, item: str) -> None:
        """Stop tracking the item (after it succeeded)."""
        ...

    def num_requeues(self, item: str) -> int:
        """How many times the item failed since it was last forgotten."""
        ...


class ItemExponentialFailureRateLimiter:
    """base * 2^failures, capped at max_delay."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[str, int] = {}

    def when(self, item: str) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp > 1023:  # 2**exp would overflow a float; upstream caps the same way
            return self.max_delay
        return min(self.base_delay * (2.0 ** exp), self.max_delay)

    def forget(self, item: str) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: str) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """One token bucket shared by all items."""

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock = monotonic) -> None:
        self.bucket = TokenBucket(qps, burst, clock)

    def when(self, item: str) -> float:
        return self.bucket.reserve()

    def forget(self, item: str) -> None:
        pass

    def num_requeues(self, item: str) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest wait of several limiters; the most retries any of them counted."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, item: str) -> float:
        return max(lim.when(item) for lim in self.limiters)

    def forget(self, item: str) -> None:
        for lim in self.limiters:
            lim.forget(item)

    def num_requeues(self, item: str) -> int:
        return max(lim.num_requeues(item) for lim in self.limiters)


def default_controller_rate_limiter(base_delay: float = 0.005, max_delay: float = 1000.0,
                                    qps: float = 10.0, burst: int = 100,
                                    clock: Clock = monotonic) -> RateLimiter:
    """client-go's DefaultControllerRateLimiter (per-item 5 ms..1000 s, overall 10 qps burst 100)."""
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(base_delay, max_delay),
                            BucketRateLimiter(qps, burst, clock))
