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
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pocketkube.aio.backoff import Backoff
from pocketkube.client.informer import Handlers, Informer
from pocketkube.client.rest import ResourceRef, RESTClient
from pocketkube.kubelet import simulate
from pocketkube.kubelet.clock import Clock, RealClock
from pocketkube.kubelet.events import NodeEvents
from pocketkube.kubelet.lifecycle import Wait
from pocketkube.kubelet.nodes import NODES, NodeManager, ensure_nodes
from pocketkube.kubelet.podworkers import PodWorkers
from pocketkube.kubelet.statuswriter import StatusWriter
from pocketkube.kubelet.streaming_sim import SimulatedStreaming

log = logging.getLogger("pocketkube.kubelet.agent")

PODS = ResourceRef("", "v1", "pods")
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
        self.workers = PodWorkers(clock=self.clock, nodes=self.nodes, pods=self.pod_informer, writer=self.writer,
                                  events=self.events, delays=self.delays)

    def delays(self, pod: dict[str, Any]) -> Mapping[Wait, float]:
        b = simulate.behaviour((pod.get("metadata") or {}).get("annotations"), self.options.timing)
        return {Wait.SANDBOX: b.sandbox_delay, Wait.START: b.start_delay}

    def attach_streaming(self, backend: SimulatedStreaming) -> None:
        """Keep the streaming backend's view of pods (containers, logs) in step with the informer."""
        self.streaming = backend
        hosted = self.nodes.hosted

        def sync(pod: dict[str, Any]) -> None:
            if (pod.get("spec") or {}).get("nodeName") in hosted:
                backend.sync_pod(pod)

        def forget(pod: dict[str, Any]) -> None:
            meta = pod.get("metadata") or {}
            backend.forget_pod(meta.get("namespace", ""), meta.get("name", ""))

        self.pod_informer.add_handlers(Handlers(on_add=sync, on_update=lambda old, new: sync(new), on_delete=forget))

    def _node_serving(self, name: str) -> None:
        self.workers.node_ready(name)

    def _node_gone(self, name: str) -> None:
        self.workers.node_gone(name)

    def healthy(self) -> bool:
        return self.node_informer.has_synced() and self.pod_informer.has_synced()

    def statistics(self) -> dict[str, int]:
        return {"nodes_hosted": len(self.nodes.hosted), "nodes_serving": len(self.nodes.serving()),
                "pods": len(self.workers.memos),
                "running_pods": sum(not m.terminal for m in self.workers.memos.values()),
                "pod_syncs": self.workers.syncs,
                "status_patches": self.writer.patches, "pod_deletes": self.writer.deletes,
                "write_failures": self.writer.failures, "write_backlog": self.writer.backlog(),
                "events_sent": self.events.sent, "events_dropped": self.events.dropped}

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.node_informer.run(), name="nodes-informer")
            tg.create_task(self.pod_informer.run(), name="pods-informer")
            tg.create_task(self.events.run(), name="events")
            tg.create_task(self.writer.run(), name="status-writer")
            tg.create_task(self.bootstrap(), name="bootstrap")
            await self.node_informer.synced.wait()
            await self.pod_informer.synced.wait()
            tg.create_task(self.nodes.run(), name="node-manager")
            tg.create_task(self.workers.run(), name="pod-workers")

    async def bootstrap(self) -> None:
        """Create the profile's first simulated nodes once (retrying until the API answers)."""
        pending = [n for n in self.options.bootstrap_nodes if n not in self._bootstrapped()]
        if not pending:
            return
        backoff = Backoff(initial=0.2, maximum=5.0)
        while True:
            try:
                await ensure_nodes(self.client, pending, dict(self.options.bootstrap_capacity))
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
