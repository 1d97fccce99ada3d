"""Versions that share storage with another version of the same kind.

Theory of operation: core/v1 Events are the storage form of events.k8s.io/v1
Events, and autoscaling/v2 HorizontalPodAutoscalers the storage form of
autoscaling/v1 ones. A `VersionedStore` wraps the storage version's store:
incoming objects are decoded against their own version's schema, converted to
the storage version and then take the ordinary pipeline; outgoing objects are
converted back (`present`). Each pair is two pure functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from pocketkube.api import schema, structural
from pocketkube.api.scheme import Resource
from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.store import ResourceStore
from pocketkube.machinery import errors

Obj = dict[str, Any]
Convert = Callable[[Obj], Obj]

# --- events.k8s.io/v1 <-> core/v1 ---------------------------------------------------

_EVENT_RENAMES = (  # (events.k8s.io/v1 field, core/v1 field)
    ("regarding", "involvedObject"), ("note", "message"), ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"), ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"), ("reportingController", "reportingComponent"),
)
_EVENT_SAME = ("metadata", "eventTime", "series", "action", "reason", "related", "reportingInstance", "type")


def _event_fields(obj: Obj, api_version: str, renames: Iterable[tuple[str, str]]) -> Obj:
    """An Event of `api_version` with the fields both versions share and the renamed ones (from, to)."""
    out: Obj = {"kind": "Event", "apiVersion": api_version}
    for key in _EVENT_SAME:
        if key in obj:
            out[key] = obj[key]
    for source, target in renames:
        if source in obj:
            out[target] = obj[source]
    return out


def event_to_core(obj: Obj) -> Obj:
    out = _event_fields(obj, "v1", _EVENT_RENAMES)
    if "series" in out:
        series = dict(out["series"])
        out["series"] = {"count": series.get("count", 0), "lastObservedTime": series.get("lastObservedTime")}
    return out


def event_from_core(obj: Obj) -> Obj:
    out = _event_fields(obj, "events.k8s.io/v1", ((old, new) for new, old in _EVENT_RENAMES))
    if "eventTime" not in out:
        out["eventTime"] = None
    return out


# --- autoscaling/v1 <-> autoscaling/v2 ---------------------------------------------------
# v1 shows one number, the CPU utilization target. Like upstream's conversion, the v1 view keeps the
# rest in annotations (metrics and statuses in v1's old MetricSpec/MetricStatus shapes, conditions
# as v1 conditions, behavior as the *internal* Go type's JSON, with Go field names), and reading a v1
# object back restores them from there and drops the annotations, so a write through v1 loses nothing.

METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
_ROUND_TRIP = (METRICS_ANNOTATION, CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION, BEHAVIOR_ANNOTATION)
_DEFAULT_CPU_UTILIZATION = 80


def _cpu_utilization_target(m: Obj) -> bool:
    res = m.get("resource") or {}
    return m.get("type") == "Resource" and res.get("name") == "cpu" and \
        (res.get("target") or {}).get("averageUtilization") is not None


def hpa_v1_to_v2(obj: Obj) -> Obj:
    out = {k: v for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = "autoscaling/v2"
    annotations = dict(((obj.get("metadata") or {}).get("annotations")) or {})
    spec = dict(obj.get("spec") or {})
    target = spec.pop("targetCPUUtilizationPercentage", None)
    metrics = [_spec_from_v1(m) for m in _annotation_list(annotations, METRICS_ANNOTATION)]
    if target is not None:
        metrics.append({"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}})
    if not metrics:  # v1's implicit default, made explicit where all the metrics are known
        metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": _DEFAULT_CPU_UTILIZATION}}}]
    spec["metrics"] = metrics
    behavior = _behavior_from_annotation(annotations.get(BEHAVIOR_ANNOTATION))
    if behavior:
        spec["behavior"] = behavior
    out["spec"] = spec
    status = dict(obj.get("status") or {})
    current = status.pop("currentCPUUtilizationPercentage", None)
    if current is not None:
        status["currentMetrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": current}}}]
    if CURRENT_METRICS_ANNOTATION in annotations:
        status["currentMetrics"] = [_status_from_v1(m)
                                    for m in _annotation_list(annotations, CURRENT_METRICS_ANNOTATION)]
    if CONDITIONS_ANNOTATION in annotations:
        status["conditions"] = [_condition_from_v1(c)
                                for c in _annotation_list(annotations, CONDITIONS_ANNOTATION)]
    if "status" in obj or status:
        out["status"] = status
    _set_annotations(out, {k: v for k, v in annotations.items() if k not in _ROUND_TRIP})
    return out


def hpa_v2_to_v1(obj: Obj) -> Obj:
    out = {k: v for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = "autoscaling/v1"
    annotations = {k: v for k, v in (((obj.get("metadata") or {}).get("annotations")) or {}).items()
                   if k not in _ROUND_TRIP}
    v2spec = obj.get("spec") or {}
    spec = {k: v for k, v in v2spec.items() if k not in ("metrics", "behavior")}
    for m in v2spec.get("metrics") or []:
        res = m.get("resource") or {}
        if m.get("type") == "Resource" and res.get("name") == "cpu":
            util = (res.get("target") or {}).get("averageUtilization")
            if util is not None:
                spec["targetCPUUtilizationPercentage"] = util
            break
    out["spec"] = spec
    others = [_spec_to_v1(m) for m in v2spec.get("metrics") or [] if not _cpu_utilization_target(m)]
    if others:
        annotations[METRICS_ANNOTATION] = _go_json(others)
    st = obj.get("status") or {}
    if st.get("currentMetrics"):
        annotations[CURRENT_METRICS_ANNOTATION] = _go_json(
            [_status_to_v1(m) for m in st["currentMetrics"]])
    if st.get("conditions"):
        annotations[CONDITIONS_ANNOTATION] = _go_json(
            [_condition_to_v1(c) for c in st["conditions"]])
    if v2spec.get("behavior") is not None:
        annotations[BEHAVIOR_ANNOTATION] = _go_json(_behavior_to_internal(v2spec["behavior"]))
    _set_annotations(out, annotations)
    if "status" in obj:
        out["status"] = _v1_status(st)
    return out


def _v1_status(st: Obj) -> Obj:
    status = {k: v for k, v in st.items() if k not in ("currentMetrics", "conditions")}
    for m in st.get("currentMetrics") or []:
        res = m.get("resource") or {}
        if m.get("type") == "Resource" and res.get("name") == "cpu":
            cur = (res.get("current") or {}).get("averageUtilization")
            if cur is not None:
                status["currentCPUUtilizationPercentage"] = cur
    status.setdefault("currentReplicas", 0)
    status.setdefault("desiredReplicas", 0)
    return status


def _annotation_list(annotations: dict[str, str], key: str) -> list[Obj]:
    """A JSON list of objects kept in an annotation; [] when absent or malformed (upstream ignores those)."""
    try:
        value = orjson.loads(annotations.get(key) or "null")
    except orjson.JSONDecodeError:
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _set_annotations(out: Obj, annotations: dict[str, str]) -> None:
    meta = out.get("metadata")
    if not isinstance(meta, dict):
        if not annotations:
            return
        meta = {}
    meta = dict(meta)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta


# v2 MetricSpec/MetricStatus <-> v1's annotation shapes (upstream's Convert_* for each source type).


def _go_json(value: Any) -> str:
    """Go's json.Marshal text: compact, with <, > and & escaped."""
    text = orjson.dumps(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _put(out: Obj, key: str, value: Any) -> Obj:
    """Set an omitempty pointer field: only when present."""
    if value is not None:
        out[key] = value
    return out


def _ref_to_v1(ref: Obj) -> Obj:
    return _put({"kind": ref.get("kind", ""), "name": ref.get("name", "")}, "apiVersion", ref.get("apiVersion") or None)


_SOURCE_FIELDS = {"Object": "object", "Pods": "pods", "Resource": "resource", "ContainerResource": "containerResource",
                  "External": "external"}


def _v2_source(m: Obj) -> tuple[str, Obj | None]:
    """A v2 MetricSpec/MetricStatus's type and its source member (None when missing)."""
    kind = m.get("type", "")
    src = m.get(_SOURCE_FIELDS.get(kind, ""), None)
    return kind, src if isinstance(src, dict) else None


def _spec_to_v1(m: Obj) -> Obj:
    kind, src = _v2_source(m)
    out: Obj = {"type": kind}
    if src is None:
        return out
    target, metric = src.get("target") or {}, src.get("metric") or {}
    if kind in ("Resource", "ContainerResource"):
        v1 = _put(_put({"name": src.get("name", "")}, "targetAverageUtilization", target.get("averageUtilization")),
                  "targetAverageValue", target.get("averageValue"))
        if kind == "ContainerResource":
            v1["container"] = src.get("container", "")
        out["resource" if kind == "Resource" else "containerResource"] = v1
    elif kind == "Pods":
        out["pods"] = _put({"metricName": metric.get("name", ""), "targetAverageValue": target.get("averageValue") or "0"},
                           "selector", metric.get("selector"))
    elif kind == "Object":
        out["object"] = _put(_put({"target": _ref_to_v1(src.get("describedObject") or {}),
                                   "metricName": metric.get("name", ""), "targetValue": target.get("value") or "0"},
                                  "selector", metric.get("selector")), "averageValue", target.get("averageValue"))
    else:
        out["external"] = _put(_put(_put({"metricName": metric.get("name", "")}, "metricSelector",
                                         metric.get("selector")), "targetValue", target.get("value")),
                               "targetAverageValue", target.get("averageValue"))
    return out


def _identifier(name: Any, selector: Any) -> Obj:
    return _put({"name": name or ""}, "selector", selector)


def _spec_from_v1(m: Obj) -> Obj:
    kind = m.get("type", "")
    out: Obj = {"type": kind}
    if kind in ("Resource", "ContainerResource"):
        src = m.get("resource" if kind == "Resource" else "containerResource") or {}
        util = src.get("targetAverageUtilization")
        target = _put(_put({"type": "AverageValue" if util is None else "Utilization"}, "averageValue",
                           src.get("targetAverageValue")), "averageUtilization", util)
        v2: Obj = {"name": src.get("name", ""), "target": target}
        if kind == "ContainerResource":
            v2["container"] = src.get("container", "")
        out["resource" if kind == "Resource" else "containerResource"] = v2
    elif kind == "Pods":
        src = m.get("pods") or {}
        out["pods"] = {"metric": _identifier(src.get("metricName"), src.get("selector")),
                       "target": {"type": "AverageValue", "averageValue": src.get("targetAverageValue") or "0"}}
    elif kind == "Object":
        src = m.get("object") or {}
        avg = src.get("averageValue")
        out["object"] = {"describedObject": _ref_to_v1(src.get("target") or {}),
                         "target": _put({"type": "Value" if avg is None else "AverageValue",
                                         "value": src.get("targetValue") or "0"}, "averageValue", avg),
                         "metric": _identifier(src.get("metricName"), src.get("selector"))}
    elif kind == "External":
        src = m.get("external") or {}
        value = src.get("targetValue")
        out["external"] = {"metric": _identifier(src.get("metricName"), src.get("metricSelector")),
                           "target": _put(_put({"type": "AverageValue" if value is None else "Value"}, "value", value),
                                          "averageValue", src.get("targetAverageValue"))}
    return out


def _status_to_v1(m: Obj) -> Obj:
    kind, src = _v2_source(m)
    out: Obj = {"type": kind}
    if src is None:
        return out
    current, metric = src.get("current") or {}, src.get("metric") or {}
    if kind in ("Resource", "ContainerResource"):
        v1 = _put({"name": src.get("name", "")}, "currentAverageUtilization", current.get("averageUtilization"))
        v1["currentAverageValue"] = current.get("averageValue") or "0"
        if kind == "ContainerResource":
            v1["container"] = src.get("container", "")
        out["resource" if kind == "Resource" else "containerResource"] = v1
    elif kind == "Pods":
        out["pods"] = _put({"metricName": metric.get("name", ""),
                            "currentAverageValue": current.get("averageValue") or "0"}, "selector", metric.get("selector"))
    elif kind == "Object":
        out["object"] = _put(_put({"target": _ref_to_v1(src.get("describedObject") or {}),
                                   "metricName": metric.get("name", ""), "currentValue": current.get("value") or "0"},
                                  "selector", metric.get("selector")), "averageValue", current.get("averageValue"))
    else:
        out["external"] = _put(_put({"metricName": metric.get("name", "")}, "metricSelector", metric.get("selector")),
                               "currentValue", current.get("value") or "0")
        _put(out["external"], "currentAverageValue", current.get("averageValue"))
    return out


def _status_from_v1(m: Obj) -> Obj:
    kind = m.get("type", "")
    out: Obj = {"type": kind}
    if kind in ("Resource", "ContainerResource"):
        src = m.get("resource" if kind == "Resource" else "containerResource") or {}
        v2: Obj = {"name": src.get("name", ""), "current": _put(
            {"averageValue": src.get("currentAverageValue") or "0"}, "averageUtilization",
            src.get("currentAverageUtilization"))}
        if kind == "ContainerResource":
            v2["container"] = src.get("container", "")
        out["resource" if kind == "Resource" else "containerResource"] = v2
    elif kind == "Pods":
        src = m.get("pods") or {}
        out["pods"] = {"metric": _identifier(src.get("metricName"), src.get("selector")),
                       "current": {"averageValue": src.get("currentAverageValue") or "0"}}
    elif kind == "Object":
        src = m.get("object") or {}
        out["object"] = {"metric": _identifier(src.get("metricName"), src.get("selector")),
                         "current": _put({"value": src.get("currentValue") or "0"}, "averageValue",
                                         src.get("averageValue")),
                         "describedObject": _ref_to_v1(src.get("target") or {})}
    elif kind == "External":
        src = m.get("external") or {}
        out["external"] = {"metric": _identifier(src.get("metricName"), src.get("metricSelector")),
                           "current": _put({"value": src.get("currentValue") or "0"}, "averageValue",
                                           src.get("currentAverageValue"))}
    return out


def _condition_to_v1(c: Obj) -> Obj:
    out = {"type": c.get("type", ""), "status": c.get("status", ""), "lastTransitionTime": c.get("lastTransitionTime")}
    return _put(_put(out, "reason", c.get("reason") or None), "message", c.get("message") or None)


def _condition_from_v1(c: Obj) -> Obj:
    out = _put({"type": c.get("type", ""), "status": c.get("status", "")}, "lastTransitionTime",
               c.get("lastTransitionTime"))
    return _put(_put(out, "reason", c.get("reason") or None), "message", c.get("message") or None)


_RULES = (("stabilizationWindowSeconds", "StabilizationWindowSeconds"), ("selectPolicy", "SelectPolicy"))
_POLICY = (("type", "Type", ""), ("value", "Value", 0), ("periodSeconds", "PeriodSeconds", 0))


def _behavior_to_internal(behavior: Obj) -> Obj:
    """The internal HorizontalPodAutoscalerBehavior as Go marshals it: no json tags, so Go field names and nulls."""
    def rules(r: Any) -> Obj | None:
        if not isinstance(r, dict):
            return None
        out: Obj = {go: r.get(js) for js, go in _RULES}
        policies = r.get("policies")
        out["Policies"] = [{go: p.get(js, zero) for js, go, zero in _POLICY} for p in policies] if policies else None
        return out
    return {"ScaleUp": rules(behavior.get("scaleUp")), "ScaleDown": rules(behavior.get("scaleDown"))}


def _behavior_from_annotation(text: str | None) -> Obj | None:
    """Read the behavior annotation back (Go matches field names without regard to case); None if unusable."""
    try:
        raw = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(raw, dict):
        return None
    out: Obj = {}
    for js in ("scaleUp", "scaleDown"):
        r = _fold(raw).get(js.lower())
        if isinstance(r, dict):
            rf = _fold(r)
            rules = {k: rf[k.lower()] for k, _ in _RULES if rf.get(k.lower()) is not None}
            if isinstance(rf.get("policies"), list) and rf["policies"]:
                rules["policies"] = [{k: _fold(p).get(k.lower(), zero) for k, _, zero in _POLICY}
                                     for p in rf["policies"] if isinstance(p, dict)]
            out[js] = rules
    return out or None


def _fold(d: Obj) -> Obj:
    return {str(k).lower(): v for k, v in d.items()}


CONVERSIONS: dict[tuple[str, str, str], tuple[Convert, Convert]] = {
    # (group, version, kind) of the non-storage version -> (to storage, from storage)
    ("events.k8s.io", "v1", "Event"): (event_to_core, event_from_core),
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): (hpa_v1_to_v2, hpa_v2_to_v1),
}


class VersionedStore(ResourceStore):
    """A non-storage version: converts in and out of the storage version's store."""

    converts = True

    def __init__(self, resource: Resource, inner: ResourceStore) -> None:
        self.__dict__.update(inner.__dict__)
        self.inner = inner
        self.view = resource
        self.to_storage, self.from_storage = CONVERSIONS[(resource.group, resource.version, resource.kind)]
        name = schema.get_schema().name_for_gvk(resource.group, resource.version, resource.kind)
        assert name is not None
        self.view_definition = name
        self.resource = inner.resource

    def present(self, obj: Obj) -> Obj:
        if obj.get("kind") == "Status":
            return obj
        return self.from_storage(obj)

    def convert_in(self, obj: Any, ctx: RequestContext) -> Obj:
        if not isinstance(obj, dict):
            raise errors.bad_request("Object 'Kind' is missing")
        v = self.view
        if obj.get("apiVersion") not in (None, v.api_version) or obj.get("kind") not in (None, v.kind):
            raise errors.bad_request(f"the API version in the data ({obj.get('apiVersion')}) does not match the "
                                     f"expected API version ({v.api_version})")
        try:
            unknown = structural.decode(obj, self.view_definition, prune=True)
        except structural.TypeMismatch as e:
            raise self.cannot_handle(str(e)) from None
        self.handle_unknown(unknown, ctx)
        return self.to_storage(obj)

    async def create(self, namespace: str, obj: Obj, ctx: RequestContext) -> Obj:
        return await self.inner.create(namespace, self.convert_in(obj, ctx), ctx)

    async def update(self, namespace: str, name: str, obj: Obj, ctx: RequestContext, *,
                     subresource: str = "") -> tuple[Obj, bool]:
        return await self.inner.update(namespace, name, self.convert_in(obj, ctx), ctx, subresource=subresource)

    async def patch(self, namespace: str, name: str, patch_type: str, patch_body: Any, ctx: RequestContext, *,
                    subresource: str = "", force: bool = False) -> tuple[Obj, bool]:
        """Patches apply to the object as this version shows it, then take the storage path."""
        from pocketkube.apiserver import patching
        from pocketkube.apiserver.watchcache import Entry

        if patch_type == patching.APPLY_PATCH:
            raise errors.StatusError(415, "UnsupportedMediaType",
                                     f"server-side apply is served on {self.resource.group_version} only")
        view = _ViewNode(schema.get_schema().root(self.view_definition))

        async def transform(current: Entry | None) -> Obj:
            assert current is not None
            shown = self.present(current.copy())
            patched = patching.apply_patch(view, shown, patch_type, patch_body)  # type: ignore[arg-type]
            stored = self.convert_in(patched, ctx)
            self.inner.decode(stored, ctx)
            return stored

        return await self.inner.guaranteed_update(namespace, name, transform, ctx, subresource=subresource)


class _ViewNode:
    """What patching.apply_patch needs of a store: the schema node of the object it patches."""

    def __init__(self, node: schema.Node) -> None:
        self.node = node
