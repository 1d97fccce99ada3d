"""A work queue with client-go semantics: de-duplicated keys, one worker per key at a time.

Theory of operation (client-go's workqueue.Typed + delaying + rate-limiting
queues, on one asyncio loop):
- `add(key)` queues a key unless it is already waiting ("dirty"). A key being
  processed is only marked dirty and goes back into the queue when its worker
  calls `done`, so two workers never sync the same key concurrently and no
  change is lost.
- `get()` hands out the oldest key and marks it processing. After `shutdown()`
  the queue refuses new keys but still hands out those already queued; once it
  is empty `get()` raises `ShutDown` (client-go returns shutdown=true), which is
  how workers drain and stop. `shutdown_with_drain()` also waits for the keys
  in flight to be `done`.
- `add_after(key, delay)` parks the key in a heap ordered by ready time; one
  loop timer (`call_at`) set for the earliest entry moves due keys into the
  queue. Adding a key that is already parked keeps the earlier ready time.
- `add_rate_limited(key)` waits as long as the rate limiter says (client-go's
  DefaultControllerRateLimiter unless another is given) and `forget(key)`
  resets the key's failure count after a successful sync.
- A named queue records the upstream workqueue_* metrics (client.metrics).
All methods except `get`/`shutdown_with_drain` are synchronous and safe to call
from informer handlers; timers need a running loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque

from prometheus_client import CollectorRegistry

from pocketkube.client import metrics
from pocketkube.client.clock import Clock, monotonic
from pocketkube.client.ratelimit import RateLimiter, default_controller_rate_limiter


class ShutDown(Exception):
    """`get()` on a queue that is shut down and empty: the worker should exit."""


class WorkQueue:
    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0, *, name: str = "",
                 rate_limiter: RateLimiter | None = None, registry: CollectorRegistry | None = None,
                 clock: Clock = monotonic) -> None:
        self.name = name
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.rate_limiter = rate_limiter or default_controller_rate_limiter(base_delay, max_delay, clock=clock)
        self.clock = clock
        self.shutting_down = False
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._changed = asyncio.Event()
        self._waiting: list[tuple[float, int, str]] = []
        self._ready_at: dict[str, float] = {}
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self.metrics = metrics.WorkQueueMetrics(name, registry or metrics.REGISTRY, clock) if name else None

    def __len__(self) -> int:
        return len(self._queue)

    # ------------------------------------------------------------------ core queue
    def add(self, key: str) -> None:
        if self.shutting_down or key in self._dirty:
            return
        if self.metrics:
            self.metrics.add(key)
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._changed.set()

    async def get(self) -> str:
        """The next key to process (waits for one); raises ShutDown once shut down and empty."""
        while not self._queue:
            if self.shutting_down:
                raise ShutDown(self.name)
            self._changed.clear()
            await self._changed.wait()
        key = self._queue.popleft()
        if self.metrics:
            self.metrics.get(key)
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: str) -> None:
        if self.metrics:
            self.metrics.done(key)
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
        self._changed.set()

    def processing(self) -> int:
        """How many keys are being processed right now."""
        return len(self._processing)

    def shutdown(self) -> None:
        """Refuse new keys; queued keys are still handed out, then get() raises ShutDown."""
        self.shutting_down = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting.clear()
        self._ready_at.clear()
        self._changed.set()

    async def shutdown_with_drain(self) -> None:
        """Shut down and wait until every queued and in-flight key is done (workers must be running)."""
        self.shutdown()
        while self._queue or self._processing:
            self._changed.clear()
            await self._changed.wait()

    # ------------------------------------------------------------------ delaying
    def add_after(self, key: str, delay: float) -> None:
        if self.shutting_down:
            return
        if self.metrics:
            self.metrics.retry()
        if delay <= 0:
            self.add(key)
            return
        ready_at = self.clock() + delay
        current = self._ready_at.get(key)
        if current is not None and current <= ready_at:
            return
        self._ready_at[key] = ready_at
        heapq.heappush(self._waiting, (ready_at, next(self._seq), key))
        self._arm()

    def waiting(self) -> int:
        """How many keys are parked by add_after."""
        return len(self._ready_at)

    def _arm(self) -> None:
        if not self._waiting:
            return
        first = self._waiting[0][0]
        if self._timer is not None and self._timer_at <= first:
            return
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer_at = first
        self._timer = loop.call_at(loop.time() + max(0.0, first - self.clock()), self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self.clock()
        while self._waiting and self._waiting[0][0] <= now:
            ready_at, _, key = heapq.heappop(self._waiting)
            if self._ready_at.get(key) == ready_at:
                del self._ready_at[key]
                self.add(key)
        self._arm()

    # ------------------------------------------------------------------ rate limiting
    def add_rate_limited(self, key: str) -> None:
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: str) -> None:
        self.rate_limiter.forget(key)

    def retries(self, key: str) -> int:
        return self.rate_limiter.num_requeues(key)
