"""rbac.authorization.k8s.io/v1 strategies: Role, ClusterRole, RoleBinding, ClusterRoleBinding.

Theory of operation: upstream pkg/apis/rbac/validation over JSON trees. Names
are path segments. Rules need verbs, and either resources with api groups or
(cluster roles only) non-resource URLs. Bindings reference a Role or
ClusterRole in the RBAC group, and `roleRef` can never change. Subjects are
ServiceAccounts (core group, namespace required in cluster bindings), Users or
Groups (RBAC group). RBAC objects have no status and no generation. The
privilege-escalation check (may the caller grant these permissions?) belongs to
authorization, not to these rules.
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.registry import govalue
from pocketkube.apiserver.strategy import NoStatusStrategy, Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import meta, names

Obj = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"


def policy_rule(rule: Obj, namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not rule.get("verbs"):
        errs.append(errors.required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs") or []
    if urls:
        if namespaced:
            errs.append(errors.invalid(f"{path}.nonResourceURLs", urls, "namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errs.append(errors.invalid(f"{path}.nonResourceURLs", urls,
                                       "rules cannot apply to both regular resources and non-resource URLs"))
        return errs
    if not rule.get("apiGroups"):
        errs.append(errors.required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    if not rule.get("resources"):
        errs.append(errors.required(f"{path}.resources", "resource rules must supply at least one resource"))
    return errs


def _rules(obj: Obj, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(obj.get("rules") or []):
        errs += policy_rule(rule, namespaced, f"rules[{i}]")
    return errs


def validate_cluster_role(obj: Obj) -> list[FieldError]:
    errs = _rules(obj, False)
    agg = obj.get("aggregationRule")
    if agg is not None:
        selectors = agg.get("clusterRoleSelectors") or []
        if not selectors:
            errs.append(errors.required("aggregationRule.clusterRoleSelectors",
                                        "at least one clusterRoleSelector required if aggregationRule is non-nil"))
        for i, sel in enumerate(selectors):
            errs += meta.validate_label_selector(sel, f"aggregationRule.clusterRoleSelectors[{i}]")
    return errs


def subject(s: Obj, namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name, kind, group = s.get("name", ""), s.get("kind", ""), s.get("apiGroup", "")
    if not name:
        errs.append(errors.required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            errs += [errors.invalid(f"{path}.name", name, m) for m in names.dns1123_subdomain_problems(name)]
        if group:
            errs.append(errors.not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not s.get("namespace"):
            errs.append(errors.required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != GROUP:
            errs.append(errors.not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        errs.append(errors.not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return errs


def validate_binding(obj: Obj, namespaced: bool) -> list[FieldError]:
    ref = obj.get("roleRef") or {}
    errs: list[FieldError] = []
    if ref.get("apiGroup", "") != GROUP:
        errs.append(errors.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.get("kind", "") not in kinds:
        errs.append(errors.not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    name = ref.get("name", "")
    if not name:
        errs.append(errors.required("roleRef.name"))
    else:
        errs += [errors.invalid("roleRef.name", name, m) for m in names.path_segment_problems(name)]
    for i, s in enumerate(obj.get("subjects") or []):
        errs += subject(s, namespaced, f"subjects[{i}]")
    return errs


def role_ref_text(ref: Obj) -> govalue.GoValue:
    return govalue.GoValue(f"rbac.RoleRef{{APIGroup:{govalue.quote(ref.get('apiGroup', ''))}, "
                           f"Kind:{govalue.quote(ref.get('kind', ''))}, Name:{govalue.quote(ref.get('name', ''))}}}")


class _RBACStrategy(NoStatusStrategy):
    name_rule = "path-segment"


class RoleStrategy(_RBACStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return _rules(obj, True)


class ClusterRoleStrategy(_RBACStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_cluster_role(obj)


class _BindingStrategy(_RBACStrategy):
    namespaced = True

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_binding(obj, self.namespaced)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = validate_binding(new, self.namespaced)
        ref, old_ref = new.get("roleRef") or {}, old.get("roleRef") or {}
        if ref != old_ref:
            errs.append(errors.invalid("roleRef", role_ref_text(ref), "cannot change roleRef"))
        return errs


class RoleBindingStrategy(_BindingStrategy):
    namespaced = True


class ClusterRoleBindingStrategy(_BindingStrategy):
    namespaced = False


STRATEGIES: dict[str, Strategy] = {
    "ClusterRole": ClusterRoleStrategy(),
    "ClusterRoleBinding": ClusterRoleBindingStrategy(),
    "Role": RoleStrategy(),
    "RoleBinding": RoleBindingStrategy(),
}
