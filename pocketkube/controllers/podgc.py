"""Pod garbage collector: force-deletes pods nobody else will ever clean up.

Theory of operation (upstream podgc.PodGCController): every `period` (20 s)
one pass over the pod and node caches removes
- terminated pods (phase Succeeded or Failed) beyond `terminated_threshold`
  (--terminated-pod-gc-threshold, 12500; 0 disables): evicted pods first, then
  the oldest by creationTimestamp, name as tie-breaker;
- terminating pods on nodes that are not Ready and carry the
  node.kubernetes.io/out-of-service taint;
- orphaned pods, bound to a node that does not exist: a missing node name is
  quarantined for `quarantine` (40 s) and only confirmed gone by a live GET
  after that (the node informer may lag behind a node's creation); those pods
  get DisruptionTarget=True (reason DeletionByPodGC, "PodGC: node no longer
  exists");
- terminating pods that were never scheduled (no spec.nodeName).
A pod not yet in a terminal phase is first patched to phase Failed (plus the
condition, if any) through pods/status, since no kubelet will ever do it;
then it is deleted with gracePeriodSeconds 0. Deletions run concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from pocketkube.client.clock import monotonic
from pocketkube.client.indexer import deep_copy
from pocketkube.client.informer import key_of
from pocketkube.client.rest import ApiError, RESTClient
from pocketkube.controllers import eviction as ev
from pocketkube.controllers import nodemetrics
from pocketkube.controllers.base import Controller, InformerFactory
from pocketkube.machinery import taints as tn

log = logging.getLogger("pocketkube.controllers.podgc")

Obj = dict[str, Any]
CONCURRENCY = 50
ORPHAN_CONDITION = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                    "message": "PodGC: node no longer exists"}


@dataclass
class PodGCSettings:
    terminated_threshold: int = 12500  # --terminated-pod-gc-threshold
    period: float = 20.0  # gcCheckPeriod
    quarantine: float = 40.0  # quarantineTime


def _terminated(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Pending", "Running", "Unknown")


def _evicted(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Failed" and status.get("reason") == "Evicted"


def _node_name(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


class PodGCController(Controller):
    name = "pod-garbage-collector"

    def __init__(self, client: RESTClient, factory: InformerFactory, settings: PodGCSettings | None = None) -> None:
        super().__init__(client, factory)
        self.settings = settings or PodGCSettings()
        self.pods = self.watch(ev.PODS)
        self.nodes = self.watch(ev.NODES)
        self.quarantined: dict[str, float] = {}  # node name -> when its absence may be confirmed

    async def run(self) -> None:
        await self.wait_for_sync()
        while True:
            try:
                await self.gc()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pod GC pass failed")
            await asyncio.sleep(self.settings.period)

    async def gc(self) -> None:
        pods = self.pods.list()
        nodes = {n["metadata"]["name"]: n for n in self.nodes.list()}
        if self.settings.terminated_threshold > 0:
            await self.gc_terminated(pods)
        await self.gc_terminating(pods, nodes)
        await self.gc_orphaned(pods, nodes)
        await self.gc_unscheduled_terminating(pods)

    async def gc_terminated(self, pods: list[Obj]) -> None:
        terminated = [p for p in pods if _terminated(p)]
        excess = len(terminated) - self.settings.terminated_threshold
        if excess <= 0:
            return
        log.info("pod GC: garbage collecting %d terminated pods", excess)
        terminated.sort(key=lambda p: (not _evicted(p), p["metadata"].get("creationTimestamp") or "",
                                       p["metadata"]["name"]))
        await self._delete_all(terminated[:excess], "terminated")

    async def gc_terminating(self, pods: list[Obj], nodes: dict[str, Obj]) -> None:
        doomed = []
        for pod in pods:
            if not pod["metadata"].get("deletionTimestamp"):
                continue
            node = nodes.get(_node_name(pod))
            if node is None:
                continue
            ready = ev.condition(node, "Ready")
            if (ready is None or ready.get("status") != "True") and \
                    any(t.get("key") == tn.OUT_OF_SERVICE for t in tn.taints_of(node)):
                doomed.append(pod)
        doomed.sort(key=lambda p: (not _evicted(p), p["metadata"].get("creationTimestamp") or "",
                                   p["metadata"]["name"]))
        await self._delete_all(doomed, "out-of-service")

    async def gc_orphaned(self, pods: list[Obj], nodes: dict[str, Obj]) -> None:
        now = monotonic()
        for pod in pods:
            name = _node_name(pod)
            if name and name not in nodes:
                self.quarantined.setdefault(name, now + self.settings.quarantine)
        gone = set()
        for name, due in list(self.quarantined.items()):
            if due > now:
                continue
            del self.quarantined[name]
            if name not in nodes and not await self._node_exists(name):
                gone.add(name)
        orphans = [p for p in pods if _node_name(p) in gone]
        for pod in orphans:
            log.info("pod GC: found orphaned pod %s assigned to node %s, deleting", key_of(pod), _node_name(pod))
        await self._delete_all(orphans, "orphaned", ORPHAN_CONDITION)

    async def _node_exists(self, name: str) -> bool:
        try:
            await self.client.get(ev.NODES, name)
        except ApiError as e:
            if e.not_found:
                return False
            log.warning("pod GC: reading node %s failed: %s", name, e)
        return True

    async def gc_unscheduled_terminating(self, pods: list[Obj]) -> None:
        doomed = [p for p in pods if p["metadata"].get("deletionTimestamp") and not _node_name(p)]
        await self._delete_all(doomed, "unscheduled")

    async def _delete_all(self, pods: list[Obj], reason: str, cond: Obj | None = None) -> None:
        gate = asyncio.Semaphore(CONCURRENCY)
        fam = nodemetrics.families()

        async def one(pod: Obj) -> None:
            ns = pod["metadata"].get("namespace", "")
            async with gate:
                fam.force_deletes.labels(ns, reason).inc()
                try:
                    await self.mark_failed_and_delete(pod, cond)
                except ApiError as e:
                    fam.force_delete_errors.labels(ns, reason).inc()
                    if not e.not_found:
                        log.warning("pod GC: deleting pod %s failed: %s", key_of(pod), e)
        await asyncio.gather(*(one(p) for p in pods))

    async def mark_failed_and_delete(self, pod: Obj, cond: Obj | None = None) -> None:
        meta = pod["metadata"]
        log.info("pod GC: force deleting pod %s", key_of(pod))
        if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            status = deep_copy(pod.get("status") or {})
            status["phase"] = "Failed"
            if cond is not None:
                ev.update_pod_condition(status, cond)
            await ev.patch_pod_status(self.client, pod, status)
        await self.client.delete(ev.PODS, meta["name"], meta.get("namespace", ""),
                                 {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
