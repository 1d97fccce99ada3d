"""HorizontalPodAutoscaler strategy (v2 storage shape)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pocketkube.api import structural
from pocketkube.apiserver.registry import autoscaling

HPA = autoscaling.STRATEGIES["HorizontalPodAutoscaler"]
V2 = "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"
REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}


def hpa(**spec: Any) -> dict[str, Any]:
    obj = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "web", "namespace": "default"},
           "spec": {"scaleTargetRef": copy.deepcopy(REF), "maxReplicas": 5, **spec}}
    structural.apply_defaults(obj, V2)
    HPA.prepare_for_create(obj)
    return obj


def msgs(obj: dict[str, Any]) -> list[str]:
    return [str(e) for e in HPA.validate(obj)]


def test_valid_hpa_status_and_no_generation() -> None:
    obj = hpa()
    assert msgs(obj) == [] and obj["status"] == {"desiredReplicas": 0} and "generation" not in obj["metadata"]


@pytest.mark.parametrize(("spec", "expected"), [
    ({"minReplicas": 0}, ["spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                          "spec.metrics: Forbidden: must specify at least one Object or External metric to support "
                          "scaling to zero replicas"]),
    ({"maxReplicas": 0, "minReplicas": 1}, ["spec.maxReplicas: Invalid value: 0: must be greater than 0",
                                            "spec.maxReplicas: Invalid value: 0: must be greater than or equal to "
                                            "`minReplicas`"]),
    ({"scaleTargetRef": {"kind": "", "name": "a/b"}},
     ["spec.scaleTargetRef.kind: Required value", "spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'"]),
    ({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}]},
     ["spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a "
      "target utilization"]),
    ({"metrics": [{"type": "Pods", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]},
     ["spec.metrics[0].pods: Required value: must populate information for the given metric source"]),
    ({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                   "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1"}}}]},
     ["spec.metrics[0].pods: Forbidden: must populate the given metric source only"]),
    ({"metrics": [{"type": "External", "external": {"metric": {"name": "q"},
                                                    "target": {"type": "Value", "value": "0"}}}]},
     ['spec.metrics[0].external.target.value: Invalid value: "0": must be positive']),
    ({"behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 1801}]}}},
     ["spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
      "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800"]),
])
def test_hpa_errors(spec: dict[str, Any], expected: list[str]) -> None:
    assert msgs(hpa(**spec)) == expected


def test_hpa_update_keeps_status_and_allows_existing_zero_min() -> None:
    old = hpa()
    old["status"] = {"desiredReplicas": 3, "currentReplicas": 3}
    new = copy.deepcopy(old)
    new["spec"]["maxReplicas"] = 9
    new["status"] = {}
    HPA.prepare_for_update(new, old)
    assert new["status"] == old["status"] and "generation" not in new["metadata"]
    old["spec"]["minReplicas"] = 0
    new["spec"]["minReplicas"] = 0
    assert [str(e) for e in HPA.validate_update(new, old)] == [
        "spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas"]
