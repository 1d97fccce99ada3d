"""Resource arithmetic for scheduling: node allocatable and pod requests as integers.

Theory of operation: quantities are parsed once (memoised) into upstream's
integer units: CPU in millicores (MilliValue, rounded up), everything else in
whole units (Value, rounded up). A pod's effective request follows upstream
`resourcehelper.PodRequests`:

    regular  = sum of the regular containers' requests
    sidecars = init containers with restartPolicy Always; each adds to `regular`
               and to a running sidecar total
    init     = for each init container in order, its request (plus the sidecars
               started before it, for a plain init container; the running sidecar
               total, for a sidecar) -- the maximum over them
    request  = max(regular, init) + spec.overhead

The "non-zero" variant (used by scoring so that request-less pods still spread)
first gives every container without a CPU or memory request 100m / 200Mi.
Pure code.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from pocketkube.api.quantity import QuantityError, parse_value

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


@functools.lru_cache(maxsize=4096)
def _milli(text: str) -> int:
    try:
        return parse_value(text).milli_value()
    except QuantityError:
        return 0


@functools.lru_cache(maxsize=4096)
def _units(text: str) -> int:
    try:
        return parse_value(text).int_value()
    except QuantityError:
        return 0


def quantity_value(name: str, value: Any) -> int:
    """The integer upstream uses for resource `name` (millicores for cpu)."""
    text = value if isinstance(value, str) else str(value)
    return _milli(text) if name == CPU else _units(text)


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


def _container_requests(container: Mapping[str, Any], non_zero: bool) -> Resource:
    requests = (container.get("resources") or {}).get("requests") or {}
    r = Resource.from_list(requests)
    if non_zero:
        if CPU not in requests:
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST
        if MEMORY not in requests:
            r.memory = DEFAULT_MEMORY_REQUEST
    return r


def pod_requests(spec: Mapping[str, Any], *, non_zero: bool = False) -> Resource:
    """The pod's effective request (see the module docstring)."""
    total = Resource()
    for c in spec.get("containers") or []:
        total.add(_container_requests(c, non_zero))
    sidecars = Resource()
    init_max = Resource()
    for c in spec.get("initContainers") or []:
        req = _container_requests(c, non_zero)
        if c.get("restartPolicy") == "Always":
            total.add(req)
            sidecars.add(req)
            effective = sidecars.clone()
        else:
            effective = req
            effective.add(sidecars)
        init_max.max_with(effective)
    total.max_with(init_max)
    overhead = spec.get("overhead")
    if overhead:
        total.add(Resource.from_list(overhead))
    total.allowed_pod_number = 0
    return total
