"""NodeResourcesFit and NodeResourcesBalancedAllocation.

NodeResourcesFit filter (pure core `insufficient_resources(request, node)`):
the node must have room for one more pod ("Too many pods") and for the pod's
effective request (init containers, sidecars, overhead -- see resources.py)
on top of what its pods already request: "Insufficient cpu", "Insufficient
memory", "Insufficient ephemeral-storage", "Insufficient <extended>". All
reasons are reported; the status is Unschedulable (in v1.32 even when the
request exceeds the whole node: preemption is what says it cannot help).

NodeResourcesFit score: the scoring strategy of its args (LeastAllocated by
default, or MostAllocated) over cpu and memory with weight 1 each, using
non-zero requests. NodeResourcesBalancedAllocation prefers nodes whose cpu and
memory fractions stay balanced, using actual requests; best-effort pods (no
requests) skip it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.plugins import resourcescoring as rs
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.resources import Resource, pod_requests

FIT = "NodeResourcesFit"
BALANCED = "NodeResourcesBalancedAllocation"
_FIT_SCORE_STATE = "PreScoreNodeResourcesFit"
_BALANCED_STATE = "PreScoreNodeResourcesBalancedAllocation"


@dataclass(frozen=True, slots=True)
class InsufficientResource:
    resource: str
    reason: str
    requested: int
    used: int
    capacity: int


def insufficient_resources(req: Resource, node: NodeInfo) -> list[InsufficientResource]:
    out = []
    alloc, used = node.allocatable, node.requested
    if len(node.pods) + 1 > alloc.allowed_pod_number:
        out.append(InsufficientResource("pods", "Too many pods", 1, len(node.pods), alloc.allowed_pod_number))
    if req.is_zero():
        return out
    if req.milli_cpu > 0 and req.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        out.append(InsufficientResource("cpu", "Insufficient cpu", req.milli_cpu, used.milli_cpu, alloc.milli_cpu))
    if req.memory > 0 and req.memory > alloc.memory - used.memory:
        out.append(InsufficientResource("memory", "Insufficient memory", req.memory, used.memory, alloc.memory))
    if req.ephemeral_storage > 0 and req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage:
        out.append(InsufficientResource("ephemeral-storage", "Insufficient ephemeral-storage", req.ephemeral_storage,
                                        used.ephemeral_storage, alloc.ephemeral_storage))
    for name, q in req.scalar.items():
        if q > 0 and q > alloc.scalar.get(name, 0) - used.scalar.get(name, 0):
            out.append(InsufficientResource(name, f"Insufficient {name}", q, used.scalar.get(name, 0),
                                            alloc.scalar.get(name, 0)))
    return out


def fit_status(req: Resource, node: NodeInfo) -> fw.Status | None:
    alloc, used = node.allocatable, node.requested
    if (len(node.pods) < alloc.allowed_pod_number and req.milli_cpu <= alloc.milli_cpu - used.milli_cpu
            and req.memory <= alloc.memory - used.memory and not req.scalar
            and req.ephemeral_storage <= alloc.ephemeral_storage - used.ephemeral_storage):
        return None
    missing = insufficient_resources(req, node)
    if not missing:
        return None
    return fw.Status(fw.Code.UNSCHEDULABLE, tuple(m.reason for m in missing), FIT)


def _fits_empty(pod: dict[str, Any], node: Any) -> bool:
    ni = NodeInfo(node)
    return not insufficient_resources(pod_requests(pod.get("spec") or {}), ni)


def _node_changed(pod: dict[str, Any], old: Any, new: Any) -> fw.QueueingHint:
    if new is None or not _fits_empty(pod, new):
        return fw.QueueingHint.SKIP
    if old is not None and ((old.get("status") or {}).get("allocatable") ==
                            (new.get("status") or {}).get("allocatable")):
        return fw.QueueingHint.SKIP
    return fw.QueueingHint.QUEUE


def _pod_deleted(pod: dict[str, Any], old: Any, new: Any) -> fw.QueueingHint:
    if old is None or not (old.get("spec") or {}).get("nodeName"):
        return fw.QueueingHint.SKIP
    return fw.QueueingHint.QUEUE


def _resources_of(args: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
    res = (args.get("scoringStrategy") or {}).get("resources") or args.get("resources")
    if not res:
        return rs.DEFAULT_RESOURCES
    return tuple((r.get("name", ""), int(r.get("weight") or 1)) for r in res)


class NodeResourcesFit:
    name = FIT

    def __init__(self, args: Mapping[str, Any], handle: Any) -> None:
        strategy = (args.get("scoringStrategy") or {}).get("type") or "LeastAllocated"
        if strategy not in ("LeastAllocated", "MostAllocated"):
            raise ValueError(f"scoring strategy {strategy} is not supported")
        self.scorer: Callable[[Sequence[int], Sequence[int], Sequence[int]], int] = (
            rs.least_allocated if strategy == "LeastAllocated" else rs.most_allocated)
        resources = _resources_of(args)
        self.resource_names = [r[0] for r in resources]
        self.weights = [r[1] for r in resources]
        self.most = strategy == "MostAllocated"
        self.cpu_mem_only = self.resource_names == ["cpu", "memory"]

    def filter(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> fw.Status | None:
        return fit_status(pod.requests, node)

    def pre_score(self, state: fw.CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> fw.Status | None:
        state.write(_FIT_SCORE_STATE, [rs.pod_request(pod, r, False) for r in self.resource_names])
        return None

    def score(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_nodes(state, pod, [node])[0]

    def score_nodes(self, state: fw.CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        reqs = state.read(_FIT_SCORE_STATE) or [rs.pod_request(pod, r, False) for r in self.resource_names]
        if self.cpu_mem_only:
            return rs.least_allocated_nodes(nodes, reqs[0], reqs[1], self.weights[0], self.weights[1], self.most)
        out = []
        for node in nodes:
            requested, allocatable = rs.node_vectors(node, self.resource_names, reqs, False)
            out.append(self.scorer(requested, allocatable, self.weights))
        return out

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        node = fw.ClusterEvent(fw.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_ALLOCATABLE |
                               fw.ActionType.UPDATE_NODE_TAINT | fw.ActionType.UPDATE_NODE_LABEL)
        return [fw.ClusterEventWithHint(fw.ClusterEvent(fw.POD, fw.ActionType.DELETE), _pod_deleted),
                fw.ClusterEventWithHint(node, _node_changed),
                fw.ClusterEventWithHint(fw.ClusterEvent(fw.UNSCHEDULED_POD, fw.ActionType.UPDATE_POD_SCALE_DOWN))]


class NodeResourcesBalancedAllocation:
    name = BALANCED

    def __init__(self, args: Mapping[str, Any], handle: Any) -> None:
        self.resource_names = [r[0] for r in _resources_of(args)]

    def pre_score(self, state: fw.CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> fw.Status | None:
        reqs = [rs.pod_request(pod, r, True) for r in self.resource_names]
        if not any(reqs):
            return fw.SKIP
        state.write(_BALANCED_STATE, reqs)
        return None

    def score(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_nodes(state, pod, [node])[0]

    def score_nodes(self, state: fw.CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        reqs = state.read(_BALANCED_STATE) or [rs.pod_request(pod, r, True) for r in self.resource_names]
        if self.resource_names == ["cpu", "memory"]:
            return rs.balanced_nodes(nodes, reqs[0], reqs[1])
        out = []
        for node in nodes:
            requested, allocatable = rs.node_vectors(node, self.resource_names, reqs, True)
            out.append(rs.balanced(requested, allocatable))
        return out
