"""Versions that share storage with another version of the same kind.

Theory of operation: core/v1 Events are the storage form of events.k8s.io/v1
Events, and autoscaling/v2 HorizontalPodAutoscalers the storage form of
autoscaling/v1 ones. A `VersionedStore` wraps the storage version's store:
incoming objects are decoded against their own version's schema, converted to
the storage version and then take the ordinary pipeline; outgoing objects are
converted back (`present`). Each pair is two pure functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


def event_to_core(obj: Obj) -> Obj:
    out: Obj = {"kind": "Event", "apiVersion": "v1"}
    for key in _EVENT_SAME:
        if key in obj:
            out[key] = obj[key]
    for new, old in _EVENT_RENAMES:
        if new in obj:
            out[old] = obj[new]
    if "series" in out:
        series = dict(out["series"])
        out["series"] = {"count": series.get("count", 0), "lastObservedTime": series.get("lastObservedTime")}
    return out


def event_from_core(obj: Obj) -> Obj:
    out: Obj = {"kind": "Event", "apiVersion": "events.k8s.io/v1"}
    for key in _EVENT_SAME:
        if key in obj:
            out[key] = obj[key]
    for new, old in _EVENT_RENAMES:
        if old in obj:
            out[new] = obj[old]
    if "eventTime" not in out:
        out["eventTime"] = None
    return out


# --- autoscaling/v1 <-> autoscaling/v2 ---------------------------------------------------


def hpa_v1_to_v2(obj: Obj) -> Obj:
    out = {k: v for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = "autoscaling/v2"
    spec = dict(obj.get("spec") or {})
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}]
    out["spec"] = spec
    status = dict(obj.get("status") or {})
    current = status.pop("currentCPUUtilizationPercentage", None)
    if current is not None:
        status["currentMetrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": current}}}]
    if "status" in obj:
        out["status"] = status
    return out


def hpa_v2_to_v1(obj: Obj) -> Obj:
    out = {k: v for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = "autoscaling/v1"
    spec = {k: v for k, v in (obj.get("spec") or {}).items() if k not in ("metrics", "behavior")}
    for m in (obj.get("spec") or {}).get("metrics") or []:
        res = m.get("resource") or {}
        if m.get("type") == "Resource" and res.get("name") == "cpu":
            util = (res.get("target") or {}).get("averageUtilization")
            if util is not None:
                spec["targetCPUUtilizationPercentage"] = util
    out["spec"] = spec
    if "status" in obj:
        st = obj["status"] or {}
        status = {k: v for k, v in st.items() if k not in ("currentMetrics", "conditions")}
        for m in st.get("currentMetrics") or []:
            res = m.get("resource") or {}
            if m.get("type") == "Resource" and res.get("name") == "cpu":
                cur = (res.get("current") or {}).get("averageUtilization")
                if cur is not None:
                    status["currentCPUUtilizationPercentage"] = cur
        status.setdefault("currentReplicas", 0)
        status.setdefault("desiredReplicas", 0)
        out["status"] = status
    return out


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
