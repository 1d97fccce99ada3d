"""Node lifecycle controller: notices nodes that stop reporting, marks them Unknown and taints them.

Theory of operation (upstream nodelifecycle.Controller, taint-based eviction):
- Health. Every `monitor_period` (5 s) each node's health is re-judged from the
  last time it showed life: a new Ready condition heartbeat or a renewed Lease
  in kube-node-lease (the probe timestamp, on this controller's clock). A node
  silent for longer than `monitor_grace_period` (50 s; `startup_grace_period`,
  60 s, before it ever posted a Ready condition) gets Ready, MemoryPressure,
  DiskPressure and PIDPressure set to Unknown (reason NodeStatusUnknown,
  "Kubelet stopped posting node status.", or NodeStatusNeverUpdated), written
  through nodes/status. On the Ready -> not Ready transition the node gets a
  NodeNotReady event and the Ready condition of its pods is set to False
  (event NodeNotReady on each pod); failures are retried on the next pass.
- NoExecute taints. A node whose previously observed Ready is False or Unknown
  is queued in its zone's rate-limited taint queue (`eviction_rate` nodes/s,
  burst 1; `secondary_eviction_rate` or 0 in a partially disrupted zone); the
  tainting pass (every 100 ms) gives it node.kubernetes.io/not-ready or
  /unreachable:NoExecute (the two exclude each other and are swapped at once
  when the condition flips). A Ready node loses both. When every zone is fully
  disrupted (no Ready node at all, e.g. the control plane lost its network)
  all NoExecute taints are removed and tainting stops, as upstream. The
  taint-eviction controller turns these taints into pod deletions.
- NoSchedule taints mirror the node's conditions (not-ready, unreachable,
  memory/disk/pid-pressure, network-unavailable) and spec.unschedulable, on
  every node event (the node queue's `sync`).
- Pods newly bound to a node that is not Ready are marked not Ready at once.
Timestamps in the API are wall time; grace periods use the loop clock.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pocketkube.client.clock import monotonic, parse_time, rfc3339, wall
from pocketkube.client.events import NORMAL, WARNING, EventRecorder
from pocketkube.client.indexer import NODE_NAME_INDEX, deep_copy, index_by_node_name
from pocketkube.client.informer import Handlers, key_of
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient
from pocketkube.client.workqueue import ShutDown, WorkQueue
from pocketkube.controllers import eviction as ev
from pocketkube.controllers import nodemetrics, nodezones
from pocketkube.controllers.base import Controller, InformerFactory
from pocketkube.machinery import taints as tn

log = logging.getLogger("pocketkube.controllers.nodelifecycle")

Obj = dict[str, Any]
LEASES = ResourceRef("coordination.k8s.io", "v1", "leases")
NODE_LEASE_NAMESPACE = "kube-node-lease"
EXCLUDE_DISRUPTION = "node.kubernetes.io/exclude-disruption"
UNKNOWN_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
POD_WORKERS = 4
HEALTH_UPDATE_RETRIES = 5
RETRY_SLEEP = 0.02


@dataclass
class NodeLifecycleSettings:
    monitor_period: float = 5.0  # --node-monitor-period
    monitor_grace_period: float = 50.0  # --node-monitor-grace-period
    startup_grace_period: float = 60.0  # --node-startup-grace-period
    eviction_rate: float = 0.1  # --node-eviction-rate
    secondary_eviction_rate: float = 0.01  # --secondary-node-eviction-rate
    large_cluster_threshold: int = 50  # --large-cluster-size-threshold
    unhealthy_zone_threshold: float = 0.55  # --unhealthy-zone-threshold
    tainting_period: float = 0.1  # NodeEvictionPeriod


@dataclass
class NodeHealth:
    ready: Obj | None  # the Ready condition last seen
    probe: float  # loop time of the last sign of life
    transition: float
    lease: datetime | None = None


class NodeLifecycleController(Controller):
    name = "node-lifecycle"
    workers = 8

    def __init__(self, client: RESTClient, factory: InformerFactory,
                 settings: NodeLifecycleSettings | None = None, *, recorder: EventRecorder | None = None) -> None:
        super().__init__(client, factory)
        self.settings = settings or NodeLifecycleSettings()
        self.queue = WorkQueue(name="node_lifecycle_controller")
        self.pod_queue = WorkQueue(name="node_lifecycle_controller_pods")
        self.nodes = self.watch(ev.NODES)
        self.pods = self.watch(ev.PODS, indexers={NODE_NAME_INDEX: index_by_node_name})
        self.leases = self.watch(LEASES)
        self.recorder = recorder or EventRecorder(client, "node-controller")
        self._runs_recorder = recorder is None
        self.health: dict[str, NodeHealth] = {}
        self.known: dict[str, Obj] = {}
        self.zones = nodezones.Zones(self.settings.eviction_rate, self.settings.secondary_eviction_rate,
                                     self.settings.large_cluster_threshold, self.settings.unhealthy_zone_threshold)
        self.retry: set[str] = set()
        self._wake_tainter = asyncio.Event()
        self.nodes.add_handlers(Handlers(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                         on_delete=lambda n: self.retry.discard(n["metadata"]["name"])))
        self.pods.add_handlers(Handlers(on_add=lambda p: self._pod_updated(None, p), on_update=self._pod_updated))

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            if self._runs_recorder:
                tg.create_task(self.recorder.run(), name="node-lifecycle-events")
            await self.wait_for_sync()
            for i in range(self.workers):
                tg.create_task(self._worker(), name=f"node-lifecycle-node-{i}")
            for i in range(POD_WORKERS):
                tg.create_task(self._pod_worker(), name=f"node-lifecycle-pod-{i}")
            tg.create_task(self._monitor_loop(), name="node-lifecycle-monitor")
            tg.create_task(self._tainting_loop(), name="node-lifecycle-tainter")

    def stop(self) -> None:
        super().stop()
        self.pod_queue.shutdown()

    async def _monitor_loop(self) -> None:
        while True:
            try:
                await self.monitor_node_health()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("node-lifecycle: monitoring node health failed")
            await asyncio.sleep(self.settings.monitor_period)

    async def _tainting_loop(self) -> None:
        while True:
            if not self.zones.pending():
                self._wake_tainter.clear()
                await self._wake_tainter.wait()
            await self.no_execute_tainting_pass()
            await asyncio.sleep(self.settings.tainting_period)

    # ------------------------------------------------------------------ node health
    async def monitor_node_health(self) -> None:
        nodes = self.nodes.list()
        names = {n["metadata"]["name"] for n in nodes}
        for node in nodes:
            name = node["metadata"]["name"]
            if name not in self.known:
                self._node_event(node, "RegisteredNode", f"Registered Node {name} in Controller")
                self.known[name] = node
                self.zones.add(ev.zone_key(node))
                await self.mark_reachable(node)
            else:
                self.zones.add(ev.zone_key(node))
        for name in [n for n in self.known if n not in names]:
            self._node_event(self.known.pop(name), "RemovingNode", f"Removing Node {name} from Controller")
            self.health.pop(name, None)
        zones: dict[str, list[Obj | None]] = {}
        gate = asyncio.Semaphore(self.workers)

        async def one(node: Obj) -> None:
            async with gate:
                await self._monitor_one(node, zones)
        await asyncio.gather(*(one(n) for n in nodes))
        await self.handle_disruption(zones, nodes)

    async def _monitor_one(self, node: Obj, zones: dict[str, list[Obj | None]]) -> None:
        name = node["metadata"]["name"]
        node = deep_copy(node)
        for _ in range(HEALTH_UPDATE_RETRIES):
            try:
                observed, current, node = await self.try_update_node_health(node)
                break
            except ApiError as e:
                log.info("node-lifecycle: updating health of node %s failed: %s", name, e)
                try:
                    node = await self.client.get(ev.NODES, name)
                except ApiError:
                    return
                await asyncio.sleep(RETRY_SLEEP)
        else:
            return
        if EXCLUDE_DISRUPTION not in (node["metadata"].get("labels") or {}):
            zones.setdefault(ev.zone_key(node), []).append(current)
        if current is None:
            return
        await self.process_taint_based_eviction(node, observed)
        pods = self.pods.by_index(NODE_NAME_INDEX, name)
        was_ready = observed.get("status") == "True"
        if current.get("status") != "True" and was_ready:
            self._node_event(node, "NodeNotReady", f"Node {name} status is now: NodeNotReady", status_change=True)
        must_mark = (current.get("status") != "True" and was_ready) or (name in self.retry and not was_ready)
        if must_mark and not await self.mark_pods_not_ready(pods, name):
            self.retry.add(name)
            return
        self.retry.discard(name)

    async def try_update_node_health(self, node: Obj) -> tuple[Obj, Obj | None, Obj]:
        """(observed Ready condition, current Ready condition, node); writes Unknown after the grace."""
        name, now = node["metadata"]["name"], monotonic()
        health = self.health.get(name)
        current = ev.condition(node, "Ready")
        created = node["metadata"].get("creationTimestamp")
        if current is None:
            observed: Obj = {"type": "Ready", "status": "Unknown", "lastHeartbeatTime": created,
                             "lastTransitionTime": created}
            grace = self.settings.startup_grace_period
            if health is None:
                born = parse_time(created)
                at = now - (wall() - born).total_seconds() if born else now
                health = NodeHealth(None, at, at)
            else:
                health.ready = None
        else:
            observed, grace = dict(current), self.settings.monitor_grace_period
        health = self._refresh(health, current, now, name)
        if now > health.probe + grace:
            stamp = rfc3339(wall())
            for type_ in UNKNOWN_CONDITIONS:
                self._mark_unknown(node, type_, stamp, created)
            current = ev.condition(node, "Ready")
            if current != observed:
                node = await self.client.update(ev.NODES, node, "status")
                current = ev.condition(node, "Ready")
                health = NodeHealth(current, health.probe, now, self._lease_renewal(name))
        self.health[name] = health
        return observed, current, node

    def _refresh(self, health: NodeHealth | None, current: Obj | None, now: float, name: str) -> NodeHealth:
        saved = health.ready if health else None
        saved_lease = health.lease if health else None
        if health is None or (saved is None) != (current is None):
            health = NodeHealth(current, now, now)
        elif saved is not None and current is not None and \
                saved.get("lastHeartbeatTime") != current.get("lastHeartbeatTime"):
            changed = saved.get("lastTransitionTime") != current.get("lastTransitionTime")
            health = NodeHealth(current, now, now if changed else health.transition)
        renewed = self._lease_renewal(name)
        if renewed is not None and (saved_lease is None or saved_lease < renewed):
            health.lease, health.probe = renewed, now
        return health

    def _lease_renewal(self, name: str) -> datetime | None:
        lease = self.leases.get(f"{NODE_LEASE_NAMESPACE}/{name}")
        return parse_time((lease.get("spec") or {}).get("renewTime")) if lease else None

    @staticmethod
    def _mark_unknown(node: Obj, type_: str, stamp: str, created: str | None) -> None:
        conditions = node.setdefault("status", {}).setdefault("conditions", [])
        cond = next((c for c in conditions if c.get("type") == type_), None)
        if cond is None:
            conditions.append({"type": type_, "status": "Unknown", "lastHeartbeatTime": created,
                               "lastTransitionTime": stamp, "reason": "NodeStatusNeverUpdated",
                               "message": "Kubelet never posted node status."})
        elif cond.get("status") != "Unknown":
            cond.update(status="Unknown", reason="NodeStatusUnknown",
                        message="Kubelet stopped posting node status.", lastTransitionTime=stamp)

    # ------------------------------------------------------------------ pods
    async def mark_pods_not_ready(self, pods: list[Obj], node_name: str) -> bool:
        """Set the Ready condition of the node's pods to False; False if an update failed."""
        ok = True
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") != node_name:
                continue
            ready = ev.condition(pod, "Ready")
            if ready is None:
                continue
            fresh = deep_copy(pod)
            if not ev.update_pod_condition(fresh["status"], {**ready, "status": "False"}):
                continue
            try:
                await self.client.update(ev.PODS, fresh, "status")
            except ApiError as e:
                if not e.not_found:
                    log.info("node-lifecycle: marking pod %s not ready failed: %s", key_of(pod), e)
                    ok = False
                continue
            self.recorder.event(pod, WARNING, "NodeNotReady", "Node is not ready")
        return ok

    def _pod_updated(self, old: Obj | None, new: Obj) -> None:
        node = (new.get("spec") or {}).get("nodeName")
        if node and (old is None or (old.get("spec") or {}).get("nodeName") != node):
            self.pod_queue.add(key_of(new))

    async def _pod_worker(self) -> None:
        while True:
            try:
                key = await self.pod_queue.get()
            except ShutDown:
                return
            try:
                done = await self.process_pod(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("node-lifecycle: processing pod %s failed", key)
                done = False
            finally:
                self.pod_queue.done(key)
            if done:
                self.pod_queue.forget(key)
            else:
                self.pod_queue.add_rate_limited(key)

    async def process_pod(self, key: str) -> bool:
        pod = self.pods.get(key)
        if pod is None:
            return True
        node_name = (pod.get("spec") or {}).get("nodeName", "")
        health = self.health.get(node_name)
        if health is None:
            return True
        if self.nodes.get(node_name) is None:
            return False
        if health.ready is None or health.ready.get("status") == "True":
            return True
        return await self.mark_pods_not_ready([pod], node_name)

    # ------------------------------------------------------------------ taints
    async def sync(self, key: str) -> float | None:
        """NoSchedule taints that mirror the node's conditions and spec.unschedulable."""
        node = self.nodes.get(key)
        if node is None:
            return None
        want = []
        for cond in (node.get("status") or {}).get("conditions") or []:
            taint_key = ev.CONDITION_TAINTS.get(cond.get("type", ""), {}).get(cond.get("status", ""))
            if taint_key:
                want.append({"key": taint_key, "effect": tn.NO_SCHEDULE})
        if (node.get("spec") or {}).get("unschedulable"):
            want.append({"key": tn.UNSCHEDULABLE, "effect": tn.NO_SCHEDULE})
        have = [t for t in tn.taints_of(node) if t.get("effect") == tn.NO_SCHEDULE
                and (t.get("key") == tn.UNSCHEDULABLE or t.get("key") in ev.CONDITION_TAINT_KEYS)]
        add = [t for t in want if not tn.has_taint(have, t)]
        remove = [t for t in have if not tn.has_taint(want, t)]
        if (add or remove) and not await ev.swap_node_taints(self.client, node, add, remove):
            raise RuntimeError(f"failed to swap NoSchedule taints of node {key}")
        return None

    async def process_taint_based_eviction(self, node: Obj, observed: Obj) -> None:
        status, taints = observed.get("status"), tn.taints_of(node)
        if status in ("False", "Unknown"):
            want, opposite = ((ev.NOT_READY_NO_EXECUTE, ev.UNREACHABLE_NO_EXECUTE) if status == "False"
                              else (ev.UNREACHABLE_NO_EXECUTE, ev.NOT_READY_NO_EXECUTE))
            if tn.has_taint(taints, opposite):
                await ev.swap_node_taints(self.client, node, [want], [opposite])
            else:
                self.mark_for_tainting(node, want)
        elif status == "True":
            await self.mark_reachable(node)

    def mark_for_tainting(self, node: Obj, taint: Obj) -> bool:
        queue = self.zones.tainters[ev.zone_key(node)]
        name = node["metadata"]["name"]
        if not tn.has_taint(tn.taints_of(node), taint):
            queue.remove(name)
        added = queue.add(name, node["metadata"].get("uid", ""))
        self._wake_tainter.set()
        return added

    async def mark_reachable(self, node: Obj) -> bool:
        remove = [t for t in (ev.UNREACHABLE_NO_EXECUTE, ev.NOT_READY_NO_EXECUTE) if tn.has_taint(tn.taints_of(node), t)]
        if remove and not await ev.swap_node_taints(self.client, node, [], remove):
            return False
        queue = self.zones.tainters.get(ev.zone_key(node))
        return queue.remove(node["metadata"]["name"]) if queue else False

    async def no_execute_tainting_pass(self) -> None:
        for queue in list(self.zones.tainters.values()):
            await queue.try_each(self._taint_one)

    async def _taint_one(self, name: str) -> tuple[bool, float]:
        node = self.nodes.get(name)
        if node is None:
            return True, 0.0
        ready = ev.condition(node, "Ready")
        if ready is None:
            return False, 0.05
        status = ready.get("status")
        if status == "False":
            add, opposite = ev.NOT_READY_NO_EXECUTE, ev.UNREACHABLE_NO_EXECUTE
        elif status == "Unknown":
            add, opposite = ev.UNREACHABLE_NO_EXECUTE, ev.NOT_READY_NO_EXECUTE
        else:
            return True, 0.0
        done = await ev.swap_node_taints(self.client, node, [add], [opposite])
        if done:
            nodemetrics.families().evictions.labels(ev.zone_key(node)).inc()
        return done, 0.0

    # ------------------------------------------------------------------ zones
    async def handle_disruption(self, zones: dict[str, list[Obj | None]], nodes: list[Obj]) -> None:
        change = self.zones.update(zones)
        if change == nodezones.ENTERED_FULL_DISRUPTION:
            log.info("node-lifecycle: all nodes are not Ready; entering master disruption mode")
            for node in nodes:
                await self.mark_reachable(node)
        elif change == nodezones.LEFT_FULL_DISRUPTION:
            log.info("node-lifecycle: some nodes are Ready again; exiting master disruption mode")
            now = monotonic()
            for node in nodes:
                health = self.health.get(node["metadata"]["name"])
                if health is not None:
                    health.probe = health.transition = now

    # ------------------------------------------------------------------ events
    def _node_event(self, node: Obj, reason: str, message: str, *, status_change: bool = False) -> None:
        name = node["metadata"]["name"]
        ref = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": node["metadata"].get("uid", "")}}
        text = message if status_change else f"Node {name} event: {message}"
        self.recorder.event(ref, NORMAL, reason, text)
