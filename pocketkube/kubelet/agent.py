"""The node agent process: wiring only.

Theory of operation: one agent hosts any number of simulated nodes (kwok's
model): it serves every Node labelled `pocketkube.io/simulated=true`, whoever
created it (`pocketkube node add`, `kubectl apply`, or this agent's bootstrap
of the profile's first nodes). Its parts, each owned by one TaskGroup:
- informers: all Nodes; all bound pods (fieldSelector `spec.nodeName!=`,
  filtered locally to hosted nodes, indexed by node name);
- NodeManager (nodes.py): registration, Leases, node status;
- PodWorkers (podworkers.py): the pure lifecycle table (lifecycle.py) driven
  through each node's runtime (runtime/simulated.py);
- StatusWriter (statuswriter.py): coalesced pods/status patches and deletion
  confirmations;
- NodeEvents (events.py): kubelet events per node, rate limited.
Bootstrap: the first time a profile's agent starts it creates the profile's
initial simulated nodes (`bootstrap_nodes`) and records their names in
`state_dir/bootstrap.json`, so a node the user later removes is not recreated.

Real node (`real_node`, issue 5): the agent also serves one node whose pods
are containers (realnode.py): `start_runtime()` brings up containerd and the
CRI runtime before anything is served; the pod workers drive it through the
same lifecycle table with zero simulated delays, the CRI configurer
(criconfigurer.py: DNS, /etc/hosts, env, mounts, resources), the volume
manager and the prober of podinputs/ (a failed liveness or startup probe asks
the workers to kill the container; readiness and startup feed the status),
the generic PLEG (pleg.py: container exits wake the pods; pods the API no
longer has are removed) and a Services informer for the pods' service
variables. Its simulated
bootstrap nodes (NAME-m02...) get the pod CIDRs after the real node's.
`shutdown(stop_pods=True)` is `pocketkube stop`: pods stopped, containerd
stopped; a crash or SIGKILL leaves both running for the next agent to adopt.

Mirror pods (`mirror_node`): the agent hosting that node (the profile's first,
real or simulated) posts the control plane's mirror pods (staticpods.py).
`streaming_backend()` routes logs/exec/attach/port-forward to the backend of
each pod: mirror pods, the real node's pods (CRI), simulated pods.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pocketkube.aio.backoff import Backoff
from pocketkube.client.informer import Handlers, Informer
from pocketkube.client.rest import ResourceRef, RESTClient
from pocketkube.kubelet import ipam, poddns, simulate
from pocketkube.kubelet.clock import Clock, RealClock
from pocketkube.kubelet.configurer import SEAM, PodConfigurer
from pocketkube.kubelet.events import WARNING, NodeEvents, pod_ref
from pocketkube.kubelet.lifecycle import Wait
from pocketkube.kubelet.nodes import NODES, NodeManager, ensure_nodes
from pocketkube.kubelet.podactions import ProbeHooks, field_path
from pocketkube.kubelet.podinputs.probes.manager import ProbeManager, ProbeUpdate
from pocketkube.kubelet.podinputs.probes.spec import ProbeKind, Result, kill_message
from pocketkube.kubelet.podinputs.volumes.manager import VolumeManager
from pocketkube.kubelet.podworkers import PodWorkers, is_mirror
from pocketkube.kubelet.realnode import NodeSet, RealNode, RealNodeConfig
from pocketkube.kubelet.staticpods import StaticPods
from pocketkube.kubelet.statuswriter import StatusWriter
from pocketkube.kubelet.streaming_backend import StreamingBackend
from pocketkube.kubelet.streaming_cri import CRIStreaming
from pocketkube.kubelet.streaming_route import RoutingStreaming
from pocketkube.kubelet.streaming_sim import SimulatedStreaming

if TYPE_CHECKING:  # the CRI stack (grpc, protobuf: ~16 MB) is imported only by agents with a real node
    from pocketkube.kubelet.criconfigurer import CRIConfigurer
    from pocketkube.kubelet.pleg import RelistPLEG

log = logging.getLogger("pocketkube.kubelet.agent")

PODS = ResourceRef("", "v1", "pods")
SERVICES = ResourceRef("", "v1", "services")
BOUND_PODS = "spec.nodeName!="
BOOTSTRAP_FILE = "bootstrap.json"


@dataclass(frozen=True, kw_only=True)
class AgentOptions:
    timing: simulate.Timing = field(default_factory=simulate.Timing)
    bootstrap_nodes: tuple[str, ...] = ()
    bootstrap_capacity: Mapping[str, str] = field(default_factory=dict)
    state_dir: Path | None = None
    event_qps: float = 50.0
    event_burst: int = 100
    status_writers: int = 16
    node_concurrency: int = 64
    kubelet_port: int = 0  # port of the streaming server (logs, exec, port-forward) on 127.0.0.1
    real_node: RealNodeConfig | None = None
    mirror_node: str = ""  # the node whose agent posts the control plane's mirror pods ("" = none)
    profile_dir: Path | None = None  # where the control plane's pid files and logs are (mirror pods)


def bootstrap_names(first: str, count: int) -> tuple[str, ...]:
    """minikube-style names: NAME, NAME-m02, NAME-m03, ..."""
    return tuple(first if i == 0 else f"{first}-m{i + 1:02d}" for i in range(count))


class Agent:
    def __init__(self, client: RESTClient, options: AgentOptions, clock: Clock | None = None, *,
                 heartbeat_client: RESTClient | None = None) -> None:
        """`heartbeat_client` (own connections) keeps Lease renewals off the queue of pod status writes."""
        self.client = client
        self.options = options
        self.clock = clock or RealClock()
        self.node_informer = Informer(client, NODES)
        self.pod_informer = Informer(client, PODS, field_selector=BOUND_PODS)
        self.events = NodeEvents(client, self.clock, qps=options.event_qps, burst=options.event_burst)
        self.writer = StatusWriter(client, self.pod_informer, self.clock, concurrency=options.status_writers)
        self.nodes = NodeManager(heartbeat_client or client, self.node_informer, self.clock, self.events,
                                 timing=options.timing,
                                 concurrency=options.node_concurrency, on_serving=self._node_serving,
                                 on_gone=self._node_gone, kubelet_port=options.kubelet_port)
        self.streaming: SimulatedStreaming | None = None
        self.real: RealNode | None = None
        self.services: Informer | None = None
        if options.real_node is not None:
            self.real = RealNode(heartbeat_client or client, self.node_informer, self.clock, self.events,
                                 options.real_node, on_serving=self._node_serving)
            self.real.kubelet_port = options.kubelet_port
            index = ipam.index_of_cidr(options.real_node.pod_cidr)
            if index is not None:
                self.nodes.claimed[options.real_node.name] = index  # simulated nodes get the CIDRs after it
            self.services = Informer(client, SERVICES)
        self.node_set = NodeSet(self.nodes, self.real)
        self.configurer: CRIConfigurer | None = None
        self.cri_streaming: CRIStreaming | None = None
        self.pleg: RelistPLEG | None = None
        self.volumes: VolumeManager | None = None
        self.prober: ProbeManager | None = None
        self.workers = PodWorkers(clock=self.clock, nodes=self.node_set, pods=self.pod_informer, writer=self.writer,
                                  events=self.events, delays=self.delays, configurers=self.configurer_for,
                                  probes=self.probes_for)
        self.static: StaticPods | None = None
        if options.mirror_node and options.profile_dir is not None:
            node = options.mirror_node
            self.static = StaticPods(client, self.pod_informer, self.writer, self.clock, node=node,
                                     node_uid=lambda: self._served_uid(node),
                                     node_ip=lambda: self.node_set.host_ip(node), profile_dir=options.profile_dir)

    def delays(self, pod: dict[str, Any]) -> Mapping[Wait, float]:
        if self.real is not None and (pod.get("spec") or {}).get("nodeName") == self.real.name:
            return {}
        b = simulate.behaviour((pod.get("metadata") or {}).get("annotations"), self.options.timing)
        return {Wait.SANDBOX: b.sandbox_delay, Wait.START: b.start_delay}

    def configurer_for(self, node: str) -> PodConfigurer:
        if self.configurer is not None and self.real is not None and node == self.real.name:
            return self.configurer
        return SEAM

    def probes_for(self, node: str) -> ProbeHooks | None:
        return self.prober if self.real is not None and node == self.real.name else None

    def set_kubelet_port(self, port: int) -> None:
        """The streaming server's port, once it listens (reported in the nodes' daemonEndpoints)."""
        self.nodes.kubelet_port = port
        if self.real is not None:
            self.real.kubelet_port = port

    def _served_uid(self, node: str) -> str:
        """The node's uid while this agent serves it (registered, heartbeat on), else ""."""
        obj = self.node_informer.get(node) if self.node_set.runtime_for(node) is not None else None
        return str(((obj or {}).get("metadata") or {}).get("uid") or "")

    # ------------------------------------------------------------------ the real node
    async def start_runtime(self) -> None:
        """Bring up the real node's containerd and CRI runtime (before the agent serves anything)."""
        if self.real is None:
            return
        from pocketkube.kubelet.criconfigurer import CRIConfigurer
        from pocketkube.kubelet.crilocator import CRIPodLocator
        from pocketkube.kubelet.pleg import RelistPLEG
        from pocketkube.kubelet.podinputs.probes.prober import Prober

        runtime = await self.real.start_runtime()
        assert self.options.real_node is not None
        profile_dir = self.options.real_node.profile_dir
        resolv = poddns.parse_resolv_conf(_read("/etc/resolv.conf"))
        self.volumes = VolumeManager(profile_dir / "kubelet", self.client, self.clock, events=self._pod_event,
                                     allocatable=self.real.allocatable)
        self.prober = ProbeManager(Prober(exec_sync=runtime.client.exec_sync, events=self._pod_event), self.clock,
                                   self._probe_result)
        self.configurer = CRIConfigurer(
            runtime, self.real, pods_dir=self.volumes.root / "pods", resolv=resolv, node_hosts=_read("/etc/hosts"),
            get_configmap=self.volumes.get_configmap, get_secret=self.volumes.get_secret, services=self._services,
            volumes=self.volumes, on_hook_failure=self._hook_failed)
        locator = CRIPodLocator(runtime, self.pod_informer, self.real.name, statuses=self._last_status)
        self.cri_streaming = CRIStreaming(runtime.client, locator)
        self.pleg = RelistPLEG(runtime.client, self._runtime_changed, known=self._known_uid,
                               cleanup=self._remove_orphan, gc=runtime.gc_pod)

    def _pod_event(self, pod: dict[str, Any], type_: str, reason: str, message: str, field_path: str = "") -> None:
        node = (pod.get("spec") or {}).get("nodeName") or ""
        self.events.emit(node, pod_ref(pod), type_, reason, message, field_path)

    def _probe_result(self, update: ProbeUpdate) -> None:
        key = self.workers.key_of_uid(update.pod_uid)
        if key is None:
            return
        if update.kind in (ProbeKind.LIVENESS, ProbeKind.STARTUP) and update.result is Result.FAILURE:
            pod = self.pod_informer.get(key) or {}
            restarts = (pod.get("spec") or {}).get("restartPolicy") != "Never"
            self.workers.request_kill(update.pod_uid, update.container_id,
                                      kill_message(update.kind, update.container, restarts))
        else:
            self.workers.enqueue(key)

    async def _remove_stale_pod_dirs(self) -> None:
        """Pods deleted while the agent was down: their folders (volumes, /etc/hosts) go."""
        if self.volumes is None:
            return
        for uid in self.volumes.pods_on_disk():
            if not self._known_uid(uid):
                await self.volumes.teardown(uid)

    def _services(self) -> list[dict[str, Any]] | None:
        return self.services.list() if self.services is not None and self.services.has_synced() else None

    def _hook_failed(self, pod: dict[str, Any], container: str, reason: str, message: str) -> None:
        node = (pod.get("spec") or {}).get("nodeName") or ""
        self.events.emit(node, pod_ref(pod), WARNING, reason, message, field_path(container, False))

    def _last_status(self, key: str) -> dict[str, Any] | None:
        memo = self.workers.memos.get(key)
        return memo.last_status if memo is not None else None

    def _runtime_changed(self, uid: str) -> None:
        key = self.workers.key_of_uid(uid)
        if key is not None:
            self.workers.enqueue(key)

    def _known_uid(self, uid: str) -> bool:
        if self.workers.key_of_uid(uid) is not None:
            return True
        return any(p.get("metadata", {}).get("uid") == uid for p in self.pod_informer.list())

    async def _remove_orphan(self, uid: str) -> None:
        if self.real is not None and self.real.runtime is not None and self.configurer is not None:
            await self.real.runtime.remove_pod(uid)
            await self.configurer.cleanup(uid)

    async def shutdown(self, *, stop_pods: bool) -> None:
        """Leave the real node: with stop_pods (pocketkube stop) its containers and containerd stop."""
        if self.real is None:
            return
        if stop_pods:
            stopped = await self.real.stop_pods()
            log.info("stopped %d containers of node %s", stopped, self.real.name)
        if self.prober is not None:
            await self.prober.close()
        if self.configurer is not None:
            await self.configurer.close()
        await self.real.close(stop_containerd=stop_pods)

    # ------------------------------------------------------------------ streaming
    def streaming_backend(self) -> RoutingStreaming:
        return RoutingStreaming(self.route)

    def route(self, namespace: str, pod: str) -> StreamingBackend:
        if self.static is not None and self.static.component_of(namespace, pod) is not None:
            return self.static
        obj = self.pod_informer.get(f"{namespace}/{pod}")
        if obj is not None and self.real is not None and self.cri_streaming is not None and \
                (obj.get("spec") or {}).get("nodeName") == self.real.name:
            return self.cri_streaming
        if self.streaming is None:
            self.streaming = SimulatedStreaming(Path("/nonexistent"))
        return self.streaming

    def attach_streaming(self, backend: SimulatedStreaming) -> None:
        """Keep the streaming backend's view of pods (containers, logs) in step with the informer."""
        self.streaming = backend
        hosted = self.nodes.hosted

        def sync(pod: dict[str, Any]) -> None:
            if (pod.get("spec") or {}).get("nodeName") in hosted and not is_mirror(pod):
                backend.sync_pod(pod)

        def forget(pod: dict[str, Any]) -> None:
            meta = pod.get("metadata") or {}
            backend.forget_pod(meta.get("namespace", ""), meta.get("name", ""))

        self.pod_informer.add_handlers(Handlers(on_add=sync, on_update=lambda old, new: sync(new), on_delete=forget))

    def _node_serving(self, name: str) -> None:
        self.workers.node_ready(name)
        if self.static is not None and name == self.options.mirror_node:
            self.static.wake.set()  # post the mirror pods now, not at the next period

    def _node_gone(self, name: str) -> None:
        self.workers.node_gone(name)

    def healthy(self) -> bool:
        return self.node_informer.has_synced() and self.pod_informer.has_synced()

    def nodes_served(self) -> list[str]:
        return self.nodes.serving() + ([self.real.name] if self.real is not None and self.real.serving else [])

    def statistics(self) -> dict[str, int]:
        real = int(self.real is not None)
        return {"nodes_hosted": len(self.nodes.hosted) + real, "nodes_serving": len(self.nodes_served()),
                "pods": len(self.workers.memos),
                "running_pods": sum(not m.terminal for m in self.workers.memos.values()),
                "pod_syncs": self.workers.syncs,
                "status_patches": self.writer.patches, "pod_deletes": self.writer.deletes,
                "write_failures": self.writer.failures, "write_backlog": self.writer.backlog(),
                "events_sent": self.events.sent, "events_dropped": self.events.dropped}

    async def run(self) -> None:
        if self.real is not None and self.real.runtime is None:
            await self.start_runtime()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.node_informer.run(), name="nodes-informer")
            tg.create_task(self.pod_informer.run(), name="pods-informer")
            if self.services is not None:
                tg.create_task(self.services.run(), name="services-informer")
            tg.create_task(self.events.run(), name="events")
            tg.create_task(self.writer.run(), name="status-writer")
            tg.create_task(self.bootstrap(), name="bootstrap")
            await self.node_informer.synced.wait()
            await self.pod_informer.synced.wait()
            if self.real is not None:
                tg.create_task(self.real.run(), name="real-node")
            tg.create_task(self.nodes.run(), name="node-manager")
            tg.create_task(self.workers.run(), name="pod-workers")
            if self.pleg is not None:
                tg.create_task(self.pleg.run(), name="pleg")
            if self.volumes is not None and self.prober is not None:
                tg.create_task(self._remove_stale_pod_dirs(), name="stale-pod-dirs")
                tg.create_task(self.volumes.run(), name="volumes")
                tg.create_task(self.prober.run(), name="prober")
            if self.static is not None:
                tg.create_task(self.static.run(), name="mirror-pods")

    async def bootstrap(self) -> None:
        """Create the profile's first simulated nodes once (retrying until the API answers)."""
        pending = [n for n in self.options.bootstrap_nodes if n not in self._bootstrapped()]
        if not pending:
            return
        backoff = Backoff(initial=0.2, maximum=5.0)
        while True:
            try:
                await ensure_nodes(self.client, pending, dict(self.options.bootstrap_capacity),
                                   control_plane=self.options.mirror_node)
                break
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.info("bootstrap nodes not created yet: %s", e)
                await self.clock.sleep(backoff.next())
        self._record_bootstrapped(pending)

    def _bootstrapped(self) -> set[str]:
        if self.options.state_dir is None:
            return set()
        try:
            return set(json.loads((self.options.state_dir / BOOTSTRAP_FILE).read_text()))
        except (OSError, ValueError, TypeError):
            return set()

    def _record_bootstrapped(self, names: list[str]) -> None:
        if self.options.state_dir is None:
            return
        self.options.state_dir.mkdir(parents=True, exist_ok=True)
        done = sorted(self._bootstrapped() | set(names))
        (self.options.state_dir / BOOTSTRAP_FILE).write_text(json.dumps(done) + "\n")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""
