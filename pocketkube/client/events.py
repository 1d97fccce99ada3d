"""Event recording with upstream reasons and aggregation (client-go's core/v1 EventRecorder).

Theory of operation: `EventRecorder.event(obj, type, reason, message)` builds a
core/v1 Event about `obj` at once (involvedObject with its uid so `kubectl
describe` finds it, name `<object>.<unix-nanos hex>`, source component/host,
first/lastTimestamp, count 1) and puts it on a bounded queue: the caller never
waits for the API and a full queue drops the event (as upstream's broadcaster).
Types other than Normal and Warning are refused, as upstream.

`run()` is the writer (one per recorder, like upstream's sink watcher). Each
event passes the `EventCorrelator` (spam filter, aggregation of similar events,
counting of repeats; see eventcorrelator). A repeat is written as a strategic
merge patch of count/lastTimestamp/message on the existing Event, which is what
`kubectl describe` shows as "(x3 over 2m)"; if that Event is gone (404) it is
created again. What the server stored is fed back to the correlator. API errors
drop the event; transport errors retry up to 12 times, the first after a
random part of 10 s, then every 10 s. `flush()` waits until every event queued
so far has been written or dropped.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from pocketkube.client import rest
from pocketkube.client.clock import Clock, WallClock, monotonic, rfc3339, wall
from pocketkube.client.eventcorrelator import EventCorrelator
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient

log = logging.getLogger("pocketkube.client.events")

EVENTS = ResourceRef("", "v1", "events")
AGGREGATION_WINDOW = 600.0
QUEUE_LIMIT = 1000
MAX_TRIES = 12
RETRY_SLEEP = 10.0
NORMAL = "Normal"
WARNING = "Warning"


def object_reference(obj: dict[str, Any], field_path: str = "") -> dict[str, Any]:
    m = obj.get("metadata", {})
    ref = {"kind": obj.get("kind", ""), "namespace": m.get("namespace", ""), "name": m.get("name", ""),
           "uid": m.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
           "resourceVersion": m.get("resourceVersion", "")}
    if field_path:
        ref["fieldPath"] = field_path
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    def __init__(self, client: RESTClient, component: str, host: str = "", *, now: WallClock = wall,
                 clock: Clock = monotonic, queue_limit: int = QUEUE_LIMIT, retry_sleep: float = RETRY_SLEEP,
                 correlator: EventCorrelator | None = None) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.now = now
        self.retry_sleep = retry_sleep
        self.correlator = correlator or EventCorrelator(clock=clock, now=now)
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(queue_limit)
        self.dropped = 0

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str, *,
              field_path: str = "", annotations: dict[str, str] | None = None) -> None:
        """Record an event about `obj` (non-blocking)."""
        if type_ not in (NORMAL, WARNING):
            log.error("unsupported event type: %r", type_)
            return
        body = self.make_event(object_reference(obj, field_path), type_, reason, message, annotations)
        try:
            self.queue.put_nowait(body)
        except asyncio.QueueFull:
            self.dropped += 1

    def make_event(self, ref: dict[str, Any], type_: str, reason: str, message: str,
                   annotations: dict[str, str] | None = None) -> dict[str, Any]:
        ts = rfc3339(self.now())
        meta: dict[str, Any] = {"name": self.correlator.event_name(ref.get("name", "")),
                                "namespace": ref.get("namespace") or "default"}
        if annotations:
            meta["annotations"] = dict(annotations)
        source = {"component": self.component, **({"host": self.host} if self.host else {})}
        return {"apiVersion": "v1", "kind": "Event", "metadata": meta, "involvedObject": ref,
                "reason": reason, "message": message, "source": source, "firstTimestamp": ts,
                "lastTimestamp": ts, "count": 1, "type": type_, "eventTime": None,
                "reportingComponent": self.component, "reportingInstance": self.host}

    async def flush(self) -> None:
        """Wait until every event queued so far has been written (or dropped)."""
        await self.queue.join()

    async def run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self._record(event)
            except asyncio.CancelledError:
                raise
            except Exception:  # events are best effort
                log.exception("event recording failed")
            finally:
                self.queue.task_done()

    async def _record(self, event: dict[str, Any]) -> None:
        result = self.correlator.correlate(event)
        if result.skip or result.event is None:
            return
        for attempt in range(1, MAX_TRIES + 1):
            if await self._write(result.event, result.patch):
                return
            if attempt < MAX_TRIES:
                delay = self.retry_sleep * (random.random() if attempt == 1 else 1.0)
                await asyncio.sleep(delay)
        log.error("unable to write event %s (retry limit exceeded)", result.event["metadata"]["name"])

    async def _write(self, event: dict[str, Any], patch: dict[str, Any] | None) -> bool:
        """True when done (written or deliberately dropped), False to retry."""
        meta = event["metadata"]
        try:
            stored = None
            if patch is not None and int(event.get("count") or 1) > 1:
                try:
                    stored = await self.client.patch(EVENTS, meta["name"], patch, meta["namespace"],
                                                     patch_type=rest.STRATEGIC_MERGE_PATCH)
                except ApiError as e:
                    if not e.not_found:  # a 404 (the event expired) falls through to create
                        raise
            if stored is None:
                body = {**event, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
                stored = await self.client.create(EVENTS, body, namespace=meta["namespace"])
        except ApiError as e:
            level = logging.DEBUG if e.already_exists else logging.WARNING
            log.log(level, "server rejected event %s: %s", meta.get("name"), e)
            return True
        except Exception as e:
            log.info("could not write event %s (will retry): %s", meta.get("name"), e)
            return False
        self.correlator.update_state(stored)
        return True
