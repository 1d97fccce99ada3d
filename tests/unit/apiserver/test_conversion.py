"""conversion: events.k8s.io/v1 <-> core/v1 Events and autoscaling v1 <-> v2 HPAs (pure functions)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pocketkube.apiserver import conversion

EVENTS_V1: dict[str, Any] = {
    "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"},
    "eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "kubelet", "reportingInstance": "node-1",
    "action": "Pulling", "reason": "Pulling", "regarding": {"kind": "Pod", "name": "web", "namespace": "default"},
    "related": {"kind": "Node", "name": "node-1"}, "note": "Pulling image", "type": "Normal",
    "series": {"count": 2, "lastObservedTime": "2024-01-01T00:00:05.000000Z"},
    "deprecatedSource": {"component": "kubelet", "host": "node-1"},
    "deprecatedFirstTimestamp": "2024-01-01T00:00:00Z", "deprecatedLastTimestamp": "2024-01-01T00:00:05Z",
    "deprecatedCount": 3,
}

CORE: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"}, "reason": "Started",
    "message": "Started container web", "source": {"component": "kubelet", "host": "node-1"},
    "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:01:00Z", "count": 4,
    "type": "Normal", "reportingComponent": "kubelet", "reportingInstance": "node-1",
}

HPA_V1: dict[str, Any] = {
    "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
             "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 80},
    "status": {"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 55},
}


def cpu_metric(utilization: int) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                        "averageUtilization": utilization}}}


def test_event_to_core_renames() -> None:
    core = conversion.event_to_core(copy.deepcopy(EVENTS_V1))
    assert (core["apiVersion"], core["kind"]) == ("v1", "Event")
    assert core["involvedObject"] == EVENTS_V1["regarding"]
    assert core["message"] == "Pulling image"
    assert core["source"] == {"component": "kubelet", "host": "node-1"}
    assert (core["firstTimestamp"], core["lastTimestamp"], core["count"]) == (
        "2024-01-01T00:00:00Z", "2024-01-01T00:00:05Z", 3)
    assert core["reportingComponent"] == "kubelet"
    assert core["series"] == {"count": 2, "lastObservedTime": "2024-01-01T00:00:05.000000Z"}
    for same in ("metadata", "eventTime", "action", "reason", "related", "reportingInstance", "type"):
        assert core[same] == EVENTS_V1[same]
    assert not {"regarding", "note", "deprecatedSource", "reportingController"} & set(core)


def test_event_round_trips() -> None:
    assert conversion.event_from_core(conversion.event_to_core(copy.deepcopy(EVENTS_V1))) == EVENTS_V1
    # core/v1 shows a zero eventTime as null too (MicroTime marshals its zero value as null)
    assert conversion.event_to_core(conversion.event_from_core(copy.deepcopy(CORE))) == {**CORE, "eventTime": None}


def test_core_event_shown_as_events_v1() -> None:
    ev = conversion.event_from_core(copy.deepcopy(CORE))
    assert (ev["apiVersion"], ev["kind"]) == ("events.k8s.io/v1", "Event")
    assert ev["regarding"] == CORE["involvedObject"]
    assert ev["note"] == "Started container web"
    assert ev["deprecatedCount"] == 4
    assert ev["reportingController"] == "kubelet"
    assert ev["eventTime"] is None  # events.k8s.io/v1 always shows eventTime


def test_hpa_v1_to_v2() -> None:
    v2 = conversion.hpa_v1_to_v2(copy.deepcopy(HPA_V1))
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"] == {"scaleTargetRef": HPA_V1["spec"]["scaleTargetRef"], "minReplicas": 1, "maxReplicas": 5,
                          "metrics": [cpu_metric(80)]}
    assert v2["status"] == {"currentReplicas": 2, "desiredReplicas": 3, "currentMetrics": [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 55}}}]}


def test_hpa_v1_round_trip() -> None:
    v1 = conversion.hpa_v2_to_v1(conversion.hpa_v1_to_v2(copy.deepcopy(HPA_V1)))
    # Upstream keeps every current metric in an annotation, the CPU one included (with its raw value, "0" here).
    annotations = v1["metadata"].pop("annotations")
    assert annotations == {conversion.CURRENT_METRICS_ANNOTATION:
                           '[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":55,'
                           '"currentAverageValue":"0"}}]'}
    assert v1 == HPA_V1
    no_status = {k: v for k, v in HPA_V1.items() if k != "status"}
    no_status["spec"] = {k: v for k, v in HPA_V1["spec"].items() if k != "targetCPUUtilizationPercentage"}
    # v1's implicit default is made explicit by the conversion: 80% CPU.
    v2 = conversion.hpa_v1_to_v2(copy.deepcopy(no_status))
    assert v2["spec"]["metrics"] == [cpu_metric(80)]
    back = conversion.hpa_v2_to_v1(v2)
    assert back == {**no_status, "spec": {**no_status["spec"], "targetCPUUtilizationPercentage": 80}}


def test_hpa_v2_to_v1_picks_the_cpu_utilization() -> None:
    v2 = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3,
                   "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {
                       "type": "AverageValue", "averageValue": "100Mi"}}}, cpu_metric(70)],
                   "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
          "status": {"conditions": [{"type": "AbleToScale", "status": "True"}]}}
    v1 = conversion.hpa_v2_to_v1(v2)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"] == {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3,
                          "targetCPUUtilizationPercentage": 70}
    assert v1["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    # What v1 cannot show is kept in annotations, in upstream's shapes: v1 MetricSpecs, v1 conditions (a zero
    # lastTransitionTime is null) and the internal behavior type marshalled with Go field names.
    assert v1["metadata"]["annotations"] == {
        conversion.METRICS_ANNOTATION: '[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"100Mi"}}]',
        conversion.CONDITIONS_ANNOTATION: '[{"type":"AbleToScale","status":"True","lastTransitionTime":null}]',
        conversion.BEHAVIOR_ANNOTATION: '{"ScaleUp":null,"ScaleDown":{"StabilizationWindowSeconds":60,'
                                        '"SelectPolicy":null,"Policies":null}}',
    }


def test_hpa_v2_round_trip_through_v1() -> None:
    memory = {"type": "Resource", "resource": {"name": "memory", "target": {
        "type": "AverageValue", "averageValue": "100Mi"}}}
    v2: dict[str, Any] = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "annotations": {"keep": "me"}},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3,
                 "metrics": [cpu_metric(70), memory],
                 "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60, "policies": [
                     {"type": "Pods", "value": 4, "periodSeconds": 15}]}}},
        "status": {"currentMetrics": [{"type": "Pods", "pods": {"metric": {"name": "qps"},
                                                                "current": {"averageValue": "10"}}}],
                   "conditions": [{"type": "ScalingActive", "status": "False", "reason": "Why",
                                   "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}
    back = conversion.hpa_v1_to_v2(conversion.hpa_v2_to_v1(copy.deepcopy(v2)))
    # Upstream puts the metrics read from the annotation first and the CPU target last.
    assert back["spec"]["metrics"] == [memory, cpu_metric(70)]
    assert back["spec"]["behavior"] == v2["spec"]["behavior"]
    assert back["status"]["currentMetrics"] == v2["status"]["currentMetrics"]
    assert back["status"]["conditions"] == v2["status"]["conditions"]
    assert back["metadata"]["annotations"] == {"keep": "me"}


@pytest.mark.parametrize("metric,v1", [
    ({"type": "Pods", "pods": {"metric": {"name": "qps", "selector": {"matchLabels": {"a": "b"}}},
                               "target": {"type": "AverageValue", "averageValue": "1k"}}},
     {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "1k", "selector": {"matchLabels": {"a": "b"}}}}),
    ({"type": "Object", "object": {"describedObject": {"kind": "Ingress", "name": "main", "apiVersion": "networking.k8s.io/v1"},
                                   "target": {"type": "Value", "value": "2k"}, "metric": {"name": "rps"}}},
     {"type": "Object", "object": {"target": {"kind": "Ingress", "name": "main", "apiVersion": "networking.k8s.io/v1"},
                                   "metricName": "rps", "targetValue": "2k"}}),
    ({"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "AverageValue",
                                                                              "averageValue": "30"}}},
     {"type": "External", "external": {"metricName": "queue", "targetAverageValue": "30"}}),
    ({"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "target": {
        "type": "Utilization", "averageUtilization": 60}}},
     {"type": "ContainerResource", "containerResource": {"name": "cpu", "targetAverageUtilization": 60,
                                                         "container": "app"}}),
])
def test_hpa_metric_sources_round_trip_through_v1_shapes(metric: dict[str, Any], v1: dict[str, Any]) -> None:
    assert conversion._spec_to_v1(metric) == v1
    assert conversion._spec_from_v1(v1) == metric


def test_hpa_v1_ignores_malformed_round_trip_annotations() -> None:
    obj = copy.deepcopy(HPA_V1)
    obj["metadata"]["annotations"] = {conversion.METRICS_ANNOTATION: "{not json",
                                      conversion.BEHAVIOR_ANNOTATION: "[]"}
    v2 = conversion.hpa_v1_to_v2(obj)
    assert v2["spec"]["metrics"] == [cpu_metric(80)]
    assert "behavior" not in v2["spec"]
    assert "annotations" not in v2["metadata"]


def test_conversion_table() -> None:
    assert conversion.CONVERSIONS[("events.k8s.io", "v1", "Event")] == (conversion.event_to_core,
                                                                         conversion.event_from_core)
    assert conversion.CONVERSIONS[("autoscaling", "v1", "HorizontalPodAutoscaler")] == (conversion.hpa_v1_to_v2,
                                                                                         conversion.hpa_v2_to_v1)
