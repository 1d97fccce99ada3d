"""Events of many simulated kubelets from one process, rate limited.

Theory of operation: every simulated node records its events as its own
kubelet would (source component "kubelet", host = node name, involvedObject
the pod with fieldPath spec.containers{NAME}), through one client
`EventRecorder` per node (created on first use; its writer task joins this
object's task group). A process-wide token bucket (default 50 events/s, burst
100: what one upstream kubelet allows itself) drops events beyond the budget,
so a 10,000-pod burst cannot flood the apiserver with event writes; dropped
events are counted.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pocketkube.client.events import EventRecorder
from pocketkube.client.rest import RESTClient
from pocketkube.kubelet.clock import Clock

NORMAL = "Normal"
WARNING = "Warning"


def pod_ref(pod: dict[str, Any]) -> dict[str, Any]:
    """A pod as an event's involved object (list items carry no kind)."""
    return {"kind": "Pod", "apiVersion": "v1", "metadata": pod.get("metadata") or {}}


def node_ref(name: str) -> dict[str, Any]:
    """The kubelet's node reference: kind Node, uid = the node's name (as upstream)."""
    return {"kind": "Node", "metadata": {"name": name, "uid": name}}


class TokenBucket:
    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.at = now

    def take(self, now: float) -> bool:
        if self.rate < 0:
            return True
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class NodeEvents:
    def __init__(self, client: RESTClient, clock: Clock, *, qps: float = 50.0, burst: int = 100) -> None:
        self.client = client
        self.clock = clock
        self.enabled = qps != 0
        self.bucket = TokenBucket(qps, burst, clock.now())
        self.recorders: dict[str, EventRecorder] = {}
        self._new: asyncio.Queue[EventRecorder] = asyncio.Queue()
        self.sent = 0
        self.dropped = 0

    def emit(self, node: str, obj: dict[str, Any], type_: str, reason: str, message: str,
             field_path: str = "") -> None:
        """Record an event about `obj` (see pod_ref/node_ref) as node `node`'s kubelet."""
        if not self.enabled:
            return
        if not self.bucket.take(self.clock.now()):
            self.dropped += 1
            return
        recorder = self.recorders.get(node)
        if recorder is None:
            recorder = self.recorders[node] = EventRecorder(self.client, "kubelet", host=node)
            self._new.put_nowait(recorder)
        recorder.event(obj, type_, reason, message, field_path=field_path)
        self.sent += 1

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            while True:
                recorder = await self._new.get()
                tg.create_task(recorder.run(), name=f"events-{recorder.host}")
