"""NodeInfo: one node plus the aggregate of the pods on it (upstream framework.NodeInfo).

Theory of operation: the cache keeps one NodeInfo per node and updates it as
pods are added, removed or assumed: `requested` sums the pods' effective
requests, `non_zero_requested` the same with 100m/200Mi defaults (for
scoring), `used_ports` the host ports in use, and two side lists hold the pods
with any affinity and with required anti-affinity (so InterPodAffinity only
walks nodes that have such pods). `generation` takes a fresh process-wide number on
every change, so per-node memos (topology spread counts) can tell whether a
NodeInfo -- or its clone -- still holds the same pods. Node
fields the filters read in their inner loops (labels, taints, allocatable,
unschedulable) are extracted once in `set_node`. A NodeInfo may exist without a
node: pods bound to a node the cache has not seen yet wait there. Pure code.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from pocketkube.scheduler.podinfo import DEFAULT_BIND_ALL_HOST_IP, PodInfo
from pocketkube.scheduler.resources import Resource

Obj = dict[str, Any]
_generations = itertools.count(1)


def next_generation() -> int:
    """A process-wide increasing number: equal generations mean an unchanged NodeInfo."""
    return next(_generations)


class HostPortInfo:
    """Host ports in use: {(ip, protocol): {port}} with 0.0.0.0 conflicting with every IP."""

    __slots__ = ("ports",)

    def __init__(self) -> None:
        self.ports: dict[tuple[str, str], dict[int, int]] = {}

    def add(self, ip: str, protocol: str, port: int) -> None:
        by = self.ports.setdefault((ip, protocol), {})
        by[port] = by.get(port, 0) + 1

    def remove(self, ip: str, protocol: str, port: int) -> None:
        by = self.ports.get((ip, protocol))
        if by is None or port not in by:
            return
        by[port] -= 1
        if by[port] <= 0:
            del by[port]
        if not by:
            del self.ports[(ip, protocol)]

    def conflicts(self, ip: str, protocol: str, port: int) -> bool:
        if ip == DEFAULT_BIND_ALL_HOST_IP:
            return any(proto == protocol and port in by for (_, proto), by in self.ports.items())
        return port in self.ports.get((ip, protocol), ()) or \
            port in self.ports.get((DEFAULT_BIND_ALL_HOST_IP, protocol), ())

    def __len__(self) -> int:
        return len(self.ports)

    def clone(self) -> HostPortInfo:
        c = HostPortInfo()
        c.ports = {k: dict(v) for k, v in self.ports.items()}
        return c


class NodeInfo:
    __slots__ = ("allocatable", "generation", "images", "labels", "name", "node", "non_zero_requested", "pods",
                 "pods_with_affinity", "pods_with_required_anti_affinity", "requested", "taints",
                 "unschedulable", "used_ports")

    def __init__(self, node: Obj | None = None, name: str = "") -> None:
        self.node: Obj | None = None
        self.name = name
        self.labels: Mapping[str, str] = {}
        self.taints: tuple[Obj, ...] = ()
        self.unschedulable = False
        self.allocatable = Resource()
        self.images: dict[str, int] = {}
        self.pods: list[PodInfo] = []
        self.pods_with_affinity: list[PodInfo] = []
        self.pods_with_required_anti_affinity: list[PodInfo] = []
        self.used_ports = HostPortInfo()
        self.requested = Resource()
        self.non_zero_requested = Resource()
        self.generation = next_generation()
        if node is not None:
            self.set_node(node)

    def set_node(self, node: Obj) -> None:
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.node = node
        self.name = meta.get("name") or self.name
        self.labels = meta.get("labels") or {}
        self.taints = tuple(spec.get("taints") or ())
        self.unschedulable = bool(spec.get("unschedulable"))
        self.allocatable = Resource.from_list(status.get("allocatable") or status.get("capacity") or {})
        self.images = _images(status.get("images") or ())
        self.generation = next_generation()

    def add_pod(self, pi: PodInfo) -> None:
        self.pods.append(pi)
        if pi.has_affinity():
            self.pods_with_affinity.append(pi)
        if pi.required_anti_affinity_terms:
            self.pods_with_required_anti_affinity.append(pi)
        self._account(pi, 1)

    def remove_pod(self, uid: str) -> PodInfo | None:
        for i, pi in enumerate(self.pods):
            if pi.uid == uid:
                del self.pods[i]
                self.pods_with_affinity = [p for p in self.pods_with_affinity if p.uid != uid]
                self.pods_with_required_anti_affinity = [p for p in self.pods_with_required_anti_affinity
                                                         if p.uid != uid]
                self._account(pi, -1)
                return pi
        return None

    def _account(self, pi: PodInfo, sign: int) -> None:
        if sign > 0:
            self.requested.add(pi.requests)
            for ip, proto, port in pi.host_ports:
                self.used_ports.add(ip, proto, port)
        else:
            self.requested.sub(pi.requests)
            for ip, proto, port in pi.host_ports:
                self.used_ports.remove(ip, proto, port)
        self.non_zero_requested.milli_cpu += sign * pi.non_zero_cpu
        self.non_zero_requested.memory += sign * pi.non_zero_memory
        self.generation = next_generation()

    def clone(self) -> NodeInfo:
        c = NodeInfo.__new__(NodeInfo)
        c.node = self.node
        c.name = self.name
        c.labels = self.labels
        c.taints = self.taints
        c.unschedulable = self.unschedulable
        c.allocatable = self.allocatable
        c.images = self.images
        c.pods = list(self.pods)
        c.pods_with_affinity = list(self.pods_with_affinity)
        c.pods_with_required_anti_affinity = list(self.pods_with_required_anti_affinity)
        c.used_ports = self.used_ports.clone() if len(self.used_ports) else HostPortInfo()
        c.requested = self.requested.clone()
        c.non_zero_requested = self.non_zero_requested.clone()
        c.generation = self.generation
        return c

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)}, requested={self.requested})"


def _images(images: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for img in images:
        size = int(img.get("sizeBytes") or 0)
        for name in img.get("names") or ():
            out[normalized_image_name(name)] = size
    return out


def normalized_image_name(name: str) -> str:
    """Upstream ImageLocality normalisation: a name without a tag or digest gets ':latest'."""
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:
        return name + ":latest"
    return name
