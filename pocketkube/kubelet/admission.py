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
sidecars started before it), plus the pod overhead, as upstream computes it.
Node selector, affinity and taint checks of upstream's admission are not done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pocketkube.api.quantity import QuantityError, parse_quantity

Obj = dict[str, Any]
RESOURCES = ("cpu", "memory", "ephemeral-storage")


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    message: str


def _amount(resource: str, value: Any) -> int:
    try:
        q = parse_quantity(str(value))
    except QuantityError:
        return 0
    return q.milli_value() if resource == "cpu" else q.int_value()


def _container(c: Obj) -> dict[str, int]:
    requests = (c.get("resources") or {}).get("requests") or {}
    return {r: _amount(r, requests[r]) for r in RESOURCES if r in requests}


def _add(a: dict[str, int], b: Mapping[str, int]) -> dict[str, int]:
    return {r: a.get(r, 0) + b.get(r, 0) for r in set(a) | set(b)}


def pod_requests(spec: Obj) -> dict[str, int]:
    total: dict[str, int] = {}
    for c in spec.get("containers") or []:
        total = _add(total, _container(c))
    sidecars: dict[str, int] = {}
    peak: dict[str, int] = {}
    for c in spec.get("initContainers") or []:
        if c.get("restartPolicy") == "Always":
            sidecars = _add(sidecars, _container(c))
            peak = {r: max(peak.get(r, 0), sidecars.get(r, 0)) for r in set(peak) | set(sidecars)}
        else:
            step = _add(sidecars, _container(c))
            peak = {r: max(peak.get(r, 0), step.get(r, 0)) for r in set(peak) | set(step)}
    total = _add(total, sidecars)
    total = {r: max(total.get(r, 0), peak.get(r, 0)) for r in set(total) | set(peak)}
    overhead = {r: _amount(r, v) for r, v in (spec.get("overhead") or {}).items() if r in RESOURCES}
    return _add(total, overhead)


def _rejection(resource: str, requested: int, used: int, capacity: int) -> Rejection:
    return Rejection(f"OutOf{resource}", f"Node didn't have enough resource: {resource}, "
                                         f"requested: {requested}, used: {used}, capacity: {capacity}")


def admit(pod: Obj, allocatable: Mapping[str, Any], running: Iterable[Obj]) -> Rejection | None:
    """None if `pod` fits beside the `running` pods of a node with this allocatable."""
    others = list(running)
    max_pods = _amount("pods", allocatable.get("pods", "110"))
    if len(others) + 1 > max_pods:
        return _rejection("pods", 1, len(others), max_pods)
    wanted = pod_requests(pod.get("spec") or {})
    used: dict[str, int] = {}
    for p in others:
        used = _add(used, pod_requests(p.get("spec") or {}))
    for r in RESOURCES:
        need = wanted.get(r, 0)
        if need and r in allocatable:
            capacity = _amount(r, allocatable[r])
            if used.get(r, 0) + need > capacity:
                return _rejection(r, need, used.get(r, 0), capacity)
    return None


def rejected_status(previous: Obj, rejection: Rejection, start_time: str) -> Obj:
    """The status of a rejected pod: Failed with the reason, the rest of the status kept."""
    status = dict(previous)
    status.update({"phase": "Failed", "reason": rejection.reason, "message": "Pod was rejected: " + rejection.message})
    status.setdefault("startTime", start_time)
    return status
