"""Hosting simulated nodes: take over marked Node objects, keep their status and Leases fresh.

Theory of operation (kwok's node controller, with the kubelet's cadence): a
node informer sees every Node; those labelled `pocketkube.io/simulated=true`
are hosted here. Once a second the loop walks the hosted nodes and starts what
is due as its own task (at most 64 API calls in flight, and a slow call never
holds back another node's heartbeat):
- registration of a node not yet served: choose its pod CIDR (the node's own
  spec.podCIDR if it has one, else the lowest free index of the address plan
  among all nodes; upstream's node-ipam controller would do this, pocketkube
  has none, so the agent is the allocator), patch the missing standard labels,
  annotations and podCIDR(s), create its runtime, post the full status, create
  the Lease and record the kubelet's start-up events; then the pod workers are
  told the node serves;
- Lease renewal every 10 s (update of the last seen Lease, re-created if it
  vanished); each node's renewals and status checks are offset by a stable
  fraction of the interval (derived from its name), so 500 nodes make a steady
  50 renewals/s instead of bursts;
- a status check every 10 s that posts (strategic merge patch of nodes/status)
  only if the status changed or 5 minutes passed.
A node annotated `pocketkube.io/simulate-heartbeat: stopped` is partitioned:
no Lease renewal, no status, no pod work, until the annotation goes away (then
everything is due at once). A deleted node stops being served; its Lease is
deleted. One loop serves all nodes; there is no long-lived task per node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pocketkube.api.schema import get_schema
from pocketkube.client.informer import Handlers, Informer
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient
from pocketkube.kubelet import ipam, nodestatus, simulate
from pocketkube.kubelet.clock import Clock
from pocketkube.kubelet.events import NORMAL, NodeEvents, node_ref
from pocketkube.kubelet.nodestatus import LEASE_NAMESPACE, NodeIdentity
from pocketkube.kubelet.runtime.interface import Runtime
from pocketkube.kubelet.runtime.simulated import RUNTIME_NAME, RUNTIME_VERSION, SimulatedRuntime
from pocketkube.machinery.smpdiff import create_two_way_merge_patch

log = logging.getLogger("pocketkube.kubelet.nodes")

NODES = ResourceRef("", "v1", "nodes", namespaced=False)
LEASES = ResourceRef("coordination.k8s.io", "v1", "leases")
SMP = "application/strategic-merge-patch+json"
TICK = 1.0
Obj = dict[str, Any]


@dataclass(slots=True)
class HostedNode:
    name: str
    uid: str = ""
    ident: NodeIdentity | None = None
    runtime: SimulatedRuntime | None = None
    serving: bool = False
    paused: bool = False
    busy: bool = False
    retry_at: float = 0.0
    failures: int = 0
    lease: Obj | None = None
    next_lease: float = 0.0
    next_status: float = 0.0
    reported: Obj | None = None
    reported_at: float = 0.0


class NodeManager:
    """Serves the simulated nodes; implements podworkers.NodeView."""

    def __init__(self, client: RESTClient, nodes: Informer, clock: Clock, events: NodeEvents, *,
                 timing: simulate.Timing = simulate.Timing(), concurrency: int = 64,
                 on_serving: Callable[[str], None] = lambda name: None,
                 on_gone: Callable[[str], None] = lambda name: None, kubelet_port: int = 0) -> None:
        self.client = client
        self.kubelet_port = kubelet_port  # the agent's streaming server (0: none yet, report the default)
        self.nodes = nodes
        self.clock = clock
        self.events = events
        self.timing = timing
        self.concurrency = concurrency
        self.on_serving = on_serving
        self.on_gone = on_gone
        self.hosted: dict[str, HostedNode] = {}
        self.claimed: dict[str, int] = {}
        self.boot_id = str(uuid.uuid4())
        self.wake = asyncio.Event()
        self._stale_leases: list[str] = []
        schema = get_schema()
        self.schema = schema.root(schema.name_for_gvk("", "v1", "Node") or "io.k8s.api.core.v1.Node")
        nodes.add_handlers(Handlers(on_add=self._observe, on_update=lambda old, new: self._observe(new),
                                    on_delete=lambda node: self._drop(node.get("metadata", {}).get("name", ""))))

    # ------------------------------------------------------------------ NodeView
    def runtime_for(self, node: str) -> Runtime | None:
        h = self.hosted.get(node)
        return h.runtime if h is not None and h.serving and not h.paused else None

    def host_ip(self, node: str) -> str:
        h = self.hosted.get(node)
        return h.ident.internal_ip if h is not None and h.ident is not None else ""

    def allocatable(self, node: str) -> dict[str, Any]:
        obj = self.nodes.get(node) or {}
        return dict((obj.get("status") or {}).get("allocatable") or nodestatus.DEFAULT_CAPACITY)

    def serving(self) -> list[str]:
        return [h.name for h in self.hosted.values() if h.serving and not h.paused]

    # ------------------------------------------------------------------ informer intake
    def _observe(self, node: Obj) -> None:
        meta = node.get("metadata") or {}
        name = meta.get("name", "")
        if not nodestatus.is_simulated(node):
            if name in self.hosted:
                self._drop(name)
            return
        h = self.hosted.get(name)
        if h is None or (h.uid and h.uid != meta.get("uid")):
            if h is not None:
                self._drop(name)
            h = self.hosted[name] = HostedNode(name)
        h.uid = meta.get("uid", "")
        paused = nodestatus.heartbeat_stopped(node)
        if paused != h.paused:
            h.paused = paused
            if not paused and h.serving:
                h.next_lease = h.next_status = 0.0
                h.reported = None
                self.on_serving(name)
        self.wake.set()

    def _drop(self, name: str) -> None:
        h = self.hosted.pop(name, None)
        self.claimed.pop(name, None)
        if h is not None:
            self.on_gone(name)
            if h.serving:
                self._stale_leases.append(name)
            self.wake.set()

    # ------------------------------------------------------------------ loop
    async def run(self) -> None:
        """Start due work every tick; slow calls never hold back other nodes' heartbeats."""
        gate = asyncio.Semaphore(self.concurrency)
        async with asyncio.TaskGroup() as tg:
            while True:
                for job in self.due_jobs():
                    tg.create_task(_gated(gate, job))
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), TICK)

    async def tick(self) -> None:
        """Run the work due now to completion (tests)."""
        await _bounded(self.due_jobs(), self.concurrency)

    def due_jobs(self) -> list[Callable[[], Awaitable[None]]]:
        now = self.clock.now()
        jobs: list[Callable[[], Awaitable[None]]] = []
        for h in list(self.hosted.values()):
            if h.paused or h.busy or h.retry_at > now:
                continue
            if not h.serving:
                jobs.append(self._job(h, self._register))
                continue
            if h.next_lease <= now or h.next_status <= now:
                jobs.append(self._job(h, self._heartbeat))
        stale, self._stale_leases = self._stale_leases, []
        return jobs + [self._delete_lease_job(name) for name in stale]

    def _job(self, h: HostedNode, work: Callable[[HostedNode], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        h.busy = True

        async def run() -> None:
            try:
                await work(h)
                h.failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as e:
                h.failures += 1
                h.retry_at = self.clock.now() + min(2.0 ** h.failures, 30.0)
                log.warning("node %s: %s: %s", h.name, type(e).__name__, e)
            finally:
                h.busy = False
        return run

    def _delete_lease_job(self, name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if name in self.hosted:
                return
            with contextlib.suppress(ApiError):
                await self.client.delete(LEASES, name, LEASE_NAMESPACE)
        return run

    # ------------------------------------------------------------------ registration
    def _plan(self, node: Obj) -> tuple[str, int]:
        name = node["metadata"]["name"]
        existing = (node.get("spec") or {}).get("podCIDR") or ""
        index = ipam.index_of_cidr(existing) if existing else None
        if existing and index is not None:
            return existing, index
        if name in self.claimed:
            index = self.claimed[name]
        else:
            used = {i for n in self.nodes.list() if n.get("metadata", {}).get("name") != name
                    for i in [ipam.index_of_cidr((n.get("spec") or {}).get("podCIDR") or "")] if i is not None}
            index = ipam.lowest_free_index(used | set(self.claimed.values()))
            self.claimed[name] = index
        return existing or ipam.pod_cidr_for_index(index), index

    async def _register(self, h: HostedNode) -> None:
        node = self.nodes.get(h.name)
        if node is None:
            return
        cidr, index = self._plan(node)
        patch = nodestatus.registration_patch(node, cidr)
        if patch is not None:
            node = await self.client.patch(NODES, h.name, patch)
        cidr = (node.get("spec") or {}).get("podCIDR") or cidr
        h.ident = NodeIdentity(name=h.name, internal_ip=ipam.node_ip_for_index(index), pod_cidr=cidr,
                               boot_id=self.boot_id, runtime=f"{RUNTIME_NAME}://{RUNTIME_VERSION}",
                               kubelet_port=self.kubelet_port or nodestatus.KUBELET_PORT)
        if h.runtime is None or h.runtime.ipam.cidr != cidr:
            h.runtime = SimulatedRuntime(cidr, self.clock.now, self.timing)
        await self._report(h, node, force=True)
        await self._renew(h)
        # spread the nodes' renewals and status checks over the interval (the kubelet jitters its timers)
        h.next_lease += nodestatus.LEASE_RENEW_INTERVAL * (_spread(h.name) - 1.0)
        h.next_status += nodestatus.STATUS_CHECK_INTERVAL * (_spread(h.name) - 1.0)
        h.serving = True
        self._startup_events(h.name)
        self.on_serving(h.name)

    def _startup_events(self, name: str) -> None:
        ref = node_ref(name)
        self.events.emit(name, ref, NORMAL, "Starting", "Starting kubelet.")
        for reason in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"):
            self.events.emit(name, ref, NORMAL, reason, f"Node {name} status is now: {reason}")
        self.events.emit(name, ref, NORMAL, "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
        self.events.emit(name, ref, NORMAL, "NodeReady", f"Node {name} status is now: NodeReady")

    # ------------------------------------------------------------------ heartbeats
    async def _heartbeat(self, h: HostedNode) -> None:
        now = self.clock.now()
        if h.next_lease <= now:
            await self._renew(h)
        if h.next_status <= now:
            node = self.nodes.get(h.name)
            if node is not None:
                await self._report(h, node)

    async def _renew(self, h: HostedNode) -> None:
        now = self.clock.now()
        h.next_lease = now + nodestatus.LEASE_RENEW_INTERVAL
        h.lease = await renew_lease(self.client, h.name, h.uid, h.lease, now)
        if h.lease is None:
            h.next_lease = now

    async def _report(self, h: HostedNode, node: Obj, *, force: bool = False) -> None:
        assert h.ident is not None and h.runtime is not None
        present = await h.runtime.list_images()
        now = self.clock.now()
        h.next_status = now + nodestatus.STATUS_CHECK_INTERVAL
        key = nodestatus.report_key(node, h.ident, present)
        live_ok = _conditions_match(node, key)  # someone (node lifecycle) may have overwritten our conditions
        if not force and live_ok and key == h.reported and now - h.reported_at < nodestatus.STATUS_REPORT_INTERVAL:
            return
        new = nodestatus.status(node, h.ident, present, now)
        patch = create_two_way_merge_patch({"status": node.get("status") or {}}, {"status": new}, self.schema)
        if patch:
            await self.client.patch(NODES, h.name, patch, patch_type=SMP, subresource="status")
        h.reported, h.reported_at = key, now


def _conditions_match(node: Obj, key: Obj) -> bool:
    """The live node shows the condition statuses and reasons this agent last meant to report."""
    live = {c.get("type"): (c.get("status"), c.get("reason")) for c in (node.get("status") or {}).get("conditions") or []}
    return all(live.get(c["type"]) == (c["status"], c["reason"]) for c in key["conditions"])


def _spread(name: str) -> float:
    """A stable fraction in [0, 1) per node name."""
    return (zlib.crc32(name.encode()) % 1000) / 1000.0


async def _gated(gate: asyncio.Semaphore, job: Callable[[], Awaitable[None]]) -> None:
    async with gate:
        await job()


async def _bounded(jobs: Iterable[Callable[[], Awaitable[None]]], limit: int) -> None:
    gate = asyncio.Semaphore(limit)
    async with asyncio.TaskGroup() as tg:
        for job in jobs:
            tg.create_task(_gated(gate, job))


async def ensure_nodes(client: RESTClient, names: Iterable[str], capacity: dict[str, str] | None = None,
                       control_plane: str = "") -> None:
    """Create simulated Node skeletons that do not exist yet (the agent's bootstrap nodes); the one
    named `control_plane` gets the control-plane role label."""
    for name in names:
        try:
            await client.create(NODES, nodestatus.skeleton(name, capacity, control_plane=name == control_plane))
        except ApiError as e:
            if e.code != 409:
                raise


async def renew_lease(client: RESTClient, name: str, node_uid: str, lease: Obj | None, now: float) -> Obj | None:
    """Create the node's Lease (taking over one that exists) or renew the one held; None when the
    renewal lost a race (404/409): the next call creates or re-reads it. Real and simulated nodes share it."""
    if lease is None:
        try:
            created: Obj = await client.create(LEASES, nodestatus.lease(name, node_uid, now), LEASE_NAMESPACE)
            return created
        except ApiError as e:
            if e.code != 409:
                raise
            lease = await client.get(LEASES, name, LEASE_NAMESPACE)
    fresh = nodestatus.lease(name, node_uid, now, lease.get("metadata", {}).get("resourceVersion", ""))
    try:
        renewed: Obj = await client.update(LEASES, {**lease, "spec": {**(lease.get("spec") or {}), **fresh["spec"]}})
        return renewed
    except ApiError as e:
        if e.code not in (404, 409):
            raise
        return None
