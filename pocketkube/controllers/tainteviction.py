"""Taint-eviction controller: deletes pods from nodes with NoExecute taints they do not tolerate.

Theory of operation (upstream tainteviction.Controller):
- Node events whose NoExecute taints changed queue the node; pod events whose
  node or tolerations changed queue the pod. Handling is pure bookkeeping on
  the caches: the NoExecute taints of each tainted node are remembered, and
  each pod on a tainted node is judged. A taint the pod does not tolerate
  means deletion now; otherwise deletion is due after the smallest
  tolerationSeconds among the matching tolerations (counted from when this
  controller noticed the taint); tolerations without tolerationSeconds keep
  the pod forever. Taints going away (or the pod going away, or tolerating
  forever) cancel a scheduled deletion, with the event "Cancelling deletion
  of Pod ns/name"; an already scheduled deletion is not pushed later.
- Scheduled deletions wait in a delaying queue keyed by pod. When one is due
  the controller records "Marking for deletion Pod ns/name"
  (TaintManagerEviction), adds the pod condition DisruptionTarget=True
  (reason DeletionByTaintManager) and deletes the pod with its default grace
  period, trying up to 5 times. A done deletion keeps its key so the same pod
  is not deleted twice until it is gone.
The default 300 s tolerations for not-ready/unreachable come from the
apiserver's DefaultTolerationSeconds admission, not from here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pocketkube.client.clock import monotonic
from pocketkube.client.events import NORMAL, EventRecorder
from pocketkube.client.indexer import NODE_NAME_INDEX, deep_copy, index_by_node_name
from pocketkube.client.informer import Handlers, key_of
from pocketkube.client.rest import ApiError, RESTClient
from pocketkube.client.workqueue import ShutDown, WorkQueue
from pocketkube.controllers import eviction as ev
from pocketkube.controllers import nodemetrics
from pocketkube.controllers.base import Controller, InformerFactory
from pocketkube.machinery import taints as tn

log = logging.getLogger("pocketkube.controllers.tainteviction")

Obj = dict[str, Any]
DELETE_RETRIES = 5
RETRY_SLEEP = 0.01
DISRUPTION_TARGET = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                     "message": "Taint manager: deleting due to NoExecute taint"}


@dataclass
class Work:
    created_at: float
    fire_at: float


def _spec(obj: Obj | None) -> Obj:
    return (obj or {}).get("spec") or {}


class TaintEvictionController(Controller):
    name = "taint-eviction"
    workers = 8

    def __init__(self, client: RESTClient, factory: InformerFactory, *,
                 recorder: EventRecorder | None = None) -> None:
        super().__init__(client, factory)
        self.queue = WorkQueue(name="noexec_taint_node")
        self.pod_queue = WorkQueue(name="noexec_taint_pod")
        self.evictions = WorkQueue()
        self.nodes = self.watch(ev.NODES)
        self.pods = self.watch(ev.PODS, indexers={NODE_NAME_INDEX: index_by_node_name})
        self.recorder = recorder or EventRecorder(client, "taint-eviction-controller")
        self._runs_recorder = recorder is None
        self.tainted: dict[str, list[Obj]] = {}
        self.work: dict[str, Work | None] = {}
        self.nodes.add_handlers(Handlers(on_add=lambda n: self.node_updated(None, n), on_update=self.node_updated,
                                         on_delete=lambda n: self.node_updated(n, None)))
        self.pods.add_handlers(Handlers(on_add=lambda p: self.pod_updated(None, p), on_update=self.pod_updated,
                                        on_delete=lambda p: self.pod_updated(p, None)))

    # ------------------------------------------------------------------ events
    def node_updated(self, old: Obj | None, new: Obj | None) -> None:
        if old is not None and new is not None and \
                tn.no_execute(tn.taints_of(old)) == tn.no_execute(tn.taints_of(new)):
            return
        self.queue.add(str(((new or old) or {})["metadata"]["name"]))

    def pod_updated(self, old: Obj | None, new: Obj | None) -> None:
        if old is not None and new is not None and _spec(old).get("nodeName") == _spec(new).get("nodeName") \
                and (_spec(old).get("tolerations") or []) == (_spec(new).get("tolerations") or []):
            return
        self.pod_queue.add(key_of((new or old) or {}))

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            if self._runs_recorder:
                tg.create_task(self.recorder.run(), name="taint-eviction-events")
            await self.wait_for_sync()
            tg.create_task(self._worker(), name="taint-eviction-nodes")
            tg.create_task(self._drain(self.pod_queue, self.handle_pod_update), name="taint-eviction-pods")
            for i in range(self.workers):
                tg.create_task(self._drain(self.evictions, self.evict), name=f"taint-eviction-delete-{i}")

    def stop(self) -> None:
        super().stop()
        self.pod_queue.shutdown()
        self.evictions.shutdown()

    @staticmethod
    async def _drain(queue: WorkQueue, handle: Callable[[str], Awaitable[None]]) -> None:
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            try:
                await handle(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("taint-eviction: handling %s failed", key)
            finally:
                queue.done(key)

    async def sync(self, key: str) -> float | None:
        self.handle_node_update(key)
        return None

    # ------------------------------------------------------------------ decisions
    def handle_node_update(self, name: str) -> None:
        node = self.nodes.get(name)
        if node is None:
            self.tainted.pop(name, None)
            return
        taints = tn.no_execute(tn.taints_of(node))
        if taints:
            self.tainted[name] = taints
        else:
            self.tainted.pop(name, None)
        pods = self.pods.by_index(NODE_NAME_INDEX, name)
        now = monotonic()
        for pod in pods:
            if taints:
                self.process_pod_on_node(key_of(pod), _spec(pod).get("tolerations") or [], taints, now)
            else:
                self.cancel(key_of(pod))

    async def handle_pod_update(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None:
            self.cancel(key)
            return
        taints = self.tainted.get(_spec(pod).get("nodeName") or "")
        if taints:
            self.process_pod_on_node(key, _spec(pod).get("tolerations") or [], taints, monotonic())

    def process_pod_on_node(self, key: str, tolerations: list[Obj], taints: list[Obj], now: float) -> None:
        tolerated, used = tn.matching_tolerations(taints, tolerations)
        if not tolerated:
            log.info("taint-eviction: not all taints are tolerated by pod %s; deleting it", key)
            self.cancel(key)
            self.add_work(key, now, now)
            return
        seconds = ev.min_toleration_seconds(used)
        if seconds < 0:
            self.cancel(key)
            return
        start, trigger = now, now + seconds
        scheduled = self.work.get(key)
        if scheduled is not None:
            start = scheduled.created_at
            if start + seconds <= trigger:
                return  # keep the deletion already due earlier (equal: the same instant, keep it too)
            self.cancel(key)
        self.add_work(key, start, trigger)

    def add_work(self, key: str, created_at: float, fire_at: float) -> None:
        if key in self.work:
            return  # already scheduled or done
        self.work[key] = Work(created_at, fire_at)
        self.evictions.add_after(key, max(0.0, fire_at - monotonic()))

    def cancel(self, key: str) -> bool:
        if key not in self.work:
            return False
        if self.work.pop(key) is None:
            return False
        self._event(key, f"Cancelling deletion of Pod {key}")
        return True

    # ------------------------------------------------------------------ deleting
    async def evict(self, key: str) -> None:
        work = self.work.get(key)
        if work is None:
            return
        remaining = work.fire_at - monotonic()
        if remaining > 0:
            self.evictions.add_after(key, remaining)
            return
        log.info("taint-eviction: deleting pod %s", key)
        self._event(key, f"Marking for deletion Pod {key}")
        namespace, _, name = key.partition("/")
        self.work[key] = None  # firing: no longer cancellable, and not scheduled again
        for attempt in range(DELETE_RETRIES):
            try:
                await self._condition_and_delete(namespace, name)
                fam = nodemetrics.families()
                fam.pod_deletions.inc()
                fam.pod_deletion_seconds.observe(max(0.0, monotonic() - work.fire_at))
                return
            except ApiError as e:
                log.info("taint-eviction: deleting pod %s failed (try %d): %s", key, attempt + 1, e)
            await asyncio.sleep(RETRY_SLEEP)
        if key in self.work and self.work[key] is None:
            del self.work[key]

    async def _condition_and_delete(self, namespace: str, name: str) -> None:
        pod = await self.client.get(ev.PODS, name, namespace)
        status = deep_copy(pod.get("status") or {})
        if ev.update_pod_condition(status, DISRUPTION_TARGET):
            await ev.patch_pod_status(self.client, pod, status)
        await self.client.delete(ev.PODS, name, namespace)

    def _event(self, key: str, message: str) -> None:
        namespace, _, name = key.partition("/")
        ref = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}}
        self.recorder.event(ref, NORMAL, "TaintManagerEviction", message)
