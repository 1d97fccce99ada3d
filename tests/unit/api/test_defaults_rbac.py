"""rbac.authorization.k8s.io/v1 defaulting."""

from __future__ import annotations

from typing import Any

from pocketkube.api import structural

RBAC = "io.k8s.api.rbac.v1."
GROUP = "rbac.authorization.k8s.io"


def test_binding_role_ref_and_subject_groups() -> None:
    rb: dict[str, Any] = {"roleRef": {"kind": "Role", "name": "r"},
          "subjects": [{"kind": "User", "name": "u"}, {"kind": "Group", "name": "g"},
                       {"kind": "ServiceAccount", "name": "sa", "namespace": "default"}]}
    structural.apply_defaults(rb, RBAC + "RoleBinding")
    assert rb["roleRef"]["apiGroup"] == GROUP
    assert [s.get("apiGroup") for s in rb["subjects"]] == [GROUP, GROUP, None]
    crb = {"roleRef": {"apiGroup": "other", "kind": "ClusterRole", "name": "c"}}
    structural.apply_defaults(crb, RBAC + "ClusterRoleBinding")
    assert crb["roleRef"]["apiGroup"] == "other"
