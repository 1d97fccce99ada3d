"""Event recording with upstream reasons and aggregation (client-go's EventRecorder, core/v1).

Theory of operation: `EventRecorder.event(obj, type, reason, message)` records a
core/v1 Event about `obj` (involvedObject with its uid, so `kubectl describe`
finds it) from `source.component` (and host). Repeats of the same (object,
type, reason, message, source) within the aggregation window are folded into the
existing Event by bumping `count` and `lastTimestamp` (a merge patch), as
client-go's correlator does, so a crash-looping thing yields one event with
"(x5 over 2m)". Writes happen on a background task fed by a bounded queue: the
caller never waits for the API and a full queue drops events (as upstream).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pocketkube.client.rest import ApiError, ResourceRef, RESTClient

log = logging.getLogger("pocketkube.client.events")

EVENTS = ResourceRef("", "v1", "events")
AGGREGATION_WINDOW = 600.0
QUEUE_LIMIT = 1000
NORMAL = "Normal"
WARNING = "Warning"


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int
    first: str
    at: float


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_reference(obj: dict[str, Any], field_path: str = "") -> dict[str, Any]:
    m = obj.get("metadata", {})
    ref = {"kind": obj.get("kind", ""), "namespace": m.get("namespace", ""), "name": m.get("name", ""),
           "uid": m.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
           "resourceVersion": m.get("resourceVersion", "")}
    if field_path:
        ref["fieldPath"] = field_path
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    def __init__(self, client: RESTClient, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._seen: dict[tuple[str, ...], _Seen] = {}
        self._seq = 0

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str, *,
              field_path: str = "") -> None:
        """Record an event (non-blocking)."""
        ref = object_reference(obj, field_path)
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait({"ref": ref, "type": type_, "reason": reason, "message": message})

    async def run(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                await self._write(item)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # events are best effort
                log.debug("event write failed: %s", e)

    async def _write(self, item: dict[str, Any]) -> None:
        ref = item["ref"]
        ns = ref.get("namespace") or "default"
        key = (ref.get("uid", ""), ref.get("fieldPath", ""), item["type"], item["reason"], item["message"])
        now = _now()
        seen = self._seen.get(key)
        if seen is not None and time.monotonic() - seen.at < AGGREGATION_WINDOW:
            seen.count += 1
            seen.at = time.monotonic()
            try:
                await self.client.patch(EVENTS, seen.name, {"count": seen.count, "lastTimestamp": now}, seen.namespace)
                return
            except ApiError as e:
                if e.code != 404:
                    raise
        self._seq += 1
        name = f"{ref.get('name', 'unknown')}.{int(time.time() * 1e9):x}{self._seq:x}"[:253]
        body = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
                "involvedObject": ref, "reason": item["reason"], "message": item["message"],
                "source": {"component": self.component, **({"host": self.host} if self.host else {})},
                "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": item["type"],
                "eventTime": None, "reportingComponent": self.component, "reportingInstance": self.host}
        await self.client.create(EVENTS, body, namespace=ns)
        self._seen[key] = _Seen(name, ns, 1, now, time.monotonic())
        if len(self._seen) > 4096:
            oldest = sorted(self._seen.items(), key=lambda kv: kv[1].at)[:1024]
            for k, _ in oldest:
                self._seen.pop(k, None)
