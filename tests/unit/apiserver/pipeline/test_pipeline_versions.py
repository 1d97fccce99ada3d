"""Versions that share storage (events.k8s.io/v1 over core/v1, autoscaling/v1 over v2), end to end."""

from __future__ import annotations

from typing import Any

import pytest

from pocketkube.apiserver import patching
from pocketkube.apiserver.conversion import VersionedStore
from pocketkube.machinery.errors import StatusError


def hpa_v2(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 5, **spec}}


async def test_events_v1_are_stored_as_core_events(api: Any) -> None:
    store = api.store("events", "events.k8s.io")
    assert isinstance(store, VersionedStore)
    ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e1"},
          "eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "example.com/ctl",
          "reportingInstance": "ctl-1", "action": "Sync", "reason": "Synced", "type": "Normal", "note": "done",
          "regarding": {"kind": "Pod", "name": "web", "namespace": "default"}}
    created = await store.create("default", ev, api.ctx())
    await api.settle()
    core = await api.get("events", "e1")
    assert (core["apiVersion"], core["kind"]) == ("v1", "Event")
    assert core["message"] == "done"
    assert core["involvedObject"] == {"kind": "Pod", "name": "web", "namespace": "default"}
    assert core["reportingComponent"] == "example.com/ctl"
    shown = store.present(created)
    assert (shown["apiVersion"], shown["note"], shown["regarding"]["name"]) == ("events.k8s.io/v1", "done", "web")


async def test_versioned_store_rejects_the_wrong_type_meta(api: Any) -> None:
    store = api.store("events", "events.k8s.io")
    with pytest.raises(StatusError) as e:
        await store.create("default", {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "x"}}, api.ctx())
    assert e.value.code == 400
    with pytest.raises(StatusError) as e:
        await store.create("default", {"metadata": {"name": "x"}, "note": 5}, api.ctx())
    assert e.value.code == 400
    assert "cannot unmarshal number into Go struct field Event.note of type string" in e.value.message


async def test_hpa_v1_create_is_visible_as_v2(api: Any) -> None:
    v1 = api.store("horizontalpodautoscalers", "autoscaling", "v1")
    body = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "maxReplicas": 4, "targetCPUUtilizationPercentage": 60}}
    created = await v1.create("default", body, api.ctx())
    await api.settle()
    stored = await api.get("horizontalpodautoscalers", "web", group="autoscaling")
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]
    shown = v1.present(created)
    assert shown["spec"]["targetCPUUtilizationPercentage"] == 60
    assert shown["apiVersion"] == "autoscaling/v1"


async def test_hpa_v1_patch_applies_to_the_v1_view(api: Any) -> None:
    await api.create("horizontalpodautoscalers", hpa_v2(metrics=[{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]), group="autoscaling")
    v1 = api.store("horizontalpodautoscalers", "autoscaling", "v1")
    await v1.patch("default", "web", patching.MERGE_PATCH, {"spec": {"targetCPUUtilizationPercentage": 75}},
                            api.ctx())
    await api.settle()
    stored = await api.get("horizontalpodautoscalers", "web", group="autoscaling")
    assert stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 75
    with pytest.raises(StatusError) as e:
        await v1.patch("default", "web", patching.APPLY_PATCH, {}, api.ctx(field_manager="m"))
    assert e.value.code == 415


async def test_hpa_v1_update_keeps_v2_only_fields(api: Any) -> None:
    memory = {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                            "averageValue": "100Mi"}}}
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 60}}
    await api.create("horizontalpodautoscalers", hpa_v2(metrics=[memory], behavior=behavior), group="autoscaling")
    v1 = api.store("horizontalpodautoscalers", "autoscaling", "v1")
    shown = v1.present(await api.get("horizontalpodautoscalers", "web", group="autoscaling"))
    shown["spec"]["maxReplicas"] = 7
    await v1.update("default", "web", shown, api.ctx())
    await api.settle()
    stored = await api.get("horizontalpodautoscalers", "web", group="autoscaling")
    assert stored["spec"]["maxReplicas"] == 7
    assert stored["spec"]["metrics"] == [memory]
    assert stored["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 60
