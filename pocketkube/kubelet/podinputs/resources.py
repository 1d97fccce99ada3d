"""resourceFieldRef values: a container's requests/limits as downward API strings (pure).

Theory of operation (upstream pkg/api/v1/resource helpers): a selector names `limits.cpu`,
`requests.memory`, `limits.ephemeral-storage`, ... (and hugepages-<size>) and a divisor (unset or
zero means 1). CPU is ceil(milli value / divisor milli value); the others are ceil(value /
divisor value), computed in float64 as upstream. A container without a cpu / memory /
ephemeral-storage *limit* (or with a zero one) is given the node's allocatable amount first
(MergeContainerResourceLimits), so `limits.cpu` of an unlimited container reads the node's CPUs.
`containerName` in the selector picks another container of the pod (regular, then init).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pocketkube.api.quantity import Quantity, QuantityError, parse_value

Obj = dict[str, Any]
_DEFAULTED = ("cpu", "memory", "ephemeral-storage")


class ResourceFieldError(ValueError):
    """An unsupported resource or a container that is not in the pod (upstream's error text)."""


def _quantity(value: Any) -> Quantity | None:
    if value is None:
        return None
    try:
        return parse_value(value)
    except QuantityError:
        return None


def merge_limits(container: Obj, allocatable: Mapping[str, Any]) -> Obj:
    """A copy of `container` whose missing or zero cpu/memory/ephemeral-storage limits are the node's
    allocatable amounts."""
    resources = dict(container.get("resources") or {})
    limits = dict(resources.get("limits") or {})
    for name in _DEFAULTED:
        q = _quantity(limits.get(name))
        if (q is None or q.value == 0) and name in allocatable:
            limits[name] = allocatable[name]
    resources["limits"] = limits
    return {**container, "resources": resources}


def find_container(pod: Obj, name: str) -> Obj:
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if c.get("name") == name:
            return dict(c)
    raise ResourceFieldError(f"container {name} not found")


def _divisor(selector: Mapping[str, Any]) -> Quantity:
    q = _quantity(selector.get("divisor"))
    return q if q is not None and q.value != 0 else parse_value("1")


def _ceil_div(a: int, b: int) -> str:
    return str(math.ceil(float(a) / float(b)))


def container_resource_value(selector: Mapping[str, Any], container: Obj) -> str:
    """ExtractContainerResourceValue for `container` (limits already merged when wanted)."""
    resource = str(selector.get("resource") or "")
    divisor = _divisor(selector)
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or not name:
        raise ResourceFieldError(f"unsupported container resource : {resource}")
    if name not in _DEFAULTED and not name.startswith("hugepages-"):
        raise ResourceFieldError(f"unsupported container resource : {resource}")
    values = (container.get("resources") or {}).get(kind) or {}
    q = _quantity(values.get(name)) or parse_value("0")
    if name == "cpu":
        return _ceil_div(q.milli_value(), divisor.milli_value())
    return _ceil_div(q.int_value(), divisor.int_value())


def resource_value(selector: Mapping[str, Any], pod: Obj, container: Obj | None,
                   allocatable: Mapping[str, Any]) -> str:
    """The value of a resourceFieldRef: of `container`, or of selector.containerName in `pod`
    (volumes always name it), with unset limits defaulted to the node's allocatable."""
    name = str(selector.get("containerName") or "")
    target = find_container(pod, name) if name else container
    if target is None:
        raise ResourceFieldError("container name is required for a resourceFieldRef outside a container")
    return container_resource_value(selector, merge_limits(target, allocatable))
