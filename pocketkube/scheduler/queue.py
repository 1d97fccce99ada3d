"""The scheduling queue: activeQ, backoffQ and the unschedulable pool (upstream internal/queue).

Theory of operation:

- activeQ is a heap ordered by the profile's QueueSort key (PrioritySort:
  higher priority first, then earlier timestamp). `pop()` waits for it.
- A pod that failed goes back through `add_unschedulable_if_not_present`:
  its timestamp becomes "now" and its backoff ends 1 s * 2^(attempts-1) later,
  capped at 10 s. If it was rejected by plugins, it parks in the unschedulable
  pool; if it failed with an error (no rejecting plugin), or an event that
  could help it arrived while it was being scheduled, it goes to backoffQ.
- Cluster events (`move_all_to_active_or_backoff`) wake parked pods: for each
  pod, the plugins that rejected it are asked, through the queueing hints they
  registered for that event, whether the event may help; if one says QUEUE the
  pod moves to backoffQ (still backing off) or activeQ.
- Events that arrive while pods are in flight (popped, not yet done) are
  recorded, so a pod that fails just after the event that would have helped it
  is not parked forever (upstream in-flight events).
- backoffQ is a heap by backoff expiry, flushed to activeQ when due (`run`
  sleeps exactly until the next expiry); pods parked for more than 5 minutes
  are flushed too (every 30 s), as upstream.
- PreEnqueue plugins (scheduling gates) run before a pod enters activeQ; a
  pod they reject is kept in the unschedulable pool, marked gated.

Single-threaded (one asyncio loop). Times come from the injected `clock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pocketkube.client.clock import monotonic
from pocketkube.scheduler.framework import (
    EVENT_ASSIGNED_POD_ADD,
    EVENT_FORCE_ACTIVATE,
    EVENT_UNSCHEDULABLE_TIMEOUT,
    ClusterEvent,
    ClusterEventWithHint,
    QueueingHint,
    Status,
)
from pocketkube.scheduler.nominator import Nominator
from pocketkube.scheduler.podinfo import PodInfo

log = logging.getLogger("pocketkube.scheduler.queue")

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_IN_UNSCHEDULABLE = 300.0
LEFTOVER_FLUSH_PERIOD = 30.0

ACTIVE, BACKOFF, UNSCHEDULABLE, IN_FLIGHT = "active", "backoff", "unschedulable", "inflight"

# (scheduler name) -> plugin name -> the events that plugin registered
HintLookup = Callable[[str], dict[str, list[ClusterEventWithHint]]]
PreEnqueue = Callable[[PodInfo], Status | None]
SortKey = Callable[[PodInfo, float], tuple[Any, ...]]


class _Strategy(enum.IntEnum):
    SKIP = 0
    AFTER_BACKOFF = 1
    IMMEDIATELY = 2


@dataclass(slots=True, eq=False)
class QueuedPodInfo:
    pod_info: PodInfo
    timestamp: float
    initial_attempt_timestamp: float | None = None
    attempts: int = 0
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    gated: bool = False
    backoff_expiry: float = 0.0
    where: str = ""
    seq: int = 0
    events_from: int = 0

    @property
    def uid(self) -> str:
        return self.pod_info.uid


def priority_sort_key(pi: PodInfo, timestamp: float) -> tuple[Any, ...]:
    return (-pi.priority, timestamp)


class SchedulingQueue:
    def __init__(self, *, hints: HintLookup | None = None, pre_enqueue: PreEnqueue | None = None,
                 sort_key: SortKey = priority_sort_key, clock: Callable[[], float] = monotonic,
                 initial_backoff: float = INITIAL_BACKOFF, max_backoff: float = MAX_BACKOFF,
                 max_in_unschedulable: float = MAX_IN_UNSCHEDULABLE) -> None:
        self.hints = hints or (lambda name: {})
        self.pre_enqueue = pre_enqueue or (lambda pi: None)
        self.sort_key = sort_key
        self.clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self.nominator = Nominator()
        self.pods: dict[str, QueuedPodInfo] = {}
        self._active: list[tuple[Any, ...]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self._seq = itertools.count(1)
        self._counts = {ACTIVE: 0, BACKOFF: 0, UNSCHEDULABLE: 0, IN_FLIGHT: 0}
        # the pods parked and in flight, by uid (events and flushes walk these, never all pods)
        self._members: dict[str, dict[str, QueuedPodInfo]] = {UNSCHEDULABLE: {}, IN_FLIGHT: {}}
        self._gated = 0
        self._events: list[tuple[ClusterEvent, Any, Any]] = []
        self._events_base = 0
        self._has_active = asyncio.Event()
        self._backoff_changed = asyncio.Event()
        self.scheduling_cycle = 0

    # ------------------------------------------------------------------ placement
    def _place(self, q: QueuedPodInfo, where: str, gated: bool = False) -> None:
        self._leave(q)
        q.where = where
        if where in self._members:
            self._members[where][q.uid] = q
        q.gated = gated
        q.seq = next(self._seq)
        self._counts[where] += 1
        if where == ACTIVE:
            heapq.heappush(self._active, (*self.sort_key(q.pod_info, q.timestamp), q.seq, q.uid))
            self._has_active.set()
        elif where == BACKOFF:
            heapq.heappush(self._backoff, (q.backoff_expiry, q.seq, q.uid))
            self._backoff_changed.set()
        elif where == UNSCHEDULABLE and gated:
            self._gated += 1

    def _to_active_or_gated(self, q: QueuedPodInfo) -> str:
        status = self.pre_enqueue(q.pod_info)
        if status is not None and not status.is_success():
            q.unschedulable_plugins = {status.plugin} if status.plugin else set()
            self._place(q, UNSCHEDULABLE, gated=True)
            return UNSCHEDULABLE
        self._place(q, ACTIVE)
        return ACTIVE

    def _leave(self, q: QueuedPodInfo) -> None:
        if not q.where:
            return
        self._counts[q.where] -= 1
        if q.where == UNSCHEDULABLE and q.gated:
            self._gated -= 1
        members = self._members.get(q.where)
        if members is not None:
            members.pop(q.uid, None)

    def _forget(self, q: QueuedPodInfo) -> None:
        self._leave(q)
        q.where = ""
        self.pods.pop(q.uid, None)

    # ------------------------------------------------------------------ pod lifecycle
    def add(self, pi: PodInfo) -> None:
        """A new pending pod (or one re-appearing)."""
        q = self.pods.get(pi.uid)
        if q is not None:
            self.update(pi)
            return
        q = self.pods[pi.uid] = QueuedPodInfo(pi, self.clock())
        self.nominator.add_from_status(pi)
        self._to_active_or_gated(q)

    def update(self, new: PodInfo, events: Iterable[ClusterEvent] = ()) -> None:
        q = self.pods.get(new.uid)
        if q is None:
            self.add(new)
            return
        old = q.pod_info
        q.pod_info = new
        self.nominator.add_from_status(new)
        if q.where == IN_FLIGHT:
            for ev in events:
                self._record(ev, old.pod, new.pod)
        elif q.where == ACTIVE:
            self._place(q, ACTIVE)
        elif q.where == UNSCHEDULABLE:
            for ev in events:
                if self._requeue(q, self._worth_requeuing(q, ev, old.pod, new.pod)) == ACTIVE:
                    break

    def delete(self, uid: str) -> None:
        self.nominator.delete(uid)
        q = self.pods.get(uid)
        if q is not None and q.where != IN_FLIGHT:
            self._forget(q)

    def get(self, uid: str) -> QueuedPodInfo | None:
        return self.pods.get(uid)

    async def pop(self) -> QueuedPodInfo:
        while True:
            q = self.pop_nowait()
            if q is not None:
                return q
            self._has_active.clear()
            await self._has_active.wait()

    def pop_nowait(self) -> QueuedPodInfo | None:
        while self._active:
            entry = heapq.heappop(self._active)
            q = self.pods.get(entry[-1])
            if q is None or q.where != ACTIVE or q.seq != entry[-2]:
                continue
            self._place(q, IN_FLIGHT)
            q.attempts += 1
            if q.initial_attempt_timestamp is None:
                q.initial_attempt_timestamp = self.clock()
            q.events_from = self._events_base + len(self._events)
            self.scheduling_cycle += 1
            return q
        return None

    def done(self, uid: str) -> None:
        """The pod left the scheduler's hands (bound, or failed and requeued)."""
        q = self.pods.get(uid)
        if q is not None and q.where == IN_FLIGHT:
            self._forget(q)
        self._trim_events()

    def add_unschedulable_if_not_present(self, q: QueuedPodInfo) -> str:
        """Requeue a pod after a failed attempt; returns where it went."""
        if q.where != IN_FLIGHT or self.pods.get(q.uid) is not q:
            return ""
        q.timestamp = self.clock()
        q.backoff_expiry = q.timestamp + self.backoff_duration(q.attempts)
        strategy = _Strategy.SKIP
        rejectors = q.unschedulable_plugins | q.pending_plugins
        if not rejectors:
            strategy = _Strategy.AFTER_BACKOFF
        else:
            start = q.events_from - self._events_base
            for ev, old, new in self._events[max(start, 0):]:
                strategy = max(strategy, self._worth_requeuing(q, ev, old, new))
                if strategy == _Strategy.IMMEDIATELY:
                    break
        where = self._requeue(q, strategy)
        self._trim_events()
        return where

    def backoff_duration(self, attempts: int) -> float:
        duration = self.initial_backoff
        for _ in range(1, attempts):
            if duration > self.max_backoff - duration:
                return self.max_backoff
            duration += duration
        return duration

    def _requeue(self, q: QueuedPodInfo, strategy: _Strategy) -> str:
        if strategy == _Strategy.SKIP:
            if q.where != UNSCHEDULABLE:
                self._place(q, UNSCHEDULABLE)
            return UNSCHEDULABLE
        if strategy == _Strategy.AFTER_BACKOFF and self.clock() < q.backoff_expiry:
            self._place(q, BACKOFF)
            return BACKOFF
        return self._to_active_or_gated(q)

    # ------------------------------------------------------------------ events
    def _worth_requeuing(self, q: QueuedPodInfo, ev: ClusterEvent, old: Any, new: Any) -> _Strategy:
        rejectors = q.unschedulable_plugins | q.pending_plugins
        if not rejectors:
            return _Strategy.AFTER_BACKOFF
        if ev.label == EVENT_FORCE_ACTIVATE.label:
            return _Strategy.IMMEDIATELY
        if ev.is_wildcard():
            return _Strategy.AFTER_BACKOFF
        registered = self.hints(q.pod_info.scheduler_name)
        for plugin in rejectors:
            for reg in registered.get(plugin, ()):
                if not reg.event.matches(ev):
                    continue
                if reg.hint is not None:
                    try:
                        if reg.hint(q.pod_info.pod, old, new) is not QueueingHint.QUEUE:
                            continue
                    except Exception:
                        log.exception("queueing hint of %s failed", plugin)
                if plugin in q.pending_plugins:
                    return _Strategy.IMMEDIATELY
                return _Strategy.AFTER_BACKOFF
        return _Strategy.SKIP

    def _record(self, ev: ClusterEvent, old: Any, new: Any) -> None:
        if self._counts[IN_FLIGHT]:
            self._events.append((ev, old, new))

    def _trim_events(self) -> None:
        if not self._events:
            return
        inflight = [q.events_from for q in self._members[IN_FLIGHT].values()]
        if not inflight:
            self._events_base += len(self._events)
            self._events.clear()
            return
        cut = min(inflight) - self._events_base
        if cut > 0 and cut * 2 >= len(self._events):
            del self._events[:cut]
            self._events_base += cut

    def move_all_to_active_or_backoff(self, ev: ClusterEvent, old: Any = None, new: Any = None,
                                      pods: Iterable[QueuedPodInfo] | None = None) -> int:
        """Offer event `ev` to the parked pods (or `pods`); returns how many moved."""
        self._record(ev, old, new)
        moved = 0
        candidates = list(pods) if pods is not None else list(self._members[UNSCHEDULABLE].values())
        for q in candidates:
            if q.where != UNSCHEDULABLE:
                continue
            if self._requeue(q, self._worth_requeuing(q, ev, old, new)) != UNSCHEDULABLE:
                moved += 1
        return moved

    def assigned_pod_added(self, pod: dict[str, Any]) -> None:
        self.move_all_to_active_or_backoff(EVENT_ASSIGNED_POD_ADD, None, pod)

    def activate(self, uids: Iterable[str]) -> None:
        pods = [q for uid in uids if (q := self.pods.get(uid)) is not None]
        self.move_all_to_active_or_backoff(EVENT_FORCE_ACTIVATE, pods=pods)

    # ------------------------------------------------------------------ flushing
    def flush_backoff_completed(self) -> float | None:
        """Move due backoff pods to activeQ; returns the next expiry (or None)."""
        now = self.clock()
        while self._backoff:
            expiry, seq, uid = self._backoff[0]
            q = self.pods.get(uid)
            if q is None or q.where != BACKOFF or q.seq != seq:
                heapq.heappop(self._backoff)
                continue
            if expiry > now:
                return expiry
            heapq.heappop(self._backoff)
            self._to_active_or_gated(q)
        return None

    def flush_unschedulable_leftover(self) -> None:
        now = self.clock()
        stale = [q for q in self._members[UNSCHEDULABLE].values() if now - q.timestamp > self.max_in_unschedulable]
        if stale:
            self.move_all_to_active_or_backoff(EVENT_UNSCHEDULABLE_TIMEOUT, pods=stale)

    async def run(self) -> None:
        """Flush backoffQ when due and the unschedulable leftovers every 30 s, forever."""
        next_leftover = self.clock() + LEFTOVER_FLUSH_PERIOD
        while True:
            self._backoff_changed.clear()
            next_expiry = self.flush_backoff_completed()
            if self.clock() >= next_leftover:
                self.flush_unschedulable_leftover()
                next_leftover = self.clock() + LEFTOVER_FLUSH_PERIOD
            wake = min(next_leftover, next_expiry if next_expiry is not None else next_leftover)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._backoff_changed.wait(), max(wake - self.clock(), 0.0))

    # ------------------------------------------------------------------ introspection
    def pending_counts(self) -> dict[str, int]:
        """Pods per queue as scheduler_pending_pods reports them (gated apart from unschedulable)."""
        return {"active": self._counts[ACTIVE], "backoff": self._counts[BACKOFF],
                "unschedulable": self._counts[UNSCHEDULABLE] - self._gated, "gated": self._gated}

    def unschedulable_pods(self) -> list[QueuedPodInfo]:
        return list(self._members[UNSCHEDULABLE].values())
