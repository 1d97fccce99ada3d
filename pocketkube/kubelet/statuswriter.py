"""The status manager's write side: coalesced pod status patches and deletion confirmations.

Theory of operation: pod workers `submit` the latest status of a pod (and,
for a pod whose containers have all stopped after a graceful delete,
`confirm_delete`). Each pod has at most one pending write, holding only the
newest status, and at most one write in flight; a fixed pool of writer tasks
serves a FIFO of dirty pods. So when the API is slower than the pods change, a
pod's intermediate states are skipped and it costs one call, not one per state.

A write is a strategic merge patch of pods/NAME/status computed as the
kubelet does (two-way diff of the cached API status against the new one, so
conditions merge by type and others' conditions survive; null and absent
fields count as equal), with metadata.uid in
the patch so a pod recreated under the same name is never written by mistake.
A deletion confirmation is DELETE with gracePeriodSeconds 0 and a uid
precondition, sent after the pod's final status. 404 and 409 (pod gone or
replaced) drop the write; other failures retry after a second unless a newer
write superseded them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from pocketkube.api.schema import Node, get_schema
from pocketkube.client.informer import Informer
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient
from pocketkube.kubelet.clock import Clock
from pocketkube.machinery.smpdiff import create_two_way_merge_patch

log = logging.getLogger("pocketkube.kubelet.status")

PODS = ResourceRef("", "v1", "pods")
SMP = "application/strategic-merge-patch+json"
RETRY_AFTER = 1.0
Obj = dict[str, Any]


def pod_schema() -> Node:
    schema = get_schema()
    name = schema.name_for_gvk("", "v1", "Pod")
    assert name is not None
    return schema.root(name)


@dataclass(slots=True)
class _Write:
    uid: str
    status: Obj | None = None
    delete: bool = False


def drop_nulls(value: Any) -> Any:
    """A copy without null-valued keys: null and absent mean the same in the API (Go's zero values), so a
    null must not make a difference in the diff (our apiserver drops nulls that a patch sets)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def split_key(key: str) -> tuple[str, str]:
    ns, _, name = key.rpartition("/")
    return ns, name


class StatusWriter:
    def __init__(self, client: RESTClient, pods: Informer, clock: Clock, *, concurrency: int = 32) -> None:
        self.client = client
        self.pods = pods
        self.clock = clock
        self.concurrency = concurrency
        self.schema = pod_schema()
        self._pending: dict[str, _Write] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._inflight: set[str] = set()
        self.patches = 0
        self.deletes = 0
        self.failures = 0

    # ------------------------------------------------------------------ producer side
    def submit(self, key: str, uid: str, status: Obj) -> None:
        self._entry(key, uid).status = status
        self._kick(key)

    def confirm_delete(self, key: str, uid: str) -> None:
        self._entry(key, uid).delete = True
        self._kick(key)

    def forget(self, key: str) -> None:
        self._pending.pop(key, None)

    def busy(self, key: str) -> bool:
        """A write for `key` is pending or in flight."""
        return key in self._pending or key in self._inflight

    def backlog(self) -> int:
        return len(self._pending) + len(self._inflight)

    def _entry(self, key: str, uid: str) -> _Write:
        w = self._pending.get(key)
        if w is None or w.uid != uid:
            w = self._pending[key] = _Write(uid)
        return w

    def _kick(self, key: str) -> None:
        if key not in self._queued and key not in self._inflight:
            self._queued.add(key)
            self._queue.put_nowait(key)

    # ------------------------------------------------------------------ writers
    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for i in range(self.concurrency):
                tg.create_task(self._worker(), name=f"status-writer-{i}")

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            w = self._pending.pop(key, None)
            if w is None:
                continue
            self._inflight.add(key)
            try:
                await self._send(key, w)
            finally:
                self._inflight.discard(key)
                if key in self._pending:
                    self._kick(key)

    async def _send(self, key: str, w: _Write) -> None:
        try:
            if w.status is not None:
                await self.write_status(key, w.uid, w.status)
            if w.delete:
                await self.write_delete(key, w.uid)
        except asyncio.CancelledError:
            raise
        except ApiError as e:
            if e.code in (404, 409):
                return
            self.failures += 1
            log.warning("status write for %s failed: %s", key, e)
            if e.code != 422:
                await self._retry(key, w)
        except Exception as e:
            self.failures += 1
            log.warning("status write for %s failed: %s: %s", key, type(e).__name__, e)
            await self._retry(key, w)

    async def _retry(self, key: str, w: _Write) -> None:
        await self.clock.sleep(RETRY_AFTER)
        newer = self._pending.get(key)
        if newer is None:
            self._pending[key] = w
        elif newer.uid == w.uid:
            newer.delete = newer.delete or w.delete

    async def write_status(self, key: str, uid: str, status: Obj) -> None:
        ns, name = split_key(key)
        cached = self.pods.get(key)
        base = (cached.get("status") or {}) if cached and cached.get("metadata", {}).get("uid") == uid else {}
        patch = create_two_way_merge_patch({"status": drop_nulls(base)}, {"status": drop_nulls(status)}, self.schema)
        if not patch:
            return
        patch["metadata"] = {"uid": uid}
        await self.client.patch(PODS, name, patch, ns, patch_type=SMP, subresource="status")
        self.patches += 1

    async def write_delete(self, key: str, uid: str) -> None:
        ns, name = split_key(key)
        await self.client.delete(PODS, name, ns, {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}})
        self.deletes += 1
