"""A set of keys, each due at a time: what the pod workers wake up for (pure).

Theory of operation: a heap of (due, seq, key) plus a dict key -> earliest due
time. `schedule` keeps only the earliest time per key (a later request for a
key already due sooner is a no-op; an earlier one supersedes it, and the stale
heap entry is skipped when popped). `pop_due(now)` returns every key whose time
has come, each once, in due order. One DueQueue replaces a timer per pod: the
agent sleeps until `next_due()` or until new work arrives.
"""

from __future__ import annotations

import heapq
import itertools


class DueQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._due: dict[str, float] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: object) -> bool:
        return key in self._due

    def schedule(self, key: str, at: float) -> None:
        current = self._due.get(key)
        if current is not None and current <= at:
            return
        self._due[key] = at
        heapq.heappush(self._heap, (at, next(self._seq), key))

    def discard(self, key: str) -> None:
        self._due.pop(key, None)

    def next_due(self) -> float | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float, limit: int = 0) -> list[str]:
        out: list[str] = []
        while self._heap and (not limit or len(out) < limit):
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                break
            _, _, key = heapq.heappop(self._heap)
            del self._due[key]
            out.append(key)
        return out

    def _drop_stale(self) -> None:
        while self._heap:
            at, _, key = self._heap[0]
            if self._due.get(key) == at:
                return
            heapq.heappop(self._heap)
