"""Defaulting of scheduling, discovery and apiextensions objects."""

from __future__ import annotations

from typing import Any

from pocketkube.api import structural

CRD = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"


def test_priority_class_preemption_policy() -> None:
    pc = {"value": 10}
    structural.apply_defaults(pc, "io.k8s.api.scheduling.v1.PriorityClass")
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"


def test_endpoint_slice_ports_and_conditions() -> None:
    eps: dict[str, Any] = {"addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"port": 80}]}
    structural.apply_defaults(eps, "io.k8s.api.discovery.v1.EndpointSlice")
    assert eps["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    assert eps["endpoints"][0]["conditions"] == {}


def test_crd_names_and_conversion() -> None:
    crd = {"spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget"}, "scope": "Namespaced",
                    "versions": [{"name": "v1", "served": True, "storage": True}]}}
    structural.apply_defaults(crd, CRD)
    assert crd["spec"]["names"] == {"plural": "widgets", "kind": "Widget", "singular": "widget", "listKind": "WidgetList"}
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    webhook: dict[str, Any] = {"spec": {"names": {"kind": "W"}, "conversion": {"strategy": "Webhook", "webhook": {
        "clientConfig": {"service": {"name": "s", "namespace": "n"}}, "conversionReviewVersions": ["v1"]}}}}
    structural.apply_defaults(webhook, CRD)
    assert webhook["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["port"] == 443
