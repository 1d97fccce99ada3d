"""Kubelet admission: does a newly bound pod fit what its node has left? (pure)

Theory of operation (kubelet lifecycle.PredicateAdmitHandler's resource part,
v1.32): before running a pod it has not seen, the kubelet checks the node's
allocatable against the pods it already runs: the pod count first, then cpu
(millicores), memory and ephemeral-storage (bytes). A pod that does not fit is
rejected and never started: phase Failed, reason `OutOf<resource>`, message
"Pod was rejected: Node didn't have enough resource: cpu, requested: 8000,
used: 500, capacity: 4000", and a Warning event with that reason (its message
without the "Pod was rejected: " prefix). The
scheduler normally prevents this; it happens to pods bound by hand
(spec.nodeName) or raced onto a full node. A pod's request is the larger of its
regular containers' (plus sidecars) sum and each init container's (plus the
sidecars started before it), plus the pod overhead, as upstream computes it
(machinery/podresources.py, which the scheduler shares).
Node selector, affinity and taint checks of upstream's admission are not done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pocketkube.machinery.podresources import Amounts, add, pod_requests, quantity_value

Obj = dict[str, Any]
RESOURCES = ("cpu", "memory", "ephemeral-storage")


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    message: str


def _rejection(resource: str, requested: int, used: int, capacity: int) -> Rejection:
    return Rejection(f"OutOf{resource}", f"Node didn't have enough resource: {resource}, "
                                         f"requested: {requested}, used: {used}, capacity: {capacity}")


def admit(pod: Obj, allocatable: Mapping[str, Any], running: Iterable[Obj]) -> Rejection | None:
    """None if `pod` fits beside the `running` pods of a node with this allocatable."""
    others = list(running)
    max_pods = quantity_value("pods", allocatable.get("pods", "110"))
    if len(others) + 1 > max_pods:
        return _rejection("pods", 1, len(others), max_pods)
    wanted = pod_requests(pod.get("spec") or {})
    used: Amounts = {}
    for p in others:
        add(used, pod_requests(p.get("spec") or {}))
    for r in RESOURCES:
        need = wanted.get(r, 0)
        if need and r in allocatable:
            capacity = quantity_value(r, allocatable[r])
            if used.get(r, 0) + need > capacity:
                return _rejection(r, need, used.get(r, 0), capacity)
    return None


def rejected_status(previous: Obj, rejection: Rejection, start_time: str) -> Obj:
    """The status of a rejected pod: Failed with the reason, the rest of the status kept."""
    status = dict(previous)
    status.update({"phase": "Failed", "reason": rejection.reason, "message": "Pod was rejected: " + rejection.message})
    status.setdefault("startTime", start_time)
    return status
