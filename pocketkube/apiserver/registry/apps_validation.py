"""apps/v1 semantic validation (upstream pkg/apis/apps/validation) over JSON trees.

Theory of operation: one function per upstream Validate* function, each
returning the field errors in upstream order with upstream paths and wording.
Structural problems (wrong JSON types) were rejected earlier by the decoder;
these rules see a defaulted object. Metadata is validated by the generic store.
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.registry import govalue, workloads
from pocketkube.apiserver.registry.govalue import nonnegative
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError

Obj = dict[str, Any]

STS_FORBIDDEN = ("updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                 "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")
STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
               "minReadySeconds")


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _replica_set_like(spec: Obj, kind_word: str, kind_title: str) -> list[FieldError]:
    """Replicas, selector and template rules shared by Deployment and ReplicaSet."""
    errs = nonnegative(spec.get("replicas", 0), "spec.replicas")
    selector = spec.get("selector")
    if selector is None:
        errs.append(errors.required("spec.selector"))
    else:
        errs.extend(workloads.selector_errors(selector, "spec.selector", kind_word))
    sel = workloads.as_selector(selector)
    if sel is None:
        errs.append(errors.invalid("spec.selector", govalue.label_selector(selector), "invalid label selector"))
        return errs
    template = spec.get("template") or {}
    errs.extend(workloads.template_match_errors(sel, template, "spec.template"))
    errs.extend(workloads.pod_template_errors(template, "spec.template"))
    errs.extend(workloads.restart_policy_always(template, "spec.template"))
    if (template.get("spec") or {}).get("activeDeadlineSeconds") is not None:
        errs.append(errors.forbidden("spec.template.spec.activeDeadlineSeconds",
                                     f"activeDeadlineSeconds in {kind_title} is not Supported"))
    return errs


# --- Deployment -------------------------------------------------------------------


def validate_rolling_update_deployment(ru: Obj, path: str) -> list[FieldError]:
    mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
    errs = workloads.positive_int_or_percent(mu, f"{path}.maxUnavailable")
    errs.extend(workloads.positive_int_or_percent(ms, f"{path}.maxSurge"))
    if workloads.int_or_percent_value(mu) == 0 and workloads.int_or_percent_value(ms) == 0:
        errs.append(errors.invalid(f"{path}.maxUnavailable", govalue.int_or_string(mu if mu is not None else 0),
                                   "may not be 0 when `maxSurge` is 0"))
    errs.extend(workloads.not_more_than_100_percent(mu, f"{path}.maxUnavailable"))
    return errs


def validate_deployment_strategy(strategy: Obj, path: str) -> list[FieldError]:
    typ = strategy.get("type", "")
    ru = strategy.get("rollingUpdate")
    if typ == "Recreate":
        if ru is not None:
            return [errors.forbidden(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if typ == "RollingUpdate":
        if ru is None:
            return [errors.required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        return validate_rolling_update_deployment(ru, f"{path}.rollingUpdate")
    return [errors.not_supported(path, govalue.go_struct("apps.DeploymentStrategy", strategy),
                                 ["Recreate", "RollingUpdate"])]


def validate_deployment_spec(obj: Obj) -> list[FieldError]:
    spec = _spec(obj)
    errs = _replica_set_like(spec, "deployment", "ReplicaSet")
    errs.extend(validate_deployment_strategy(spec.get("strategy") or {}, "spec.strategy"))
    min_ready = spec.get("minReadySeconds", 0)
    errs.extend(nonnegative(min_ready, "spec.minReadySeconds"))
    if spec.get("revisionHistoryLimit") is not None:
        errs.extend(nonnegative(spec["revisionHistoryLimit"], "spec.revisionHistoryLimit"))
    if spec.get("rollbackTo") is not None:
        errs.extend(nonnegative((spec["rollbackTo"] or {}).get("revision", 0), "spec.rollback.version"))
    pds = spec.get("progressDeadlineSeconds")
    if pds is not None:
        errs.extend(nonnegative(pds, "spec.progressDeadlineSeconds"))
        if pds <= min_ready:
            errs.append(errors.invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    return errs


_DEPLOYMENT_STATUS_FIELDS = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas",
                             "availableReplicas", "unavailableReplicas")
_GT_REPLICAS = "cannot be greater than status.replicas"


def validate_deployment_status(obj: Obj, old: Obj) -> list[FieldError]:
    st = obj.get("status") or {}
    errs = workloads.status_nonnegative(st, "status", _DEPLOYMENT_STATUS_FIELDS)
    if st.get("collisionCount") is not None:
        errs.extend(nonnegative(st["collisionCount"], "status.collisionCount"))
    errs.extend(workloads.not_greater(st, "status", (
        ("updatedReplicas", "replicas", _GT_REPLICAS),
        ("readyReplicas", "replicas", _GT_REPLICAS),
        ("availableReplicas", "replicas", _GT_REPLICAS),
        ("availableReplicas", "readyReplicas", "cannot be greater than readyReplicas"),
    )))
    errs.extend(workloads.collision_count_decrement(obj, old))
    return errs


# --- ReplicaSet ---------------------------------------------------------------------


def validate_replica_set_spec(obj: Obj) -> list[FieldError]:
    spec = _spec(obj)
    errs = nonnegative(spec.get("replicas", 0), "spec.replicas")
    errs.extend(nonnegative(spec.get("minReadySeconds", 0), "spec.minReadySeconds"))
    rest = _replica_set_like({k: v for k, v in spec.items() if k != "replicas"}, "deployment", "ReplicaSet")
    return errs + rest


def validate_replica_set_status(obj: Obj) -> list[FieldError]:
    st = obj.get("status") or {}
    errs = workloads.status_nonnegative(st, "status", ("replicas", "fullyLabeledReplicas", "readyReplicas",
                                                       "availableReplicas", "observedGeneration"))
    errs.extend(workloads.not_greater(st, "status", (
        ("fullyLabeledReplicas", "replicas", _GT_REPLICAS),
        ("readyReplicas", "replicas", _GT_REPLICAS),
        ("availableReplicas", "replicas", _GT_REPLICAS),
        ("availableReplicas", "readyReplicas", "cannot be greater than readyReplicas"),
    )))
    return errs


# --- StatefulSet --------------------------------------------------------------------


def _sts_update_strategy(us: Obj) -> list[FieldError]:
    typ = us.get("type", "")
    ru = us.get("rollingUpdate")
    path = "spec.updateStrategy"
    if typ == "":
        return [errors.required(path)]
    if typ == "OnDelete":
        if ru is not None:
            return [errors.invalid(f"{path}.rollingUpdate", govalue.go_struct("apps.RollingUpdateStatefulSetStrategy", ru),
                                   "only allowed for updateStrategy 'RollingUpdate'")]
        return []
    if typ == "RollingUpdate":
        if ru is None:
            return []
        errs = nonnegative(ru.get("partition", 0), f"{path}.rollingUpdate.partition")
        mu = ru.get("maxUnavailable")
        if mu is not None:
            errs.extend(workloads.positive_int_or_percent(mu, f"{path}.rollingUpdate.maxUnavailable"))
            if workloads.int_or_percent_value(mu) == 0:
                errs.append(errors.invalid(f"{path}.rollingUpdate.maxUnavailable", govalue.int_or_string(mu), "cannot be 0"))
            errs.extend(workloads.not_more_than_100_percent(mu, f"{path}.rollingUpdate.maxUnavailable"))
        return errs
    return [errors.invalid(path, govalue.go_struct("apps.StatefulSetUpdateStrategy", us),
                           "must be 'RollingUpdate' or 'OnDelete'")]


def _pvc_retention(policy: Any) -> list[FieldError]:
    if not isinstance(policy, dict):
        return []
    errs: list[FieldError] = []
    for key in ("whenDeleted", "whenScaled"):
        v = policy.get(key, "")
        if v not in ("Retain", "Delete"):
            errs.append(errors.not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{key}", v, ["Retain", "Delete"]))
    return errs


def validate_stateful_set_spec(obj: Obj) -> list[FieldError]:
    spec = _spec(obj)
    pmp = spec.get("podManagementPolicy", "")
    errs: list[FieldError] = []
    if pmp == "":
        errs.append(errors.required("spec.podManagementPolicy"))
    elif pmp not in ("OrderedReady", "Parallel"):
        errs.append(errors.invalid("spec.podManagementPolicy", pmp, "must be 'OrderedReady' or 'Parallel'"))
    errs.extend(_sts_update_strategy(spec.get("updateStrategy") or {}))
    errs.extend(_pvc_retention(spec.get("persistentVolumeClaimRetentionPolicy")))
    errs.extend(nonnegative(spec.get("replicas", 0), "spec.replicas"))
    errs.extend(nonnegative(spec.get("minReadySeconds", 0), "spec.minReadySeconds"))
    if isinstance(spec.get("ordinals"), dict):
        errs.extend(nonnegative(spec["ordinals"].get("start", 0), "spec.ordinals.start"))
    selector = spec.get("selector")
    errs.extend(workloads.selector_errors(selector, "spec.selector", "statefulset"))
    template = spec.get("template") or {}
    sel = workloads.as_selector(selector)
    if sel is None:
        errs.append(errors.invalid("spec.selector", govalue.label_selector(selector), ""))
    else:
        errs.extend(workloads.template_match_errors(sel, template, "spec.template"))
        errs.extend(workloads.template_labels_and_annotations(template, "spec.template"))
    errs.extend(workloads.restart_policy_always(template, "spec.template"))
    if (template.get("spec") or {}).get("activeDeadlineSeconds") is not None:
        errs.append(errors.forbidden("spec.template.spec.activeDeadlineSeconds",
                                     "activeDeadlineSeconds in StatefulSet is not Supported"))
    return errs


def _without(spec: Obj, keys: tuple[str, ...]) -> Obj:
    return {k: v for k, v in spec.items() if k not in keys and v not in (None, [])}


def validate_stateful_set_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_stateful_set_spec(new)
    if _without(_spec(new), STS_MUTABLE) != _without(_spec(old), STS_MUTABLE):
        errs.append(errors.forbidden("spec", STS_FORBIDDEN))
    return errs


def validate_stateful_set_status(obj: Obj, old: Obj) -> list[FieldError]:
    st = obj.get("status") or {}
    errs = workloads.status_nonnegative(st, "status", ("replicas", "readyReplicas", "currentReplicas",
                                                       "updatedReplicas", "availableReplicas"))
    for f in ("observedGeneration", "collisionCount"):
        if st.get(f) is not None:
            errs.extend(nonnegative(st[f], f"status.{f}"))
    errs.extend(workloads.not_greater(st, "status", (
        ("readyReplicas", "replicas", _GT_REPLICAS),
        ("currentReplicas", "replicas", _GT_REPLICAS),
        ("updatedReplicas", "replicas", _GT_REPLICAS),
        ("availableReplicas", "replicas", _GT_REPLICAS),
        ("availableReplicas", "readyReplicas", "cannot be greater than status.readyReplicas"),
    )))
    errs.extend(workloads.collision_count_decrement(obj, old))
    return errs


# --- DaemonSet ----------------------------------------------------------------------


def _daemon_set_rolling_update(ru: Obj, path: str) -> list[FieldError]:
    mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
    errs = workloads.positive_int_or_percent(mu, f"{path}.maxUnavailable")
    errs.extend(workloads.positive_int_or_percent(ms, f"{path}.maxSurge"))
    errs.extend(workloads.not_more_than_100_percent(mu, f"{path}.maxUnavailable"))
    errs.extend(workloads.not_more_than_100_percent(ms, f"{path}.maxSurge"))
    has_unavailable = workloads.int_or_percent_value(mu) != 0
    has_surge = workloads.int_or_percent_value(ms) != 0
    if has_unavailable and has_surge:
        errs.append(errors.invalid(f"{path}.maxSurge", govalue.int_or_string(ms),
                                   "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        errs.append(errors.required(f"{path}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return errs


def _daemon_set_update_strategy(us: Obj) -> list[FieldError]:
    typ = us.get("type", "")
    if typ == "OnDelete":
        return []
    if typ == "RollingUpdate":
        if us.get("rollingUpdate") is None:
            return [errors.required("spec.updateStrategy.rollingUpdate")]
        return _daemon_set_rolling_update(us["rollingUpdate"], "spec.updateStrategy.rollingUpdate")
    return [errors.not_supported("spec.updateStrategy", govalue.go_struct("apps.DaemonSetUpdateStrategy", us),
                                 ["RollingUpdate", "OnDelete"])]


def validate_daemon_set_spec(obj: Obj) -> list[FieldError]:
    spec = _spec(obj)
    selector = spec.get("selector")
    errs = workloads.selector_errors(selector, "spec.selector", None) if selector is not None else []
    template = spec.get("template") or {}
    sel = workloads.as_selector(selector)
    if sel is not None:
        errs.extend(workloads.template_match_errors(sel, template, "spec.template"))
    if selector is not None and not (selector.get("matchLabels") or selector.get("matchExpressions")):
        errs.append(errors.invalid("spec.selector", govalue.label_selector(selector),
                                   "empty selector is invalid for daemonset"))
    errs.extend(workloads.pod_template_errors(template, "spec.template"))
    errs.extend(workloads.restart_policy_always(template, "spec.template"))
    if (template.get("spec") or {}).get("activeDeadlineSeconds") is not None:
        errs.append(errors.forbidden("spec.template.spec.activeDeadlineSeconds",
                                     "activeDeadlineSeconds in DaemonSet is not Supported"))
    errs.extend(nonnegative(spec.get("minReadySeconds", 0), "spec.minReadySeconds"))
    errs.extend(_daemon_set_update_strategy(spec.get("updateStrategy") or {}))
    if spec.get("revisionHistoryLimit") is not None:
        errs.extend(nonnegative(spec["revisionHistoryLimit"], "spec.revisionHistoryLimit"))
    return errs


def validate_daemon_set_status(obj: Obj, old: Obj) -> list[FieldError]:
    st = obj.get("status") or {}
    errs = workloads.status_nonnegative(st, "status", (
        "currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady",
        "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable"))
    if st.get("collisionCount") is not None:
        errs.extend(nonnegative(st["collisionCount"], "status.collisionCount"))
    errs.extend(workloads.collision_count_decrement(obj, old))
    return errs


# --- ControllerRevision -------------------------------------------------------------


def validate_controller_revision(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    if obj.get("data") is None:
        errs.append(errors.required("data", "data is mandatory"))
    errs.extend(nonnegative(obj.get("revision", 0), "revision"))
    return errs
