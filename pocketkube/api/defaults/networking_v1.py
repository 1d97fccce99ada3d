"""networking.k8s.io/v1 defaults (upstream pkg/apis/networking/v1/defaults.go).

Theory of operation: NetworkPolicy ports default to TCP; a policy without
policyTypes gets ["Ingress"], plus "Egress" when it has egress rules; the
podSelector struct is always serialized, so an absent one reads `{}`.
IngressClass parameters default to cluster scope.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.defaults import defaults_for

Obj = dict[str, Any]


@defaults_for("io.k8s.api.networking.v1.NetworkPolicyPort")
def network_policy_port(obj: Obj) -> None:
    if obj.get("protocol") is None:
        obj["protocol"] = "TCP"


@defaults_for("io.k8s.api.networking.v1.NetworkPolicy")
def network_policy(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    if spec.get("podSelector") is None:
        spec["podSelector"] = {}
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])


@defaults_for("io.k8s.api.networking.v1.IngressClass")
def ingress_class(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    params = spec.get("parameters")
    if isinstance(params, dict) and params.get("scope") is None:
        params["scope"] = "Cluster"
