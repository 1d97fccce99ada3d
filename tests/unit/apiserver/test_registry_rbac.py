"""rbac.authorization.k8s.io/v1 strategies."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pocketkube.api import structural
from pocketkube.apiserver.registry import rbac

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "protobuf" / "expected"
GROUP = "rbac.authorization.k8s.io"


def msgs(kind: str, obj: dict[str, Any]) -> list[str]:
    return [str(e) for e in rbac.STRATEGIES[kind].validate(obj)]


@pytest.mark.parametrize(("fixture", "kind"), [("role", "Role"), ("rolebinding", "RoleBinding"),
                                                ("clusterrole", "ClusterRole"), ("clusterrole_agg", "ClusterRole"),
                                                ("clusterrolebinding", "ClusterRoleBinding")])
def test_kubectl_create_bodies_are_valid(fixture: str, kind: str) -> None:
    body = json.loads((FIXTURES / f"{fixture}.json").read_text())
    structural.decode(body, f"io.k8s.api.rbac.v1.{kind}")
    structural.apply_defaults(body, f"io.k8s.api.rbac.v1.{kind}")
    rbac.STRATEGIES[kind].prepare_for_create(body)
    assert "status" not in body and "generation" not in body["metadata"]
    assert msgs(kind, body) == []


def test_rule_errors() -> None:
    role = {"metadata": {"name": "r"}, "rules": [{"apiGroups": [""]}, {"verbs": ["get"], "nonResourceURLs": ["/x"]}]}
    assert msgs("Role", role) == [
        "rules[0].verbs: Required value: verbs must contain at least one value",
        "rules[0].resources: Required value: resource rules must supply at least one resource",
        'rules[1].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot apply to non-resource URLs',
    ]
    cr = {"metadata": {"name": "c"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"], "resources": ["pods"]}],
          "aggregationRule": {}}
    assert msgs("ClusterRole", cr) == [
        'rules[0].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to both regular resources and '
        "non-resource URLs",
        "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if "
        "aggregationRule is non-nil",
    ]
    assert rbac.STRATEGIES["Role"].name_rule == "path-segment"


def test_binding_errors() -> None:
    crb = {"metadata": {"name": "b"}, "roleRef": {"apiGroup": GROUP, "kind": "Role", "name": ""},
           "subjects": [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "User", "name": "u", "apiGroup": "x"},
                        {"kind": "Robot", "name": "r"}]}
    assert msgs("ClusterRoleBinding", crb) == [
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
        "roleRef.name: Required value",
        "subjects[0].namespace: Required value",
        f'subjects[1].apiGroup: Unsupported value: "x": supported values: "{GROUP}"',
        'subjects[2].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
    ]


def test_role_ref_cannot_change() -> None:
    old = {"metadata": {"name": "b", "namespace": "d"}, "roleRef": {"apiGroup": GROUP, "kind": "Role", "name": "r1"}}
    new = copy.deepcopy(old)
    new["roleRef"]["name"] = "r2"
    rbac.STRATEGIES["RoleBinding"].prepare_for_update(new, old)
    assert [str(e) for e in rbac.STRATEGIES["RoleBinding"].validate_update(new, old)] == [
        f'roleRef: Invalid value: rbac.RoleRef{{APIGroup:"{GROUP}", Kind:"Role", Name:"r2"}}: cannot change roleRef']
