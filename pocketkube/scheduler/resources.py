"""Resource arithmetic for scheduling: node allocatable and pod requests as integers.

Theory of operation: `Resource` is upstream's framework.Resource, the integer
amounts the filters and scores compare: cpu in millicores, memory and
ephemeral-storage in bytes, the allowed pod count and scalar (extended,
hugepages, attachable-volumes) resources by name; other names are dropped.
Quantities are parsed and a pod's effective request (containers, init
containers, sidecars, overhead; the "non-zero" variant for scoring) is computed
by machinery/podresources.py, which the node agent's admission shares;
`pod_requests` only wraps its amounts in a Resource. Pure code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketkube.machinery import podresources
from pocketkube.machinery.podresources import (
    CPU,
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    MEMORY,
    quantity_value,
)

__all__ = ["CPU", "DEFAULT_MEMORY_REQUEST", "DEFAULT_MILLI_CPU_REQUEST", "EPHEMERAL_STORAGE", "MEMORY", "PODS",
           "Resource", "is_scalar_resource", "pod_requests", "quantity_value"]

EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"


def is_scalar_resource(name: str) -> bool:
    return "/" in name or name.startswith("hugepages-") or name.startswith("attachable-volumes-")


class Resource:
    """Integer resource amounts (upstream framework.Resource)."""

    __slots__ = ("allowed_pod_number", "ephemeral_storage", "memory", "milli_cpu", "scalar")

    def __init__(self, milli_cpu: int = 0, memory: int = 0, ephemeral_storage: int = 0,
                 allowed_pod_number: int = 0, scalar: dict[str, int] | None = None) -> None:
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.allowed_pod_number = allowed_pod_number
        self.scalar: dict[str, int] = scalar if scalar is not None else {}

    @classmethod
    def from_list(cls, rl: Mapping[str, Any] | None) -> Resource:
        r = cls()
        for name, value in (rl or {}).items():
            r.set(name, quantity_value(name, value))
        return r

    @classmethod
    def from_amounts(cls, amounts: Mapping[str, int]) -> Resource:
        r = cls()
        for name, value in amounts.items():
            r.set(name, value)
        return r

    def set(self, name: str, value: int) -> None:
        if name == CPU:
            self.milli_cpu = value
        elif name == MEMORY:
            self.memory = value
        elif name == EPHEMERAL_STORAGE:
            self.ephemeral_storage = value
        elif name == PODS:
            self.allowed_pod_number = value
        elif is_scalar_resource(name):
            self.scalar[name] = value

    def get(self, name: str) -> int:
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == PODS:
            return self.allowed_pod_number
        return self.scalar.get(name, 0)

    def add(self, other: Resource) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.ephemeral_storage += other.ephemeral_storage
        self.allowed_pod_number += other.allowed_pod_number
        for k, v in other.scalar.items():
            self.scalar[k] = self.scalar.get(k, 0) + v

    def sub(self, other: Resource) -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory
        self.ephemeral_storage -= other.ephemeral_storage
        self.allowed_pod_number -= other.allowed_pod_number
        for k, v in other.scalar.items():
            self.scalar[k] = self.scalar.get(k, 0) - v

    def max_with(self, other: Resource) -> None:
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral_storage = max(self.ephemeral_storage, other.ephemeral_storage)
        self.allowed_pod_number = max(self.allowed_pod_number, other.allowed_pod_number)
        for k, v in other.scalar.items():
            self.scalar[k] = max(self.scalar.get(k, 0), v)

    def clone(self) -> Resource:
        return Resource(self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pod_number,
                        dict(self.scalar))

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalar.values()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resource) and (
            (self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pod_number,
             {k: v for k, v in self.scalar.items() if v})
            == (other.milli_cpu, other.memory, other.ephemeral_storage, other.allowed_pod_number,
                {k: v for k, v in other.scalar.items() if v}))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Resource(cpu={self.milli_cpu}m, memory={self.memory}, eph={self.ephemeral_storage}, "
                f"pods={self.allowed_pod_number}, scalar={self.scalar})")


def pod_requests(spec: Mapping[str, Any], *, non_zero: bool = False) -> Resource:
    """The pod's effective request (machinery/podresources.py) as a Resource; no pod count."""
    total = Resource.from_amounts(podresources.pod_requests(spec, non_zero=non_zero))
    total.allowed_pod_number = 0
    return total
