"""networking.k8s.io/v1 defaulting."""

from __future__ import annotations

from typing import Any

from pocketkube.api import structural

NET = "io.k8s.api.networking.v1."


def defaulted(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    structural.decode(obj, NET + kind)
    structural.apply_defaults(obj, NET + kind)
    return obj


def test_network_policy_types_and_ports() -> None:
    np = defaulted({"spec": {"ingress": [{"ports": [{"port": 80}]}]}}, "NetworkPolicy")["spec"]
    assert np["policyTypes"] == ["Ingress"]
    assert np["podSelector"] == {}
    assert np["ingress"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    eg = defaulted({"spec": {"podSelector": {}, "egress": [{}]}}, "NetworkPolicy")["spec"]
    assert eg["policyTypes"] == ["Ingress", "Egress"]
    given = defaulted({"spec": {"policyTypes": ["Egress"], "egress": [{}]}}, "NetworkPolicy")["spec"]
    assert given["policyTypes"] == ["Egress"]


def test_ingress_class_parameters_scope() -> None:
    ic = defaulted({"spec": {"controller": "k8s.io/x", "parameters": {"kind": "K", "name": "n"}}}, "IngressClass")
    assert ic["spec"]["parameters"]["scope"] == "Cluster"
    assert "parameters" not in defaulted({"spec": {"controller": "k8s.io/x"}}, "IngressClass")["spec"]


def test_ingress_has_no_path_type_default() -> None:
    ing = defaulted({"spec": {"rules": [{"http": {"paths": [{"path": "/", "backend": {}}]}}]}}, "Ingress")
    assert "pathType" not in ing["spec"]["rules"][0]["http"]["paths"][0]
