"""Resource-allocation scoring shared by NodeResourcesFit and NodeResourcesBalancedAllocation.

Pure cores (upstream resource_allocation.go, least_allocated.go,
most_allocated.go, balanced_allocation.go):

- `requested_allocatable(node, resource, pod_request, use_requested)`: the
  node's allocatable and the requested amount *including* the incoming pod.
  CPU and memory use the node's non-zero requests (100m/200Mi defaults) unless
  `use_requested`; extended resources the pod does not request are skipped.
- `least_allocated(requested, allocatable, weights)`: weighted mean over the
  resources of (allocatable - requested) * 100 / allocatable (0 when over).
- `most_allocated`: the same with requested * 100 / allocatable.
- `balanced(requested, allocatable)`: (1 - standard deviation of the
  requested/allocatable fractions, each capped at 1) * 100.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from pocketkube.scheduler.framework import MAX_NODE_SCORE
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.resources import CPU, EPHEMERAL_STORAGE, MEMORY, is_scalar_resource

DEFAULT_RESOURCES: tuple[tuple[str, int], ...] = ((CPU, 1), (MEMORY, 1))


def pod_request(pod: PodInfo, resource: str, use_requested: bool) -> int:
    if not use_requested:
        if resource == CPU:
            return pod.non_zero_cpu
        if resource == MEMORY:
            return pod.non_zero_memory
    return pod.requests.get(resource)


def requested_allocatable(node: NodeInfo, resource: str, pod_request: int, use_requested: bool) -> tuple[int, int]:
    if pod_request == 0 and is_scalar_resource(resource):
        return 0, 0
    req = node.requested if use_requested else node.non_zero_requested
    if resource == CPU:
        return req.milli_cpu + pod_request, node.allocatable.milli_cpu
    if resource == MEMORY:
        return req.memory + pod_request, node.allocatable.memory
    if resource == EPHEMERAL_STORAGE:
        return node.requested.ephemeral_storage + pod_request, node.allocatable.ephemeral_storage
    if resource in node.allocatable.scalar:
        return node.requested.scalar.get(resource, 0) + pod_request, node.allocatable.scalar[resource]
    return 0, 0


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def most_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    requested = min(requested, capacity)
    return requested * MAX_NODE_SCORE // capacity


def _weighted(resource_score: Callable[[int, int], int], requested: Sequence[int], allocatable: Sequence[int],
              weights: Sequence[int]) -> int:
    """The weighted mean of `resource_score` over the resources the node has (integer division)."""
    score = weight_sum = 0
    for req, alloc, w in zip(requested, allocatable, weights, strict=True):
        if alloc == 0:
            continue
        score += resource_score(req, alloc) * w
        weight_sum += w
    return score // weight_sum if weight_sum else 0


def least_allocated(requested: Sequence[int], allocatable: Sequence[int], weights: Sequence[int]) -> int:
    return _weighted(least_requested_score, requested, allocatable, weights)


def most_allocated(requested: Sequence[int], allocatable: Sequence[int], weights: Sequence[int]) -> int:
    return _weighted(most_requested_score, requested, allocatable, weights)


def balanced(requested: Sequence[int], allocatable: Sequence[int]) -> int:
    fractions = [min(req / alloc, 1.0) for req, alloc in zip(requested, allocatable, strict=True) if alloc]
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)


def node_vectors(node: NodeInfo, resources: Sequence[str], pod_requests: Sequence[int],
                 use_requested: bool) -> tuple[list[int], list[int]]:
    requested = [0] * len(resources)
    allocatable = [0] * len(resources)
    for i, name in enumerate(resources):
        req, alloc = requested_allocatable(node, name, pod_requests[i], use_requested)
        if alloc:
            requested[i], allocatable[i] = req, alloc
    return requested, allocatable


def least_allocated_nodes(nodes: Sequence[NodeInfo], pod_cpu: int, pod_mem: int, w_cpu: int, w_mem: int,
                          most: bool = False) -> list[int]:
    """`least_allocated` (or `most_allocated`) over cpu and memory for many nodes (the default, hot path)."""
    out = []
    score_fn = most_requested_score if most else least_requested_score
    for n in nodes:
        alloc, req = n.allocatable, n.non_zero_requested
        total = weight_sum = 0
        if alloc.milli_cpu:
            total += score_fn(req.milli_cpu + pod_cpu, alloc.milli_cpu) * w_cpu
            weight_sum += w_cpu
        if alloc.memory:
            total += score_fn(req.memory + pod_mem, alloc.memory) * w_mem
            weight_sum += w_mem
        out.append(total // weight_sum if weight_sum else 0)
    return out


def balanced_nodes(nodes: Sequence[NodeInfo], pod_cpu: int, pod_mem: int) -> list[int]:
    """`balanced` over cpu and memory (actual requests) for many nodes."""
    out = []
    for n in nodes:
        alloc, req = n.allocatable, n.requested
        if alloc.milli_cpu and alloc.memory:
            fc = min((req.milli_cpu + pod_cpu) / alloc.milli_cpu, 1.0)
            fm = min((req.memory + pod_mem) / alloc.memory, 1.0)
            out.append(int((1 - abs((fc - fm) / 2)) * MAX_NODE_SCORE))
        else:
            out.append(MAX_NODE_SCORE)
    return out
