"""networking.k8s.io/v1 strategies: Ingress, IngressClass, NetworkPolicy."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pocketkube.api import structural
from pocketkube.apiserver.registry import networking

ING = networking.STRATEGIES["Ingress"]
IC = networking.STRATEGIES["IngressClass"]
NP = networking.STRATEGIES["NetworkPolicy"]
NET = "io.k8s.api.networking.v1."
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "protobuf" / "expected"
BACKEND = {"service": {"name": "web", "port": {"number": 80}}}


def ingress(*paths: dict[str, Any], **spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"kind": "Ingress", "metadata": {"name": "i", "namespace": "default"}, "spec": dict(spec)}
    if paths:
        obj["spec"]["rules"] = [{"host": "example.com", "http": {"paths": list(paths)}}]
    ING.prepare_for_create(obj)
    return obj


def msgs(strategy: Any, obj: dict[str, Any]) -> list[str]:
    return [str(e) for e in strategy.validate(obj)]


def test_kubectl_create_ingress_body() -> None:
    body = json.loads((FIXTURES / "ingress.json").read_text())
    body["metadata"]["namespace"] = "default"
    structural.apply_defaults(body, NET + "Ingress")
    ING.prepare_for_create(body)
    assert msgs(ING, body) == []
    assert body["status"] == {"loadBalancer": {}} and body["metadata"]["generation"] == 1


@pytest.mark.parametrize(("path", "expected"), [
    ({"path": "/", "backend": BACKEND},
     ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"]),
    ({"path": "/", "pathType": "Regex", "backend": BACKEND},
     ['spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", '
      '"ImplementationSpecific", "Prefix"']),
    ({"path": "api//v1/..", "pathType": "Prefix", "backend": BACKEND},
     ['spec.rules[0].http.paths[0].path: Invalid value: "api//v1/..": must be an absolute path',
      "spec.rules[0].http.paths[0].path: Invalid value: \"api//v1/..\": must not contain '//'",
      "spec.rules[0].http.paths[0].path: Invalid value: \"api//v1/..\": cannot end with '/..'"]),
    ({"path": "/", "pathType": "Prefix", "backend": {}},
     ['spec.rules[0].http.paths[0].backend: Invalid value: "": resource or service backend is required']),
    ({"path": "/", "pathType": "Exact", "backend": {"service": {"name": "Web", "port": {}}}},
     ['spec.rules[0].http.paths[0].backend.service.name: Invalid value: "Web": a DNS-1035 label must consist of lower '
      "case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric "
      "character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
      "spec.rules[0].http.paths[0].backend: Required value: port name or number is required"]),
])
def test_ingress_path_errors(path: dict[str, Any], expected: list[str]) -> None:
    assert msgs(ING, ingress(path)) == expected


def test_ingress_needs_rules_or_default_backend_and_checks_hosts() -> None:
    assert msgs(ING, ingress()) == [
        "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"]
    obj = ingress({"path": "/", "pathType": "Prefix", "backend": BACKEND})
    obj["spec"]["rules"][0]["host"] = "10.0.0.1"
    assert msgs(ING, obj)[0] == 'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'
    obj["spec"]["rules"][0]["host"] = "*.example.com"
    assert msgs(ING, obj) == []


def test_ingress_class_annotation_mismatch_and_status() -> None:
    obj = ingress(defaultBackend=BACKEND, ingressClassName="nginx")
    obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "traefik"}
    assert msgs(ING, obj) == ['annotations.kubernetes.io/ingress.class: Invalid value: "traefik": must match '
                              "`ingressClassName` when both are specified"]
    new = copy.deepcopy(obj)
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "nope"}]}}
    assert [str(e) for e in ING.validate_status_update(new, obj)] == [
        'status.loadBalancer.ingress[0].ip: Invalid value: "nope": must be a valid IP address']


def test_ingress_class() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx",
                                                   "parameters": {"kind": "C", "name": "n", "scope": "Namespace"}}}
    IC.prepare_for_create(obj)
    assert "status" not in obj and obj["metadata"]["generation"] == 1
    assert msgs(IC, obj) == ["spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"]
    bad = {"metadata": {"name": "x"}, "spec": {"controller": "nginx"}}
    assert msgs(IC, bad) == ['spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")']
    new = copy.deepcopy(obj)
    new["spec"]["controller"] = "example.com/other"
    assert next(str(e) for e in IC.validate_update(new, obj)) == (
        'spec.controller: Invalid value: "example.com/other": field is immutable')


def test_network_policy() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "np", "namespace": "d"},
           "spec": {"ingress": [{"ports": [{"port": 70000}, {"port": "http", "endPort": 90}],
                                 "from": [{}, {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]},
                                               "podSelector": {}}]}],
                    "policyTypes": ["Ingress", "Egress", "Ingress"]}}
    structural.apply_defaults(obj, NET + "NetworkPolicy")
    NP.prepare_for_create(obj)
    assert obj["metadata"]["generation"] == 1 and "status" not in obj
    assert msgs(NP, obj) == [
        "spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "spec.ingress[0].ports[1].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
        "spec.ingress[0].from[0]: Required value: must specify a peer",
        'spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "11.0.0.0/16": must be a strict subset of `cidr`',
        "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
        'spec.policyTypes: Invalid value: []networking.PolicyType{"Ingress", "Egress", "Ingress"}: '
        "may not specify more than two policyTypes",
    ]
    ok: dict[str, Any] = {"metadata": {"name": "np"}, "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                                               "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8",
                                                                                  "except": ["10.1.0.0/16"]}}]}]}}
    structural.apply_defaults(ok, NET + "NetworkPolicy")
    assert msgs(NP, ok) == []
