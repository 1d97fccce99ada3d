"""autoscaling strategy: HorizontalPodAutoscaler, written against the v2 storage shape.

Theory of operation: autoscaling/v1 objects are converted to v2 by the apiserver
before the strategy runs, so only the v2 shape is validated here (upstream
validates the internal type, which v2 mirrors). Replicas bounds, the scale
target reference, each metric source (exactly the one named by `type`), metric
targets and the scaling behavior are checked with upstream's messages. HPAs
have a status subresource and no generation tracking in v1.32.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api import quantity
from pocketkube.apiserver.registry.govalue import nonnegative
from pocketkube.apiserver.strategy import Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import names

Obj = dict[str, Any]

MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600
SOURCE_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"]
SOURCE_FIELD = {"Object": "object", "Pods": "pods", "Resource": "resource", "External": "external",
                "ContainerResource": "containerResource"}
POPULATE = "must populate information for the given metric source"


def _path_segment(value: str, path: str) -> list[FieldError]:
    return [errors.invalid(path, value, m) for m in names.path_segment_problems(value)]


def cross_version_ref(ref: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("kind", "name"):
        value = ref.get(key, "")
        errs.extend([errors.required(f"{path}.{key}")] if not value else _path_segment(value, f"{path}.{key}"))
    return errs


def _positive_quantity(value: Any) -> bool:
    try:
        return quantity.parse_value(value).value > 0
    except ValueError:
        return False


def _metric_target(t: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    typ = t.get("type", "")
    if not typ:
        errs.append(errors.required(f"{path}.type", "must specify a metric target type"))
    if typ not in ("Utilization", "Value", "AverageValue"):
        errs.append(errors.invalid(f"{path}.type", typ, "must be either Utilization, Value, or AverageValue"))
    for key in ("value", "averageValue"):
        if t.get(key) is not None and not _positive_quantity(t[key]):
            errs.append(errors.invalid(f"{path}.{key}", str(t[key]), "must be positive"))
    if t.get("averageUtilization") is not None and t["averageUtilization"] < 1:
        errs.append(errors.invalid(f"{path}.averageUtilization", t["averageUtilization"], "must be greater than 0"))
    return errs


def _metric_identifier(m: Obj, path: str) -> list[FieldError]:
    name = m.get("name", "")
    if not name:
        return [errors.required(f"{path}.name", "must specify a metric name")]
    return _path_segment(name, f"{path}.name")


def _utilization_or_value(t: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if t.get("averageUtilization") is None and t.get("averageValue") is None:
        errs.append(errors.required(f"{path}.averageUtilization", "must set either a target raw value or a target utilization"))
    if t.get("averageUtilization") is not None and t.get("averageValue") is not None:
        errs.append(errors.forbidden(f"{path}.averageValue", "may not set both a target raw value and a target utilization"))
    return errs


def _source(kind: str, src: Obj, path: str) -> list[FieldError]:
    target = src.get("target") or {}
    tpath = f"{path}.target"
    errs: list[FieldError] = []
    if kind == "object":
        errs += cross_version_ref(src.get("describedObject") or {}, f"{path}.describedObject")
    if kind in ("object", "external", "pods"):
        errs += _metric_identifier(src.get("metric") or {}, f"{path}.metric")
    if kind in ("resource", "containerResource") and not src.get("name"):
        errs.append(errors.required(f"{path}.name", "must specify a resource name"))
    if kind == "containerResource":
        container = src.get("container", "")
        if not container:
            errs.append(errors.required(f"{path}.container", "must specify a container"))
        else:
            errs += [errors.invalid(f"{path}.container", container, m) for m in names.dns1123_label_problems(container)]
    errs += _metric_target(target, tpath)
    has_value, has_avg = target.get("value") is not None, target.get("averageValue") is not None
    if kind == "object" and not has_value and not has_avg:
        errs.append(errors.required(f"{tpath}.averageValue", "must set either a target value or averageValue"))
    elif kind == "external":
        if not has_value and not has_avg:
            errs.append(errors.required(f"{tpath}.averageValue", "must set either a target value for metric or a per-pod target"))
        if has_value and has_avg:
            errs.append(errors.forbidden(f"{tpath}.value", "may not set both a target value for metric and a per-pod target"))
    elif kind == "pods" and not has_avg:
        errs.append(errors.required(f"{tpath}.averageValue", "must specify a positive target averageValue"))
    elif kind in ("resource", "containerResource"):
        errs += _utilization_or_value(target, tpath)
    return errs


def metric_spec(m: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    typ = m.get("type", "")
    if not typ:
        errs.append(errors.required(f"{path}.type", "must specify a metric source type"))
    if typ not in SOURCE_TYPES:
        errs.append(errors.not_supported(f"{path}.type", typ, SOURCE_TYPES))
    present = [f for f in ("object", "external", "pods", "resource", "containerResource") if m.get(f) is not None]
    if present:
        errs += _source(present[0], m[present[0]], f"{path}.{present[0]}")
    expected = SOURCE_FIELD.get(typ)
    if expected is not None and m.get(expected) is None:
        errs.append(errors.required(f"{path}.{expected}", POPULATE))
    elif expected is None:
        errs.append(errors.not_supported(f"{path}.type", typ, SOURCE_TYPES))
    if len(present) != 1:
        errs += [errors.forbidden(f"{path}.{f}", "must populate the given metric source only")
                 for f in sorted(present) if f != expected]
    return errs


def _scaling_rules(rules: Any, path: str) -> list[FieldError]:
    if not isinstance(rules, dict):
        return []
    errs: list[FieldError] = []
    sws = rules.get("stabilizationWindowSeconds")
    if sws is not None and sws < 0:
        errs.append(errors.invalid(f"{path}.stabilizationWindowSeconds", sws, "must be greater than or equal to zero"))
    if sws is not None and sws > MAX_STABILIZATION_WINDOW_SECONDS:
        errs.append(errors.invalid(f"{path}.stabilizationWindowSeconds", sws,
                                   f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"))
    sp = rules.get("selectPolicy")
    if sp is not None and sp not in ("Disabled", "Max", "Min"):
        errs.append(errors.not_supported(f"{path}.selectPolicy", sp, ["Disabled", "Max", "Min"]))
    policies = rules.get("policies") or []
    if not policies:
        errs.append(errors.required(f"{path}.policies", "must specify at least one Policy"))
    for i, p in enumerate(policies):
        pp = f"{path}.policies[{i}]"
        if p.get("type") not in ("Pods", "Percent"):
            errs.append(errors.not_supported(f"{pp}.type", p.get("type", ""), ["Percent", "Pods"]))
        if p.get("value", 0) <= 0:
            errs.append(errors.invalid(f"{pp}.value", p.get("value", 0), "must be greater than zero"))
        period = p.get("periodSeconds", 0)
        if period <= 0:
            errs.append(errors.invalid(f"{pp}.periodSeconds", period, "must be greater than zero"))
        if period > MAX_PERIOD_SECONDS:
            errs.append(errors.invalid(f"{pp}.periodSeconds", period, f"must be less than or equal to {MAX_PERIOD_SECONDS}"))
    return errs


def validate_hpa_spec(obj: Obj, min_replicas_lower_bound: int) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    min_r, max_r = spec.get("minReplicas"), spec.get("maxReplicas", 0)
    if min_r is not None and min_r < min_replicas_lower_bound:
        errs.append(errors.invalid("spec.minReplicas", min_r, f"must be greater than or equal to {min_replicas_lower_bound}"))
    if max_r < 1:
        errs.append(errors.invalid("spec.maxReplicas", max_r, "must be greater than 0"))
    if min_r is not None and max_r < min_r:
        errs.append(errors.invalid("spec.maxReplicas", max_r, "must be greater than or equal to `minReplicas`"))
    errs += cross_version_ref(spec.get("scaleTargetRef") or {}, "spec.scaleTargetRef")
    metrics = spec.get("metrics") or []
    for i, m in enumerate(metrics):
        errs += metric_spec(m, f"spec.metrics[{i}]")
    if min_r == 0 and not any(m.get("type") in ("Object", "External") for m in metrics):
        errs.append(errors.forbidden("spec.metrics", "must specify at least one Object or External metric to support "
                                     "scaling to zero replicas"))
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        errs += _scaling_rules(behavior.get("scaleUp"), "spec.behavior.scaleUp")
        errs += _scaling_rules(behavior.get("scaleDown"), "spec.behavior.scaleDown")
    return errs


class HorizontalPodAutoscalerStrategy(Strategy):
    tracks_generation = False

    def initial_status(self, obj: Obj) -> Any:
        return {"desiredReplicas": 0}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_hpa_spec(obj, 1)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        bound = 0 if (old.get("spec") or {}).get("minReplicas") == 0 else 1
        return validate_hpa_spec(new, bound)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        st = new.get("status") or {}
        return (nonnegative(st.get("currentReplicas", 0), "status.currentReplicas")
                + nonnegative(st.get("desiredReplicas", 0), "status.desiredReplicas"))


STRATEGIES: dict[str, Strategy] = {"HorizontalPodAutoscaler": HorizontalPodAutoscalerStrategy()}
