"""Wiring of a running scheduler: informers -> event handlers -> scheduler, over one REST client.

Theory of operation: `SchedulerApp(client, config)` creates the informers the
scheduler reads (pods without terminal ones, nodes, and the namespaces,
Services, ReplicaSets, StatefulSets, ReplicationControllers and
PodDisruptionBudgets that plugins look up), the EventRecorder (component
"default-scheduler"), the REST-backed SchedulerAPI and the Scheduler, and
connects node and pod events to the scheduler's handlers (nodes first, as
upstream). `run()` starts the informers and the event writer, waits until
every cache has listed once (`synced` is then set), and schedules until
cancelled. Everything runs in one TaskGroup; cancelling `run()` stops it all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from pocketkube.client.events import EventRecorder
from pocketkube.client.informer import Handlers, Informer, wait_for_cache_sync
from pocketkube.client.rest import ResourceRef, RESTClient
from pocketkube.scheduler.api import RestSchedulerAPI
from pocketkube.scheduler.config import SchedulerConfig
from pocketkube.scheduler.handle import Obj
from pocketkube.scheduler.metrics import SchedulerMetrics
from pocketkube.scheduler.scheduler import Scheduler

COMPONENT = "default-scheduler"
NON_TERMINAL_PODS = "status.phase!=Succeeded,status.phase!=Failed"
RESOURCES: dict[str, ResourceRef] = {
    "nodes": ResourceRef("", "v1", "nodes", namespaced=False),
    "pods": ResourceRef("", "v1", "pods"),
    "namespaces": ResourceRef("", "v1", "namespaces", namespaced=False),
    "services": ResourceRef("", "v1", "services"),
    "replicationcontrollers": ResourceRef("", "v1", "replicationcontrollers"),
    "replicasets": ResourceRef("apps", "v1", "replicasets"),
    "statefulsets": ResourceRef("apps", "v1", "statefulsets"),
    "poddisruptionbudgets": ResourceRef("policy", "v1", "poddisruptionbudgets"),
}


class InformerListers:
    """handle.Listers over informer caches."""

    def __init__(self, informers: Mapping[str, Informer]) -> None:
        self.informers = informers

    def namespace_labels(self, name: str) -> Mapping[str, str] | None:
        ns = self.informers["namespaces"].get(name)
        if ns is None:
            return None
        labels: Mapping[str, str] = (ns.get("metadata") or {}).get("labels") or {}
        return labels

    def list(self, resource: str, namespace: str | None = None) -> list[Obj]:
        inf = self.informers.get(resource)
        return inf.list(namespace) if inf is not None else []

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        inf = self.informers.get(resource)
        if inf is None:
            return None
        return inf.get(f"{namespace}/{name}" if namespace else name)


class SchedulerApp:
    def __init__(self, client: RESTClient, config: SchedulerConfig | None = None, *,
                 metrics: SchedulerMetrics | None = None, host: str = "") -> None:
        self.client = client
        self.informers: dict[str, Informer] = {
            name: Informer(client, ref, field_selector=NON_TERMINAL_PODS if name == "pods" else "")
            for name, ref in RESOURCES.items()}
        self.recorder = EventRecorder(client, COMPONENT, host)
        self.scheduler = Scheduler(api=RestSchedulerAPI(client, self.recorder),
                                   listers=InformerListers(self.informers), config=config, metrics=metrics)
        h = self.scheduler.handlers
        self.informers["nodes"].add_handlers(Handlers(h.on_node_add, h.on_node_update, h.on_node_delete))
        self.informers["pods"].add_handlers(Handlers(h.on_pod_add, h.on_pod_update, h.on_pod_delete))
        self.synced = asyncio.Event()

    def healthy(self) -> bool:
        return True

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for name, inf in self.informers.items():
                tg.create_task(inf.run(), name=f"informer-{name}")
            tg.create_task(self.recorder.run(), name="event-recorder")
            await wait_for_cache_sync(*self.informers.values())
            self.synced.set()
            tg.create_task(self.scheduler.run(), name="scheduler")
