"""Pod resource requests: what a pod asks of its node, as integers (upstream resourcehelper.PodRequests; pure).

Theory of operation: quantities are parsed once (memoised) into upstream's
integer units: CPU in millicores (MilliValue, rounded up), everything else in
whole units (Value, rounded up); a quantity that does not parse counts 0. A
pod's effective request, per resource name:

    regular  = sum of the regular containers' requests
    sidecars = init containers with restartPolicy Always; each adds to `regular`
               and to a running sidecar total
    init     = for each init container in order, its request (plus the sidecars
               started before it, for a plain init container; the running sidecar
               total, for a sidecar) -- the maximum over them
    request  = max(regular, init) + spec.overhead

The result maps each resource name any container (or the overhead) requests to
its amount. The "non-zero" variant (the scheduler's scoring, so that
request-less pods still spread) first gives every container without a CPU or
memory request 100m / 200Mi. The scheduler (scheduler/resources.py) and the
node agent's admission (kubelet/admission.py) both count pods with this.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from pocketkube.api.quantity import QuantityError, parse_value

Amounts = dict[str, int]
CPU = "cpu"
MEMORY = "memory"
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


@functools.lru_cache(maxsize=8192)
def _parsed(text: str, milli: bool) -> int:
    """A quantity's integer (millis for cpu), 0 for a malformed one; cached: pods repeat few values."""
    try:
        q = parse_value(text)
    except QuantityError:
        return 0
    return q.milli_value() if milli else q.int_value()


def quantity_value(name: str, value: Any) -> int:
    """The integer upstream uses for resource `name` (millicores for cpu)."""
    text = value if isinstance(value, str) else str(value)
    return _parsed(text, name == CPU)


def amounts(resource_list: Mapping[str, Any] | None) -> Amounts:
    """A ResourceList (name -> quantity) as integers."""
    return {name: quantity_value(name, value) for name, value in (resource_list or {}).items()}


def add(into: Amounts, other: Mapping[str, int]) -> None:
    """into += other, name by name."""
    for name, value in other.items():
        into[name] = into.get(name, 0) + value


def _max(into: Amounts, other: Mapping[str, int]) -> None:
    for name, value in other.items():
        into[name] = max(into.get(name, 0), value)


def container_requests(container: Mapping[str, Any], non_zero: bool = False) -> Amounts:
    """One container's requests; with `non_zero`, cpu/memory defaulted when not requested."""
    requested = amounts((container.get("resources") or {}).get("requests"))
    if non_zero:
        requested.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
        requested.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
    return requested


def pod_requests(spec: Mapping[str, Any], *, non_zero: bool = False) -> Amounts:
    """The pod's effective request (see the module docstring)."""
    total: Amounts = {}
    for c in spec.get("containers") or []:
        add(total, container_requests(c, non_zero))
    sidecars: Amounts = {}
    init_max: Amounts = {}
    for c in spec.get("initContainers") or []:
        req = container_requests(c, non_zero)
        if c.get("restartPolicy") == "Always":
            add(total, req)
            add(sidecars, req)
            _max(init_max, sidecars)
        else:
            add(req, sidecars)
            _max(init_max, req)
    _max(total, init_max)
    add(total, amounts(spec.get("overhead")))
    return total
