"""Event correlation before writing (client-go's EventCorrelator): spam filter, aggregation, counting.

Theory of operation, in the order `EventCorrelator.correlate` applies it:
1. Aggregation. Events that differ only in their message are similar (same
   source, involved object, type, reason, reporting controller/instance). When
   10 distinct messages were seen for one such group within 10 minutes (the
   window restarts after 10 quiet minutes), the event is replaced by one
   aggregate event whose message is "(combined from similar events): <msg>"
   and whose cache key is the group's, so later ones count up that event.
2. Counting. A cache keyed by the full event identity (or the group key for an
   aggregate) remembers the name, count and firstTimestamp of the event last
   written. A repeat becomes count+1 with the original name and
   firstTimestamp, plus a strategic-merge patch of count, lastTimestamp and
   message; the writer patches the existing Event instead of creating one.
3. Spam filter. Per source + involved object a token bucket (burst 25, refill
   one every 5 minutes) drops events beyond that rate; dropped events still
   counted in step 2, as upstream.
All caches are LRUs of 4096 entries. Time for windows and buckets comes from an
injectable monotonic clock; timestamps written into events come from the wall
clock. Pure logic: no I/O, no asyncio.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pocketkube.client.clock import Clock, WallClock, monotonic, rfc3339, wall
from pocketkube.client.ratelimit import TokenBucket

Obj = dict[str, Any]
V = TypeVar("V")

LRU_SIZE = 4096
AGGREGATE_MAX_EVENTS = 10
AGGREGATE_INTERVAL = 600.0
SPAM_BURST = 25
SPAM_QPS = 1.0 / 300.0
AGGREGATE_PREFIX = "(combined from similar events): "


class LRU(Generic[V]):
    def __init__(self, size: int = LRU_SIZE) -> None:
        self.size = size
        self._data: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


def _object_fields(event: Obj) -> list[str]:
    src, ref = event.get("source") or {}, event.get("involvedObject") or {}
    return [src.get("component", ""), src.get("host", ""), ref.get("kind", ""), ref.get("namespace", ""),
            ref.get("name", ""), ref.get("uid", ""), ref.get("apiVersion", "")]


def event_key(event: Obj) -> str:
    """Source, involved object (with fieldPath), type, reason and message."""
    ref = event.get("involvedObject") or {}
    f = _object_fields(event)
    return "".join([*f[:5], ref.get("fieldPath", ""), *f[5:], event.get("type", ""), event.get("reason", ""),
                    event.get("message", "")])


def spam_key(event: Obj) -> str:
    """Source and involved object."""
    return "".join(_object_fields(event))


def aggregate_key(event: Obj) -> tuple[str, str]:
    """(group key without the message, the message)."""
    group = "".join([*_object_fields(event), event.get("type", ""), event.get("reason", ""),
                     event.get("reportingComponent", ""), event.get("reportingInstance", "")])
    return group, str(event.get("message", ""))


@dataclass
class _Aggregate:
    messages: set[str] = field(default_factory=set)
    last: float = 0.0


@dataclass
class _Observed:
    count: int
    first_timestamp: str
    name: str
    resource_version: str


@dataclass
class CorrelateResult:
    event: Obj | None = None
    patch: Obj | None = None
    skip: bool = False


class EventCorrelator:
    def __init__(self, *, clock: Clock = monotonic, now: WallClock = wall, burst: int = SPAM_BURST,
                 qps: float = SPAM_QPS, max_events: int = AGGREGATE_MAX_EVENTS,
                 interval: float = AGGREGATE_INTERVAL) -> None:
        self.clock = clock
        self.now = now
        self.burst, self.qps = burst, qps
        self.max_events, self.interval = max_events, interval
        self._spam: LRU[TokenBucket] = LRU()
        self._aggregates: LRU[_Aggregate] = LRU()
        self._observed: LRU[_Observed] = LRU()
        self._last_ns = 0

    def correlate(self, event: Obj) -> CorrelateResult:
        aggregated, key = self._aggregate(event)
        observed, patch = self._observe(aggregated, key)
        if self._filtered(observed):
            return CorrelateResult(skip=True)
        return CorrelateResult(observed, patch)

    def update_state(self, event: Obj) -> None:
        """Remember what the server stored (name, count, resourceVersion) for the next repeat."""
        self._remember(event_key(event), event)

    # ------------------------------------------------------------------ steps
    def _filtered(self, event: Obj) -> bool:
        key = spam_key(event)
        bucket = self._spam.get(key)
        if bucket is None:
            bucket = TokenBucket(self.qps, self.burst, self.clock)
        self._spam.put(key, bucket)
        return not bucket.try_accept()

    def _aggregate(self, event: Obj) -> tuple[Obj, str]:
        now = self.clock()
        group, message = aggregate_key(event)
        record = self._aggregates.get(group)
        if record is None or now - record.last > self.interval:
            record = _Aggregate()
        record.messages.add(message)
        record.last = now
        self._aggregates.put(group, record)
        if len(record.messages) < self.max_events:
            return event, event_key(event)
        record.messages.pop()  # do not let the set grow past the threshold
        ts = rfc3339(self.now())
        ref = event.get("involvedObject") or {}
        aggregate = {"apiVersion": "v1", "kind": "Event",
                     "metadata": {"name": self.event_name(ref.get("name", "")),
                                  "namespace": event["metadata"].get("namespace", "")},
                     "involvedObject": ref, "reason": event.get("reason", ""),
                     "message": AGGREGATE_PREFIX + message, "source": event.get("source", {}),
                     "firstTimestamp": ts, "lastTimestamp": ts, "count": 1, "type": event.get("type", ""),
                     "eventTime": None, "reportingComponent": "", "reportingInstance": ""}
        return aggregate, group

    def _observe(self, event: Obj, key: str) -> tuple[Obj, Obj | None]:
        out = {**event, "metadata": dict(event.get("metadata") or {})}
        last = self._observed.get(key)
        patch = None
        if last is not None and last.count > 0:
            out["metadata"]["name"] = last.name
            if last.resource_version:
                out["metadata"]["resourceVersion"] = last.resource_version
            out["firstTimestamp"] = last.first_timestamp
            out["count"] = last.count + 1
            patch = {"count": out["count"], "lastTimestamp": out.get("lastTimestamp"),
                     "message": out.get("message", "")}
        self._remember(key, out)
        return out, patch

    def _remember(self, key: str, event: Obj) -> None:
        meta = event.get("metadata") or {}
        self._observed.put(key, _Observed(int(event.get("count") or 1), str(event.get("firstTimestamp") or ""),
                                          str(meta.get("name", "")), str(meta.get("resourceVersion", ""))))

    def event_name(self, object_name: str) -> str:
        """`<object>.<unix nanoseconds in hex>`, unique per correlator even within one clock tick."""
        ns = int(self.now().timestamp() * 1e9)
        self._last_ns = max(ns, self._last_ns + 1)
        return f"{object_name}.{self._last_ns:x}"
