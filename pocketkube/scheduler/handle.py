"""What plugins may reach outside themselves: listers, the API, and the framework handle.

Theory of operation: plugin modules stay free of I/O by receiving a `Handle`
at construction (upstream framework.Handle). Through it a plugin reads the
cycle's snapshot and the nominated pods, looks up other objects it needs
(namespace labels for namespaceSelector, the Services/ReplicaSets/StatefulSets
that give a pod its default spreading selector, PodDisruptionBudgets for
preemption), calls back into the framework (filters with nominated pods, the
PreFilter extensions during preemption), and acts on the cluster through the
narrow `SchedulerAPI` (bind, patch pod status, delete pod, record an event).
The scheduler implements Listers over informer caches and SchedulerAPI over
the REST client; tests and the benchmark use `StaticListers` and an in-memory
API. Protocols only, plus the static listers; no I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pocketkube.scheduler.framework import CycleState, Status
    from pocketkube.scheduler.nodeinfo import NodeInfo
    from pocketkube.scheduler.nominator import Nominator
    from pocketkube.scheduler.podinfo import PodInfo
    from pocketkube.scheduler.snapshot import Snapshot

Obj = dict[str, Any]


class Listers(Protocol):
    """Read-only object lookups by plural resource name ("services", "replicasets", ...)."""

    def namespace_labels(self, name: str) -> Mapping[str, str] | None: ...

    def list(self, resource: str, namespace: str | None = None) -> list[Obj]: ...

    def get(self, resource: str, namespace: str, name: str) -> Obj | None: ...


class SchedulerAPI(Protocol):
    """The scheduler's only writes to the cluster."""

    async def bind(self, pod: Obj, node_name: str) -> None:
        """POST pods/NAME/binding; raises on failure (409 if already bound)."""
        ...

    async def patch_pod_status(self, pod: Obj, patch: Obj) -> None:
        """Strategic-merge-patch pods/NAME/status."""
        ...

    async def delete_pod(self, pod: Obj) -> None: ...

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Record an event (non-blocking, best effort)."""
        ...


class Handle(Protocol):
    @property
    def snapshot(self) -> Snapshot: ...

    @property
    def nominator(self) -> Nominator: ...

    @property
    def listers(self) -> Listers: ...

    @property
    def api(self) -> SchedulerAPI: ...

    def run_filter_with_nominated(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None: ...

    def run_pre_filter_extension_add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo,
                                         node: NodeInfo) -> Status | None: ...

    def run_pre_filter_extension_remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo,
                                            node: NodeInfo) -> Status | None: ...


def _meta(o: Obj) -> Obj:
    meta: Obj = o.get("metadata") or {}
    return meta


@dataclass
class StaticListers:
    """Listers over plain lists of objects keyed by resource (tests, benchmarks)."""

    objects: dict[str, list[Obj]] = field(default_factory=dict)

    def namespace_labels(self, name: str) -> Mapping[str, str] | None:
        ns = self.get("namespaces", "", name)
        if ns is None:
            return {"kubernetes.io/metadata.name": name}
        labels: Mapping[str, str] = _meta(ns).get("labels") or {}
        return labels

    def list(self, resource: str, namespace: str | None = None) -> list[Obj]:
        objs = self.objects.get(resource, [])
        if namespace is None:
            return list(objs)
        return [o for o in objs if _meta(o).get("namespace", "") == namespace]

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        for o in self.objects.get(resource, []):
            m = _meta(o)
            if m.get("name") == name and m.get("namespace", "") == namespace:
                return o
        return None
