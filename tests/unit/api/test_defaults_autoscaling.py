"""autoscaling v2 and v1 defaulting."""

from __future__ import annotations

import copy
from typing import Any

from pocketkube.api import structural

V2 = "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"
REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}


def defaulted(obj: dict[str, Any], definition: str = V2) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    structural.decode(obj, definition)
    structural.apply_defaults(obj, definition)
    return obj


def test_v2_min_replicas_and_cpu_metric() -> None:
    spec = defaulted({"spec": {"scaleTargetRef": REF, "maxReplicas": 5}})["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    assert "behavior" not in spec


def test_v2_behavior_is_completed() -> None:
    spec = defaulted({"spec": {"scaleTargetRef": REF, "maxReplicas": 5,
                               "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}})["spec"]
    assert spec["behavior"] == {
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]},
        "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
            {"type": "Percent", "value": 100, "periodSeconds": 15}]},
    }


def test_v2_given_metrics_kept() -> None:
    metrics = [{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1"}}}]
    assert defaulted({"spec": {"metrics": metrics, "minReplicas": 0}})["spec"]["metrics"] == metrics


def test_v1_min_replicas() -> None:
    spec = defaulted({"spec": {"scaleTargetRef": REF, "maxReplicas": 3}},
                     "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler")["spec"]
    assert spec == {"scaleTargetRef": REF, "maxReplicas": 3, "minReplicas": 1}
