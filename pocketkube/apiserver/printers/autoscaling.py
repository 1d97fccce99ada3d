"""The HorizontalPodAutoscaler printer (autoscaling/v2 and autoscaling/v1 JSON shapes).

Theory of operation (upstream printHorizontalPodAutoscaler / formatHPAMetrics, v1.32):
TARGETS renders each spec metric against the status metric at the same index as
`current/target`: resource metrics as `cpu: 40%/80%` (or `cpu: <unknown>/80%` with no
status yet, `<auto>` without a target utilization, `cpu: 100m/200m` for average
values), pods and average object/external metrics with `(avg)` where upstream adds it.
At most two are shown, then ` + N more...`; no metrics prints `<none>`. A quantity
pointer that is nil prints `<nil>`, as Go's Quantity.String does.

Upstream prints the internal (v2-shaped) object; an autoscaling/v1 object is first
viewed in that shape: targetCPUUtilizationPercentage becomes a cpu Utilization metric
and currentCPUUtilizationPercentage its status.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pocketkube.apiserver.printers.columns import (
    AGE,
    NAME,
    Cell,
    Obj,
    col,
    column_printer,
    field,
    int_field,
    items,
    quantity_ptr,
    sub,
)
from pocketkube.apiserver.printers.descriptions import doc

_UNKNOWN = "<unknown>"


def _status_part(statuses: list[Any], i: int, key: str) -> Obj | None:
    if i < len(statuses):
        part = statuses[i].get(key)
        if isinstance(part, dict):
            return part
    return None


def _value_metric(spec: Obj, st: Obj | None) -> str:
    """object/external: `(avg)` form when the target has averageValue, else value."""
    target = sub(spec, "target")
    if target.get("averageValue") is not None:
        current = _UNKNOWN
        if st is not None and sub(st, "current").get("averageValue") is not None:
            current = str(sub(st, "current")["averageValue"])
        return f"{current}/{target['averageValue']} (avg)"
    current = quantity_ptr(sub(st, "current").get("value")) if st is not None else _UNKNOWN
    return f"{current}/{quantity_ptr(target.get('value'))}"


def _pods_metric(spec: Obj, st: Obj | None) -> str:
    current = quantity_ptr(sub(st, "current").get("averageValue")) if st is not None else _UNKNOWN
    return f"{current}/{quantity_ptr(sub(spec, 'target').get('averageValue'))}"


def _resource_metric(spec: Obj, st: Obj | None) -> str:
    """resource/containerResource: `name: current/target`."""
    target, name = sub(spec, "target"), spec.get("name", "")
    current_obj = sub(st, "current") if st is not None else None
    if target.get("averageValue") is not None:
        current = quantity_ptr(current_obj.get("averageValue")) if current_obj is not None else _UNKNOWN
        return f"{name}: {current}/{target['averageValue']}"
    current = _UNKNOWN
    if current_obj is not None and current_obj.get("averageUtilization") is not None:
        current = f"{current_obj['averageUtilization']}%"
    util = target.get("averageUtilization")
    return f"{name}: {current}/{'<auto>' if util is None else f'{util}%'}"


_FORMATTERS: dict[str, tuple[str, Callable[[Obj, Obj | None], str]]] = {
    "External": ("external", _value_metric),
    "Object": ("object", _value_metric),
    "Pods": ("pods", _pods_metric),
    "Resource": ("resource", _resource_metric),
    "ContainerResource": ("containerResource", _resource_metric),
}


def format_hpa_metrics(specs: list[Any], statuses: list[Any]) -> str:
    if not specs:
        return "<none>"
    shown: list[str] = []
    for i, spec in enumerate(specs):
        kind = _FORMATTERS.get(spec.get("type", ""))
        if kind is None:
            shown.append("<unknown type>")
            continue
        key, fmt = kind
        shown.append(fmt(sub(spec, key), _status_part(statuses, i, key)))
    if len(shown) > 2:
        return f"{', '.join(shown[:2])} + {len(shown) - 2} more..."
    return ", ".join(shown)


def _v1_metrics(spec: Obj, status: Obj) -> tuple[list[Any], list[Any]]:
    """The v2-shaped metric specs and statuses of an autoscaling/v1 object."""
    target = spec.get("targetCPUUtilizationPercentage")
    if target is None:
        return [], []
    specs = [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}},
        }
    ]
    current = status.get("currentCPUUtilizationPercentage")
    statuses: list[Any] = []
    if current is not None:
        statuses = [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}
        ]
    return specs, statuses


def _metric_views(spec: Obj, status: Obj) -> tuple[list[Any], list[Any]]:
    """The metric specs and statuses, v2-shaped whatever the object's version."""
    if "metrics" not in spec and "targetCPUUtilizationPercentage" in spec:
        return _v1_metrics(spec, status)
    return items(spec, "metrics"), items(status, "currentMetrics")


def _targets(obj: Obj, now: datetime) -> Cell:
    return format_hpa_metrics(*_metric_views(sub(obj, "spec"), sub(obj, "status")))


def _reference(obj: Obj, now: datetime) -> Cell:
    ref = sub(sub(obj, "spec"), "scaleTargetRef")
    return f"{ref.get('kind', '')}/{ref.get('name', '')}"


_HPA = "autoscaling/v2beta1.HorizontalPodAutoscaler"
HORIZONTALPODAUTOSCALER = column_printer(
    NAME,
    col("Reference", "string", doc(_HPA + "Spec.scaleTargetRef"), cell=_reference),
    col("Targets", "string", doc(_HPA + "Spec.metrics"), cell=_targets),
    col(
        "MinPods",
        "string",
        doc(_HPA + "Spec.minReplicas"),
        cell=field("spec.minReplicas", "<unset>", str, pointer=True),
    ),
    col("MaxPods", "string", doc(_HPA + "Spec.maxReplicas"), cell=int_field("spec.maxReplicas")),
    col("Replicas", "string", doc(_HPA + "Status.currentReplicas"), cell=int_field("status.currentReplicas")),
    AGE,
)

SCALE = column_printer(
    col("Name", "string", doc("meta/v1.ObjectMeta.name"), cell=NAME.cell),
    col("Desired", "integer", doc("autoscaling/v1.ScaleSpec.replicas"), cell=int_field("spec.replicas")),
    col(
        "Available", "integer", doc("autoscaling/v1.ScaleStatus.replicas"), cell=int_field("status.replicas")
    ),
    AGE,
)
