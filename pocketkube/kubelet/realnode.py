"""The profile's real node: containerd under the agent, registration, Lease and status from the host.

Theory of operation: `RealNode` is one node whose pods are real containers. `start_runtime()`
brings up the node's runtime stack (noderuntime.NodeRuntime: builtin images, local registry,
the private containerd started or adopted, a CRIRuntime with pod logs and cgroups under the
profile) and reads the host (hostinfo.py). `run()` then registers the Node as the kubelet does
(create it, or complete an existing one: labels, annotations, podCIDR 10.244.0.0/24), posts its
status (capacity/allocatable from the host, InternalIP = the host's default-route address,
InternalDNS localhost so the apiserver reaches this agent's streaming server, Hostname, nodeInfo
with containerRuntimeVersion containerd://<version>, the images containerd holds, Ready False
while CRI reports the runtime or its network not ready), creates its Lease, records the
kubelet's start-up events, tells the pod workers it serves (`on_serving`), and then renews the
Lease every 10 s and checks the status every 10 s (posted when changed, or every 5 minutes).

The agent started containerd, so it also keeps it running: a containerd that exits is started
again at the next heartbeat (its pods keep running in their shims; containerd recovers them).

Shutdown: `stop_pods()` is the clean node stop of `pocketkube stop`: every running container is
stopped with its pod's grace period capped at `STOP_GRACE_CAP` (the supervisor gives the agent
10 s), then every sandbox; nothing is removed, so `start` finds the pods' containers exited and
restarts them in new sandboxes (restart counts go on, as after a reboot). `close()` stops
containerd unless told to leave it (a crashing agent leaves it and the pods running; the next
agent adopts both). `NodeSet` is the pod workers' NodeView over this node and the simulated ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pocketkube.aio.backoff import Backoff
from pocketkube.api.schema import get_schema
from pocketkube.client.informer import Informer
from pocketkube.client.rest import ApiError, RESTClient
from pocketkube.kubelet import hostinfo, nodepurge, nodestatus
from pocketkube.kubelet.clock import Clock
from pocketkube.kubelet.events import NORMAL, NodeEvents, node_ref
from pocketkube.kubelet.hostcleanup import snapshot_host
from pocketkube.kubelet.hostinfo import HostFacts
from pocketkube.kubelet.nodes import NODES, SMP, NodeManager, renew_lease
from pocketkube.kubelet.nodestatus import NodeIdentity
from pocketkube.kubelet.runtime.cri_types import CRIContainerState, NotFound
from pocketkube.kubelet.runtime.interface import Runtime, RuntimeFailure
from pocketkube.machinery.smpdiff import create_two_way_merge_patch

if TYPE_CHECKING:  # the CRI stack (grpc, protobuf) loads only when a real node is brought up
    from pocketkube.kubelet.runtime.cri import CRIRuntime

log = logging.getLogger("pocketkube.kubelet.realnode")
Obj = dict[str, Any]
STOP_GRACE_CAP = 3.0
GATEWAY_IP = "10.244.0.1"


@dataclass(frozen=True, slots=True)
class RealNodeConfig:
    name: str
    profile_dir: Path
    pod_cidr: str = "10.244.0.0/24"
    cri_endpoint: str | None = None


class RealNode:
    def __init__(self, client: RESTClient, nodes: Informer, clock: Clock, events: NodeEvents,
                 config: RealNodeConfig, *, on_serving: Callable[[str], None] = lambda name: None) -> None:
        self.client = client
        self.nodes = nodes
        self.clock = clock
        self.events = events
        self.config = config
        self.name = config.name
        self.on_serving = on_serving
        self.kubelet_port = 0  # the agent's streaming server, once it listens
        from pocketkube.kubelet.noderuntime import NodeRuntime, NodeRuntimeConfig

        self.stack = NodeRuntime(NodeRuntimeConfig(profile_dir=config.profile_dir, pod_cidr=config.pod_cidr,
                                                   cri_endpoint=config.cri_endpoint))
        self.runtime: CRIRuntime | None = None
        self.host: HostFacts | None = None
        self.ip = GATEWAY_IP
        self.serving = False
        self.uid = ""
        self.lease: Obj | None = None
        self.reported: Obj | None = None
        self.reported_at = 0.0
        schema = get_schema()
        self.schema = schema.root(schema.name_for_gvk("", "v1", "Node") or "io.k8s.api.core.v1.Node")

    # ------------------------------------------------------------------ runtime stack
    async def start_runtime(self) -> CRIRuntime:
        self.host = await asyncio.to_thread(hostinfo.read_host, self.config.profile_dir)
        self.ip = await asyncio.to_thread(hostinfo.node_ip, GATEWAY_IP)
        if self.config.cri_endpoint is None:  # what `pocketkube delete` puts back (nodepurge.py)
            before = await asyncio.to_thread(snapshot_host)
            await asyncio.to_thread(nodepurge.save_host_snapshot, self.config.profile_dir, before)
        self.runtime = await self.stack.start()
        return self.runtime

    async def close(self, *, stop_containerd: bool) -> None:
        """Stop the runtime stack (containerd only when asked: otherwise pods keep running)."""
        runtime, self.runtime, self.serving = self.runtime, None, False
        if runtime is not None:
            await runtime.close()
        self.stack.runtime = None
        if stop_containerd:
            await self.stack.stop()
        else:
            await self.stack.registry.stop()

    # ------------------------------------------------------------------ NodeView / NodeFacts
    def runtime_for(self, node: str) -> Runtime | None:
        return self.runtime if node == self.name and self.serving else None

    def host_ip(self, node: str = "") -> str:
        return self.ip

    def node_ip(self) -> str:
        return self.ip

    def allocatable(self, node: str = "") -> Mapping[str, Any]:
        return self.host.allocatable() if self.host is not None else nodestatus.DEFAULT_CAPACITY

    def memory_capacity(self) -> int:
        return self.host.memory_bytes if self.host is not None else 0

    def identity(self) -> NodeIdentity:
        assert self.host is not None and self.runtime is not None
        h = self.host
        return NodeIdentity(
            name=self.name, internal_ip=self.ip, pod_cidr=self.config.pod_cidr, boot_id=h.boot_id,
            runtime=f"{self.runtime.runtime_name}://{self.runtime.runtime_version}",
            kubelet_port=self.kubelet_port or nodestatus.KUBELET_PORT, capacity=h.capacity(),
            allocatable=h.allocatable(), os_image=h.os_image, machine_id=h.machine_id, system_uuid=h.system_uuid,
            kernel=h.kernel, arch=h.arch)

    # ------------------------------------------------------------------ loop
    async def run(self) -> None:
        backoff = Backoff(initial=0.2, maximum=10.0)
        while True:
            try:
                await self.register()
                break
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("registering node %s: %s: %s", self.name, type(e).__name__, e)
                await self.clock.sleep(backoff.next())
        while True:
            await self.clock.sleep(nodestatus.LEASE_RENEW_INTERVAL)
            try:
                await self.watch_containerd()
                await self.renew()
                await self.report()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("node %s heartbeat: %s: %s", self.name, type(e).__name__, e)

    async def register(self) -> None:
        assert self.runtime is not None
        node = await self._ensure_node()
        self.uid = str(node["metadata"].get("uid") or "")
        await self.report(node, force=True)
        await self.renew()
        if not self.serving:
            self.serving = True
            self._startup_events()
            self.on_serving(self.name)

    async def _ensure_node(self) -> Obj:
        assert self.host is not None and self.runtime is not None
        wanted = nodestatus.real_node(self.name, self.config.pod_cidr, self.runtime.runtime_name, self.host.arch)
        try:
            return dict(await self.client.create(NODES, wanted))
        except ApiError as e:
            if e.code != 409:
                raise
        node = dict(await self.client.get(NODES, self.name))
        meta, spec = node.get("metadata") or {}, node.get("spec") or {}
        patch: Obj = {}
        labels = {k: v for k, v in wanted["metadata"]["labels"].items() if (meta.get("labels") or {}).get(k) != v}
        notes = {k: v for k, v in wanted["metadata"]["annotations"].items()
                 if (meta.get("annotations") or {}).get(k) != v}
        if (meta.get("labels") or {}).get(nodestatus.SIMULATED_LABEL) is not None:
            labels[nodestatus.SIMULATED_LABEL] = None  # a node once simulated becomes real
        if labels or notes:
            patch["metadata"] = {"labels": labels, "annotations": notes}
        if not spec.get("podCIDR"):
            patch["spec"] = wanted["spec"]
        if patch:
            node = dict(await self.client.patch(NODES, self.name, patch))
        return node

    def _startup_events(self) -> None:
        ref = node_ref(self.name)
        self.events.emit(self.name, ref, NORMAL, "Starting", "Starting kubelet.")
        for reason in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"):
            self.events.emit(self.name, ref, NORMAL, reason, f"Node {self.name} status is now: {reason}")
        self.events.emit(self.name, ref, NORMAL, "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
        self.events.emit(self.name, ref, NORMAL, "NodeReady", f"Node {self.name} status is now: NodeReady")

    async def renew(self) -> None:
        self.lease = await renew_lease(self.client, self.name, self.uid, self.lease, self.clock.now())

    async def watch_containerd(self) -> None:
        """The agent's own containerd died (it is not a systemd unit here): start it again; pods survive."""
        manager = self.stack.containerd
        if self.config.cri_endpoint is not None or not manager.died():
            return
        log.warning("containerd (pid %s) is gone: starting it again; %s", manager.pid, manager.log_tail(2))
        await manager.revive()

    async def not_ready(self) -> str:
        """Why the runtime is not ready (the kubelet's Ready message), or ""."""
        assert self.runtime is not None
        try:
            status = await self.runtime.client.status()
        except RuntimeFailure as e:
            return f"container runtime is down: {e}"
        for c in status.conditions:
            if c.type == "RuntimeReady" and not c.status:
                return f"container runtime status check may not have completed yet: {c.reason}: {c.message}"
            if c.type == "NetworkReady" and not c.status:
                return (f"container runtime network not ready: NetworkReady=false reason:{c.reason} "
                        f"message:{c.message}")
        return ""

    async def report(self, node: Obj | None = None, *, force: bool = False) -> None:
        assert self.runtime is not None
        node = node or self.nodes.get(self.name)
        if node is None:
            return
        present = await self.runtime.list_images()
        why = await self.not_ready()
        now = self.clock.now()
        ident = self.identity()
        key = nodestatus.report_key(node, ident, present, why)
        if not force and key == self.reported and now - self.reported_at < nodestatus.STATUS_REPORT_INTERVAL:
            return
        new = nodestatus.status(node, ident, present, now, why)
        patch = create_two_way_merge_patch({"status": node.get("status") or {}}, {"status": new}, self.schema)
        if patch:
            await self.client.patch(NODES, self.name, patch, patch_type=SMP, subresource="status")
        self.reported, self.reported_at = key, now

    # ------------------------------------------------------------------ clean stop
    async def stop_pods(self, grace_cap: float = STOP_GRACE_CAP) -> int:
        """Stop every container (grace capped) and every sandbox, removing nothing; returns containers stopped."""
        runtime = self.runtime
        if runtime is None:
            return 0
        running = await runtime.client.list_containers(state=CRIContainerState.RUNNING)

        async def stop(cid: str, grace: float) -> None:
            with contextlib.suppress(RuntimeFailure):
                await runtime.client.stop_container(cid, round(grace))
        await asyncio.gather(*(stop(c.id, min(_grace(c.annotations), grace_cap)) for c in running))
        sandboxes = await runtime.client.list_pod_sandboxes(ready=True)

        async def stop_sandbox(sid: str) -> None:
            with contextlib.suppress(NotFound, RuntimeFailure):
                await runtime.client.stop_pod_sandbox(sid)
        await asyncio.gather(*(stop_sandbox(s.id) for s in sandboxes))
        return len(running)


def _grace(annotations: Mapping[str, str]) -> float:
    try:
        return float(annotations.get("io.kubernetes.pod.terminationGracePeriod", "30"))
    except ValueError:
        return 30.0


class NodeSet:
    """The pod workers' NodeView: the real node (if any) and the simulated nodes."""

    def __init__(self, simulated: NodeManager, real: RealNode | None = None) -> None:
        self.simulated = simulated
        self.real = real

    def runtime_for(self, node: str) -> Runtime | None:
        if self.real is not None and node == self.real.name:
            return self.real.runtime_for(node)
        return self.simulated.runtime_for(node)

    def host_ip(self, node: str) -> str:
        if self.real is not None and node == self.real.name:
            return self.real.host_ip()
        return self.simulated.host_ip(node)

    def allocatable(self, node: str) -> Mapping[str, Any]:
        if self.real is not None and node == self.real.name:
            return self.real.allocatable()
        return self.simulated.allocatable(node)
