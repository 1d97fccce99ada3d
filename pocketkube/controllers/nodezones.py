"""Zones of the node-lifecycle controller: per-zone taint queues and the disruption state machine.

Theory of operation (upstream RateLimitedTimedQueue and handleDisruption):
- `TaintQueue` holds the nodes of one zone waiting for a NoExecute taint. A
  node is a *member* from `add` until `remove`, so it is tainted once even
  after it left the pending list; `try_each` takes due nodes in order, each
  only if the token bucket (qps, burst 1) has a token (a token is spent even
  when the head is not due yet, as upstream). qps 0 stops the queue.
- `Zones.update` classifies each zone from its nodes' Ready conditions:
  FullDisruption (no node Ready), PartialDisruption (more than 2 and at least
  `unhealthy_threshold` of them not Ready) or Normal, and sets each zone's
  rate: the eviction rate when Normal or FullDisruption, in PartialDisruption
  the secondary rate for zones larger than `large_cluster_threshold`, else 0.
  When every zone is fully disrupted the rates drop to 0 and the caller removes
  all NoExecute taints (the failure is probably the control plane's own
  network); leaving that state restores the rates and the caller restarts the
  nodes' grace periods.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pocketkube.client.clock import monotonic
from pocketkube.client.ratelimit import TokenBucket
from pocketkube.controllers import nodemetrics

NORMAL, PARTIAL, FULL, INITIAL = "Normal", "PartialDisruption", "FullDisruption", "Initial"
ENTERED_FULL_DISRUPTION = "entered"
LEFT_FULL_DISRUPTION = "left"


@dataclass
class _Queued:
    process_at: float
    uid: str


@dataclass
class TaintQueue:
    qps: float
    members: set[str] = field(default_factory=set)
    pending: dict[str, _Queued] = field(default_factory=dict)
    bucket: TokenBucket | None = None

    def __post_init__(self) -> None:
        self.bucket = TokenBucket(self.qps, 1) if self.qps > 0 else None

    def add(self, name: str, uid: str) -> bool:
        if name in self.members:
            return False
        self.members.add(name)
        self.pending[name] = _Queued(monotonic(), uid)
        return True

    def remove(self, name: str) -> bool:
        self.pending.pop(name, None)
        if name in self.members:
            self.members.discard(name)
            return True
        return False

    def swap_limiter(self, qps: float) -> None:
        if qps == self.qps:
            return
        drained = not self._accept()
        self.qps = qps
        self.bucket = TokenBucket(qps, 1) if qps > 0 else None
        if drained:
            self._accept()

    def _accept(self) -> bool:
        return self.bucket is not None and self.bucket.try_accept()

    async def try_each(self, fn: Callable[[str], Awaitable[tuple[bool, float]]]) -> None:
        """Process due nodes while the limiter allows; fn(name) -> (done, retry after seconds)."""
        while self.pending:
            name = min(self.pending, key=lambda n: self.pending[n].process_at)
            if not self._accept():
                return
            now = monotonic()
            if now < self.pending[name].process_at:
                return
            done, wait = await fn(name)
            if name not in self.pending:
                continue
            if done:
                del self.pending[name]
            else:
                self.pending[name].process_at = now + wait + 1e-9


class Zones:
    def __init__(self, eviction_rate: float, secondary_rate: float, large_cluster_threshold: int,
                 unhealthy_threshold: float) -> None:
        self.eviction_rate = eviction_rate
        self.secondary_rate = secondary_rate
        self.large_cluster_threshold = large_cluster_threshold
        self.unhealthy_threshold = unhealthy_threshold
        self.states: dict[str, str] = {}
        self.tainters: dict[str, TaintQueue] = {}

    def add(self, zone: str) -> None:
        """Start tracking a zone seen for the first time (a fresh taint queue)."""
        if zone not in self.states:
            self.states[zone] = INITIAL
            self.tainters[zone] = TaintQueue(self.eviction_rate)

    def pending(self) -> bool:
        return any(q.pending for q in self.tainters.values())

    def state_of(self, conditions: list[dict[str, Any] | None]) -> tuple[int, str]:
        """(not Ready nodes, state) of one zone from its nodes' Ready conditions."""
        ready = sum(1 for c in conditions if c is not None and c.get("status") == "True")
        not_ready = len(conditions) - ready
        if ready == 0 and not_ready > 0:
            return not_ready, FULL
        if not_ready > 2 and not_ready / len(conditions) >= self.unhealthy_threshold:
            return not_ready, PARTIAL
        return not_ready, NORMAL

    def _record(self, zones: dict[str, list[dict[str, Any] | None]]) -> None:
        """node_collector_zone_* gauges; zones that disappeared read as empty and healthy."""
        fam = nodemetrics.families()
        sizes = {zone: (0, 0) for zone in self.states}
        sizes.update({zone: (len(conds), self.state_of(conds)[0]) for zone, conds in zones.items()})
        for zone, (size, unhealthy) in sizes.items():
            fam.zone_size.labels(zone).set(size)
            fam.zone_health.labels(zone).set(100 * (size - unhealthy) / size if size else 100)
            fam.unhealthy_nodes.labels(zone).set(unhealthy)

    def _rate(self, size: int, state: str) -> float:
        if state == PARTIAL:
            return self.secondary_rate if size > self.large_cluster_threshold else 0.0
        return self.eviction_rate

    def update(self, zones: dict[str, list[dict[str, Any] | None]]) -> str:
        """Apply this pass's zone states; returns ENTERED/LEFT_FULL_DISRUPTION or ""."""
        new = {zone: self.state_of(conds)[1] for zone, conds in zones.items()}
        self._record(zones)
        all_full = all(s == FULL for s in new.values())
        for zone in new:
            self.add(zone)
        for zone in [z for z in self.states if z not in zones]:
            del self.states[zone]
        was_full = all(s == FULL for s in self.states.values())
        if all_full and was_full:
            return ""
        if all_full:
            for zone in self.states:
                self.tainters[zone].swap_limiter(0.0)
                self.states[zone] = FULL
            return ENTERED_FULL_DISRUPTION
        for zone, state in list(self.states.items()):
            if was_full or state != new[zone]:
                self.tainters[zone].swap_limiter(self._rate(len(zones[zone]), new[zone]))
                self.states[zone] = new[zone]
        return LEFT_FULL_DISRUPTION if was_full else ""
