"""rbac.authorization.k8s.io/v1 defaults (upstream pkg/apis/rbac/v1/defaults.go).

Theory of operation: a binding's roleRef.apiGroup defaults to the RBAC group;
a subject's apiGroup defaults by kind: the RBAC group for User and Group, ""
(the core group, omitted on the wire) for ServiceAccount.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.defaults import defaults_for

Obj = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"


@defaults_for("io.k8s.api.rbac.v1.RoleBinding", "io.k8s.api.rbac.v1.ClusterRoleBinding")
def binding(obj: Obj) -> None:
    ref = obj.get("roleRef")
    if not isinstance(ref, dict):
        ref = obj["roleRef"] = {}
    if not ref.get("apiGroup"):
        ref["apiGroup"] = GROUP


@defaults_for("io.k8s.api.rbac.v1.Subject")
def subject(obj: Obj) -> None:
    if not obj.get("apiGroup") and obj.get("kind") in ("User", "Group"):
        obj["apiGroup"] = GROUP
