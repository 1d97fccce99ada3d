"""Printers for rbac.authorization.k8s.io role bindings.

Theory of operation: ROLE is `Kind/name` of the roleRef; the wide USERS, GROUPS and
SERVICEACCOUNTS cells join the subjects of each kind with ", " (service accounts as
`namespace/name`; subjects of any other kind are dropped, as upstream's
SubjectsStrings puts them in a list the printer ignores). Roles and ClusterRoles have
no upstream printer and use the default table.
"""

from __future__ import annotations

from datetime import datetime

from pocketkube.apiserver.printers.columns import AGE, NAME, Cell, Obj, Printer, age, col, items, name_of, sub
from pocketkube.apiserver.printers.descriptions import doc


def _binding_row(obj: Obj, now: datetime) -> list[Cell]:
    ref = sub(obj, "roleRef")
    users: list[str] = []
    groups: list[str] = []
    sas: list[str] = []
    for s in items(obj, "subjects"):
        kind = s.get("kind")
        if kind == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
        elif kind == "User":
            users.append(str(s.get("name", "")))
        elif kind == "Group":
            groups.append(str(s.get("name", "")))
    return [
        name_of(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        age(obj, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(sas),
    ]


def _binding_printer(what: str, doc_key: str) -> Printer:
    return Printer(
        (
            NAME,
            col("Role", "string", doc(doc_key)),
            AGE,
            col("Users", "string", f"Users in the {what}", 1),
            col("Groups", "string", f"Groups in the {what}", 1),
            col("ServiceAccounts", "string", f"ServiceAccounts in the {what}", 1),
        ),
        _binding_row,
    )


ROLEBINDING = _binding_printer("roleBinding", "rbac/v1beta1.RoleBinding.roleRef")
CLUSTERROLEBINDING = _binding_printer("clusterRoleBinding", "rbac/v1beta1.ClusterRoleBinding.roleRef")
