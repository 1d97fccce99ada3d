"""Object builders for scheduler tests and benchmarks (upstream pkg/scheduler/testing, reduced).

`make_node(...)` and `make_pod(...)` return API-shaped JSON dicts with only
what scheduling reads; `node_info(node, *pods)` builds a NodeInfo with pods
already on it; `PluginHandle` is the Handle a test gives one plugin it calls
directly (a snapshot, static listers, a nominator); `make_scheduler(...)` builds a Scheduler over static listers and
the in-memory RecordingAPI, with a seeded rng and an injectable clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pocketkube.scheduler.api import RecordingAPI
from pocketkube.scheduler.config import SchedulerConfig
from pocketkube.scheduler.handle import StaticListers
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.nominator import Nominator
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.scheduler import Scheduler
from pocketkube.scheduler.snapshot import Snapshot

Obj = dict[str, Any]


def make_node(name: str, *, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
              labels: Mapping[str, str] | None = None, taints: Sequence[Obj] = (), unschedulable: bool = False,
              images: Sequence[Obj] = (), extra: Mapping[str, str] | None = None) -> Obj:
    alloc = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    spec: Obj = {}
    if taints:
        spec["taints"] = [dict(t) for t in taints]
    if unschedulable:
        spec["unschedulable"] = True
    status: Obj = {"capacity": dict(alloc), "allocatable": dict(alloc),
                   "conditions": [{"type": "Ready", "status": "True"}]}
    if images:
        status["images"] = list(images)
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"uid-node-{name}",
                         "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": spec, "status": status}


def make_pod(name: str, *, namespace: str = "default", cpu: str = "", memory: str = "",
             labels: Mapping[str, str] | None = None, node_name: str = "", priority: int = 0,
             node_selector: Mapping[str, str] | None = None, tolerations: Sequence[Obj] = (),
             affinity: Obj | None = None, spread: Sequence[Obj] = (), host_ports: Sequence[int] = (),
             init_containers: Sequence[Obj] = (), overhead: Mapping[str, str] | None = None,
             scheduler_name: str = "default-scheduler", uid: str = "", preemption_policy: str = "",
             gates: Sequence[str] = (), owner: Obj | None = None, start_time: str = "",
             image: str = "busybox") -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container: Obj = {"name": "c", "image": image}
    if requests:
        container["resources"] = {"requests": requests}
    if host_ports:
        container["ports"] = [{"containerPort": p, "hostPort": p, "protocol": "TCP"} for p in host_ports]
    spec: Obj = {"schedulerName": scheduler_name, "priority": priority, "containers": [container]}
    optional: dict[str, Any] = {"nodeName": node_name, "nodeSelector": dict(node_selector or {}) or None,
                                "tolerations": [dict(t) for t in tolerations] or None, "affinity": affinity,
                                "topologySpreadConstraints": [dict(s) for s in spread] or None,
                                "initContainers": [dict(c) for c in init_containers] or None,
                                "overhead": dict(overhead or {}) or None, "preemptionPolicy": preemption_policy,
                                "schedulingGates": [{"name": g} for g in gates] or None}
    spec.update({k: v for k, v in optional.items() if v})
    meta: Obj = {"name": name, "namespace": namespace, "uid": uid or f"uid-{namespace}-{name}",
                 "labels": dict(labels or {}), "resourceVersion": "1"}
    if owner is not None:
        meta["ownerReferences"] = [{**owner, "controller": True}]
    status: Obj = {"phase": "Pending" if not node_name else "Running"}
    if start_time:
        status["startTime"] = start_time
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def node_info(node: Obj, *pods: Obj) -> NodeInfo:
    ni = NodeInfo(node)
    for p in pods:
        pi = PodInfo.of(p)
        if not pi.node_name:
            pi = pi.with_node(ni.name)
        ni.add_pod(pi)
    return ni


@dataclass
class PluginHandle:
    snapshot: Snapshot
    listers: StaticListers = field(default_factory=StaticListers)
    nominator: Nominator = field(default_factory=Nominator)


def make_scheduler(*, nodes: Sequence[Obj] = (), pods: Sequence[Obj] = (), objects: Mapping[str, list[Obj]] | None = None,
                   config: SchedulerConfig | None = None, clock: Callable[[], float] | None = None,
                   seed: int = 1) -> tuple[Scheduler, RecordingAPI, StaticListers]:
    """A scheduler fed `nodes` and `pods` through its event handlers; pods are also in the listers."""
    api = RecordingAPI()
    listers = StaticListers({k: list(v) for k, v in (objects or {}).items()})
    listers.objects.setdefault("pods", [])
    kwargs: dict[str, Any] = {"clock": clock} if clock is not None else {}
    sched = Scheduler(api=api, listers=listers, config=config, rng=random.Random(seed), **kwargs)
    for n in nodes:
        sched.handlers.on_node_add(n)
    for p in pods:
        add_pod(sched, listers, p)
    return sched, api, listers


def add_pod(sched: Scheduler, listers: StaticListers, pod: Obj) -> None:
    listers.objects.setdefault("pods", []).append(pod)
    sched.handlers.on_pod_add(pod)
