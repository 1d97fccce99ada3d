"""PodInfo: a pod parsed once into what the plugins need (upstream framework.PodInfo).

Theory of operation: pods arrive as JSON dicts from the informer and are
read-only. Scheduling touches the same pod thousands of times (once per node
per plugin), so everything derived from its spec -- requests, host ports,
affinity terms with compiled selectors, tolerations, priority -- is computed
once per pod version in `PodInfo.of(pod)` and shared by the cache, the queue
and the plugins. A PodInfo is treated as immutable; `with_node(name)` returns
the assumed copy with spec.nodeName set.

Affinity term semantics follow upstream `AffinityTerm`: a term applies to pods
in its `namespaces` list, or in the namespaces its `namespaceSelector` selects,
or (neither given) in the owning pod's namespace; a nil labelSelector matches
no pod and an empty one matches every pod. Pure code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pocketkube.scheduler.labelsel import NOTHING, Selector, compile_selector
from pocketkube.scheduler.resources import (
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    Resource,
    pod_requests,
)

Obj = dict[str, Any]
DEFAULT_BIND_ALL_HOST_IP = "0.0.0.0"


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    namespaces: frozenset[str]
    selector: Selector
    topology_key: str
    namespace_selector: Selector = NOTHING

    def matches(self, pod: PodInfo, ns_labels: Mapping[str, str] | None) -> bool:
        """Does `pod` (whose namespace has labels `ns_labels`; None = unknown, as {}) match this term?"""
        if pod.namespace in self.namespaces or self.namespace_selector.matches(ns_labels):
            return self.selector.matches(pod.labels)
        return False


@dataclass(frozen=True, slots=True)
class WeightedAffinityTerm:
    term: AffinityTerm
    weight: int


def affinity_term(namespace: str, term: Mapping[str, Any]) -> AffinityTerm:
    namespaces = frozenset(term.get("namespaces") or ())
    ns_sel_raw = term.get("namespaceSelector")
    if not namespaces and ns_sel_raw is None:
        namespaces = frozenset((namespace,))
    return AffinityTerm(namespaces, compile_selector(term.get("labelSelector")), term.get("topologyKey") or "",
                        compile_selector(ns_sel_raw))


def _terms(namespace: str, raw: list[Obj] | None) -> tuple[AffinityTerm, ...]:
    return tuple(affinity_term(namespace, t) for t in raw or ())


def _weighted(namespace: str, raw: list[Obj] | None) -> tuple[WeightedAffinityTerm, ...]:
    out = []
    for w in raw or ():
        weight = int(w.get("weight") or 0)
        if weight:
            out.append(WeightedAffinityTerm(affinity_term(namespace, w.get("podAffinityTerm") or {}), weight))
    return tuple(out)


def host_ports(spec: Mapping[str, Any]) -> tuple[tuple[str, str, int], ...]:
    """(hostIP, protocol, hostPort) of every container port with a hostPort (incl. sidecars)."""
    out = []
    containers = list(spec.get("containers") or [])
    containers += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for c in containers:
        for p in c.get("ports") or []:
            port = int(p.get("hostPort") or 0)
            if port > 0:
                out.append((p.get("hostIP") or DEFAULT_BIND_ALL_HOST_IP, p.get("protocol") or "TCP", port))
    return tuple(out)


@dataclass(slots=True, eq=False)
class PodInfo:
    pod: Obj
    uid: str
    namespace: str
    name: str
    labels: Mapping[str, str]
    priority: int = 0
    node_name: str = ""
    scheduler_name: str = "default-scheduler"
    deleting: bool = False
    requests: Resource = field(default_factory=Resource)
    non_zero_cpu: int = DEFAULT_MILLI_CPU_REQUEST
    non_zero_memory: int = DEFAULT_MEMORY_REQUEST
    host_ports: tuple[tuple[str, str, int], ...] = ()
    required_affinity_terms: tuple[AffinityTerm, ...] = ()
    required_anti_affinity_terms: tuple[AffinityTerm, ...] = ()
    preferred_affinity_terms: tuple[WeightedAffinityTerm, ...] = ()
    preferred_anti_affinity_terms: tuple[WeightedAffinityTerm, ...] = ()
    tolerations: tuple[Obj, ...] = ()
    scheduling_gates: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def spec(self) -> Obj:
        spec: Obj = self.pod.get("spec") or {}
        return spec

    @property
    def resource_version(self) -> str:
        return str((self.pod.get("metadata") or {}).get("resourceVersion") or "")

    def has_affinity(self) -> bool:
        return bool(self.required_affinity_terms or self.required_anti_affinity_terms or
                    self.preferred_affinity_terms or self.preferred_anti_affinity_terms)

    def with_node(self, node_name: str) -> PodInfo:
        """The assumed copy: spec.nodeName set (the pod dict is copied two levels deep)."""
        pod = dict(self.pod)
        pod["spec"] = {**self.spec, "nodeName": node_name}
        return replace(self, pod=pod, node_name=node_name)

    @classmethod
    def of(cls, pod: Obj) -> PodInfo:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        ns = meta.get("namespace") or "default"
        aff = spec.get("affinity") or {}
        pa = aff.get("podAffinity") or {}
        paa = aff.get("podAntiAffinity") or {}
        non_zero = pod_requests(spec, non_zero=True)
        return cls(
            pod=pod, uid=meta.get("uid") or f"{ns}/{meta.get('name', '')}", namespace=ns,
            name=meta.get("name") or "", labels=meta.get("labels") or {},
            priority=int(spec.get("priority") or 0), node_name=spec.get("nodeName") or "",
            scheduler_name=spec.get("schedulerName") or "default-scheduler",
            deleting=bool(meta.get("deletionTimestamp")), requests=pod_requests(spec),
            non_zero_cpu=non_zero.milli_cpu, non_zero_memory=non_zero.memory, host_ports=host_ports(spec),
            required_affinity_terms=_terms(ns, pa.get("requiredDuringSchedulingIgnoredDuringExecution")),
            required_anti_affinity_terms=_terms(ns, paa.get("requiredDuringSchedulingIgnoredDuringExecution")),
            preferred_affinity_terms=_weighted(ns, pa.get("preferredDuringSchedulingIgnoredDuringExecution")),
            preferred_anti_affinity_terms=_weighted(ns, paa.get("preferredDuringSchedulingIgnoredDuringExecution")),
            tolerations=tuple(spec.get("tolerations") or ()),
            scheduling_gates=tuple(g.get("name", "") for g in spec.get("schedulingGates") or ()),
        )


def pod_key(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"


def pod_uid(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return str(meta.get("uid") or pod_key(pod))
