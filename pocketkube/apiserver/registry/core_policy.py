"""LimitRanges, ResourceQuotas and ReplicationControllers (core/v1): validation and strategies (upstream v1.32).

Theory of operation: LimitRange items are checked per limit type (resource
names, then the min <= defaultRequest <= default <= max ordering and the
limit/request ratio); ResourceQuota hard limits must be quota resources with
non-negative (integral where countable) quantities, scopes must fit the
resources they apply to and never change; a ReplicationController needs a
non-empty selector matching its template's labels, an Always restart policy and
non-negative counts. RCs track metadata.generation and start with status
{replicas: 0}; quotas start with an empty status.
"""

from __future__ import annotations

import uuid
from typing import Any

from pocketkube.api import quantity
from pocketkube.apiserver.registry import core_checks as chk
from pocketkube.apiserver.registry import core_pods
from pocketkube.apiserver.registry.core_checks import Errs
from pocketkube.apiserver.strategy import NoStatusStrategy, Obj, Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError

LIMIT_TYPES = ("Pod", "Container", "PersistentVolumeClaim")
QUOTA_SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
                "CrossNamespacePodAffinity")
_POD_COMPUTE = {"pods", "cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"}


def go_quantity(q: quantity.Quantity) -> chk.GoRepr:
    """Go's %#v of a resource.Quantity value (upstream passes Quantities by value to field.Invalid)."""
    value, scale = q.value, 0
    while value.denominator != 1:
        value *= 10
        scale -= 1
    mantissa = int(value)
    while mantissa and mantissa % 10 == 0 and scale < 0:
        mantissa //= 10
        scale += 1
    return chk.GoRepr(f"resource.Quantity{{i:resource.int64Amount{{value:{mantissa}, scale:{scale}}}, "
                      f'd:resource.infDecAmount{{Dec:(*inf.Dec)(nil)}}, s:"{q}", Format:"{q.format}"}}')


# --- LimitRange -------------------------------------------------------------------


def validate_limit_range(lr: Obj) -> Errs:
    errs: Errs = []
    seen: set[str] = set()
    for i, item in enumerate((lr.get("spec") or {}).get("limits") or []):
        p = f"spec.limits[{i}]"
        kind = item.get("type") or ""
        errs += _limit_type(kind, f"{p}.type")
        if kind in seen:
            errs.append(errors.duplicate(f"{p}.type", kind))
        seen.add(kind)
        errs += _limit_item(item, kind, p)
    return errs


def _limit_type(kind: str, path: str) -> Errs:
    errs = chk.check_qualified_name(kind, path)
    if not errs and "/" not in kind and kind not in LIMIT_TYPES:
        errs.append(errors.invalid(path, kind, "must be a standard limit type or fully qualified"))
    return errs


def _limit_item(item: Obj, kind: str, p: str) -> Errs:
    errs: Errs = []
    check = chk.check_container_resource_name if kind in ("Pod", "Container") else chk.check_resource_name
    lists: dict[str, dict[str, quantity.Quantity]] = {}
    sections = ["max", "min"]
    if kind == "Pod":
        for key in ("default", "defaultRequest"):
            if item.get(key):
                errs.append(errors.forbidden(f"{p}.{key}", "may not be specified when `type` is 'Pod'"))
    else:
        sections += ["default", "defaultRequest"]
    for section in sections + ["maxLimitRequestRatio"]:
        lists[section] = {}
        for name, value in (item.get(section) or {}).items():
            errs += check(name, f"{p}.{section}[{name}]")
            q = chk.parse_q(value)
            if q is not None:
                lists[section][name] = q
    if kind == "PersistentVolumeClaim" and "storage" not in lists["min"] and "storage" not in lists["max"]:
        errs.append(errors.required(f"{p}.limits", "either minimum or maximum storage value is required, but neither "
                                                   "was provided"))
    keys = {k for section in lists.values() for k in section}
    for key in sorted(keys):
        errs += _limit_ordering(key, {s: v.get(key) for s, v in lists.items()}, p)
    return errs


def _limit_ordering(k: str, q: dict[str, quantity.Quantity | None], p: str) -> Errs:
    errs: Errs = []
    lo, hi, dflt, req, ratio = q.get("min"), q.get("max"), q.get("default"), q.get("defaultRequest"), \
        q.get("maxLimitRequestRatio")
    if lo is not None and hi is not None and lo > hi:
        errs.append(errors.invalid(f"{p}.min[{k}]", go_quantity(lo), f"min value {lo} is greater than max value {hi}"))
    if req is not None and lo is not None and lo > req:
        errs.append(errors.invalid(f"{p}.defaultRequest[{k}]", go_quantity(req),
                                   f"min value {lo} is greater than default request value {req}"))
    if req is not None and hi is not None and req > hi:
        errs.append(errors.invalid(f"{p}.defaultRequest[{k}]", go_quantity(req),
                                   f"default request value {req} is greater than max value {hi}"))
    if req is not None and dflt is not None and req > dflt:
        errs.append(errors.invalid(f"{p}.defaultRequest[{k}]", go_quantity(req),
                                   f"default request value {req} is greater than default limit value {dflt}"))
    if dflt is not None and lo is not None and lo > dflt:
        errs.append(errors.invalid(f"{p}.default[{k}]", go_quantity(lo), f"min value {lo} is greater than default "
                                                                         f"value {dflt}"))
    if dflt is not None and hi is not None and dflt > hi:
        errs.append(errors.invalid(f"{p}.default[{k}]", go_quantity(hi), f"default value {dflt} is greater than max "
                                                                         f"value {hi}"))
    if ratio is not None and ratio.value < 1:
        errs.append(errors.invalid(f"{p}.maxLimitRequestRatio[{k}]", go_quantity(ratio), f"ratio {ratio} is less than 1"))
    if ratio is not None and lo is not None and hi is not None and lo.value > 0 and ratio.value > hi.value / lo.value:
        limit = float(hi.value / lo.value)
        errs.append(errors.invalid(f"{p}.maxLimitRequestRatio[{k}]", go_quantity(ratio),
                                   f"ratio {ratio} is greater than max/min = {limit:f}"))
    if not chk.overcommit_allowed(k) and dflt is not None and req is not None and dflt != req:
        errs.append(errors.invalid(f"{p}.defaultRequest[{k}]", go_quantity(req),
                                   f"default value {dflt} must equal to defaultRequest value {req} in {k}"))
    return errs


class LimitRangeStrategy(NoStatusStrategy):
    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        md = obj.setdefault("metadata", {})
        if not md.get("name") and not md.get("generateName"):
            md["name"] = str(uuid.uuid4())

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_limit_range(obj)


# --- ResourceQuota ----------------------------------------------------------------


def _scope_valid_for(scope: str, resource: str) -> bool:
    if scope in ("Terminating", "NotTerminating", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity"):
        return resource in _POD_COMPUTE
    if scope == "BestEffort":
        return resource == "pods"
    return True


def _standard_quota(name: str) -> bool:
    return not chk.check_quota_resource_name(name, "") and "/" not in name


def validate_quota_spec(spec: Obj, path: str = "spec") -> Errs:
    errs: Errs = []
    hard = spec.get("hard") or {}
    for name, value in hard.items():
        errs += chk.check_quota_resource_name(name, f"{path}.hard[{name}]")
        errs += chk.check_quantity_value(name, value, f"{path}.hard[{name}]")
    scopes = spec.get("scopes") or []
    shown = chk.go_strings(scopes, "core.ResourceQuotaScope")
    for scope in scopes:
        if scope not in QUOTA_SCOPES:
            errs.append(errors.invalid(f"{path}.scopes", shown, "unsupported scope"))
        for name in sorted(hard):
            if _standard_quota(name) and not _scope_valid_for(scope, name):
                errs.append(errors.invalid(f"{path}.scopes", shown, "unsupported scope applied to resource"))
    errs += _conflicting(set(scopes), f"{path}.scopes", shown)
    selector = spec.get("scopeSelector")
    if selector is not None:
        errs += _scope_selector(selector.get("matchExpressions") or [], hard, f"{path}.scopeSelector.matchExpressions",
                                shown)
    return errs


def _conflicting(scopes: set[str], path: str, shown: Any) -> Errs:
    pairs = ({"BestEffort", "NotBestEffort"}, {"Terminating", "NotTerminating"})
    return [errors.invalid(path, shown, "conflicting scopes") for pair in pairs if pair <= scopes]


def _scope_selector(exprs: list[Obj], hard: Obj, path: str, shown: Any) -> Errs:
    errs: Errs = []
    names: set[str] = set()
    for req in exprs:
        scope, op, values = req.get("scopeName") or "", req.get("operator") or "", req.get("values") or []
        if scope not in QUOTA_SCOPES:
            errs.append(errors.invalid(f"{path}.scopeName", scope, "unsupported scope"))
        for name in sorted(hard):
            if _standard_quota(name) and not _scope_valid_for(scope, name):
                errs.append(errors.invalid(path, chk.GoRepr("&core.ScopeSelector{...}"),
                                           "unsupported scope applied to resource"))
        if scope in QUOTA_SCOPES[:4] + ("CrossNamespacePodAffinity",) and op != "Exists":
            errs.append(errors.invalid(f"{path}.operator", op,
                                       "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, "
                                       "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
                                       "ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"))
        if op in ("In", "NotIn"):
            if not values:
                errs.append(errors.required(f"{path}.values", "must be at least one value when `operator` is 'In' or "
                                                              "'NotIn' for scope selector"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(errors.invalid(f"{path}.values", chk.go_strings(values),
                                           "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope "
                                           "selector"))
        else:
            errs.append(errors.invalid(f"{path}.operator", op, "not a valid selector operator"))
        names.add(scope)
    return errs + _conflicting(names, path, shown)


def validate_quota_status(status: Obj) -> Errs:
    errs: Errs = []
    for key in ("hard", "used"):
        for name, value in (status.get(key) or {}).items():
            p = f"status.{key}[{name}]"
            errs += chk.check_quota_resource_name(name, p) + chk.check_quantity_value(name, value, p)
    return errs


class ResourceQuotaStrategy(Strategy):
    tracks_generation = False
    return_deleted_object = True

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_quota_spec(obj.get("spec") or {}) + validate_quota_status(obj.get("status") or {})

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = validate_quota_spec(new.get("spec") or {})
        new_scopes = (new.get("spec") or {}).get("scopes") or []
        if set(new_scopes) != set((old.get("spec") or {}).get("scopes") or []):
            errs.append(errors.invalid("spec.scopes", chk.go_strings(new_scopes, "core.ResourceQuotaScope"),
                                       chk.IMMUTABLE))
        return errs

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_quota_status(new.get("status") or {})


# --- ReplicationController --------------------------------------------------------


def validate_rc_spec(spec: Obj, path: str = "spec") -> Errs:
    errs = chk.check_nonnegative(spec.get("minReadySeconds") or 0, f"{path}.minReadySeconds")
    selector = spec.get("selector") or {}
    if not selector:
        errs.append(errors.required(f"{path}.selector"))
    errs += chk.check_nonnegative(spec.get("replicas") or 0, f"{path}.replicas")
    template = spec.get("template")
    tp = f"{path}.template"
    if template is None:
        return errs + [errors.required(tp)]
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        errs.append(errors.invalid(f"{tp}.metadata.labels", chk.go_map(labels),
                                   "`selector` does not match template `labels`"))
    errs += core_pods.validate_pod_template_spec(template, tp, restart_policies=("Always",))
    if (template.get("spec") or {}).get("activeDeadlineSeconds") is not None:
        errs.append(errors.forbidden(f"{tp}.spec.activeDeadlineSeconds",
                                     "activeDeadlineSeconds in ReplicationController is not Supported"))
    return errs


def validate_rc_status(status: Obj) -> Errs:
    errs: Errs = []
    for key in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"):
        errs += chk.check_nonnegative(status.get(key) or 0, f"status.{key}")
    replicas = status.get("replicas") or 0
    for key in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
        if (status.get(key) or 0) > replicas:
            errs.append(errors.invalid(f"status.{key}", status[key], "cannot be greater than status.replicas"))
    if (status.get("availableReplicas") or 0) > (status.get("readyReplicas") or 0):
        errs.append(errors.invalid("status.availableReplicas", status["availableReplicas"],
                                   "cannot be greater than readyReplicas"))
    return errs


class ReplicationControllerStrategy(Strategy):
    selectable_fields = ("status.replicas",)

    def initial_status(self, obj: Obj) -> Any:
        return {"replicas": 0}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_rc_spec(obj.get("spec") or {})

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_rc_status(new.get("status") or {})

    def field_value(self, obj: Obj, field_name: str) -> str | None:
        if field_name == "status.replicas":
            return str((obj.get("status") or {}).get("replicas") or 0)
        return super().field_value(obj, field_name)
