"""policy/v1 strategy: PodDisruptionBudget (and the metav1.Condition rules its status uses).

Theory of operation: a budget sets minAvailable or maxUnavailable (not both),
each a non-negative int or a percentage up to 100%; its selector is a label
selector; unhealthyPodEvictionPolicy is IfHealthyBudget or AlwaysAllow. The
spec is mutable and tracked by generation. Status writes (the disruption
controller) are checked for non-negative counters and well-formed conditions.
"""

from __future__ import annotations

import re
from typing import Any

from pocketkube.apiserver.registry import govalue, workloads
from pocketkube.apiserver.strategy import Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import meta, names

Obj = dict[str, Any]

_REASON_FMT = "[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?"
_REASON_MSG = ("a condition reason must start with alphabetic character, optionally followed by a string of "
               "alphanumeric characters or '_,:', and must end with an alphanumeric character or '_' (e.g. 'my_name',  "
               "or 'MY_NAME',  or 'MyName',  or 'ReasonA,ReasonB',  or 'ReasonA:ReasonB', regex used for validation is "
               f"'{_REASON_FMT}')")


def validate_condition(c: Obj, path: str) -> list[FieldError]:
    """metav1 ValidateCondition."""
    errs = [errors.invalid(f"{path}.type", c.get("type", ""), m) for m in names.qualified_name_problems(c.get("type", ""))]
    if c.get("status", "") not in ("True", "False", "Unknown"):
        errs.append(errors.not_supported(f"{path}.status", c.get("status", ""), ["False", "True", "Unknown"]))
    if c.get("observedGeneration", 0) < 0:
        errs.append(errors.invalid(f"{path}.observedGeneration", c["observedGeneration"],
                                   "must be greater than or equal to zero"))
    if not c.get("lastTransitionTime"):
        errs.append(errors.required(f"{path}.lastTransitionTime", "must be set"))
    reason = c.get("reason", "")
    if not reason:
        errs.append(errors.required(f"{path}.reason", "must be set"))
    else:
        if not re.fullmatch(_REASON_FMT, reason):
            errs.append(errors.invalid(f"{path}.reason", reason, _REASON_MSG))
        if len(reason) > 1024:
            errs.append(errors.too_long(f"{path}.reason", 1024))
    if len(c.get("message", "")) > 32 * 1024:
        errs.append(errors.too_long(f"{path}.message", 32 * 1024))
    return errs


def validate_conditions(conditions: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, c in enumerate(conditions or []):
        if c.get("type", "") in seen:
            errs.append(errors.duplicate(f"{path}[{i}].type", c.get("type", "")))
        seen.add(c.get("type", ""))
        errs += validate_condition(c, f"{path}[{i}]")
    return errs


def validate_pdb_spec(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    min_a, max_u = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_a is not None and max_u is not None:
        errs.append(errors.invalid("spec", govalue.go_struct("policy.PodDisruptionBudgetSpec", spec),
                                   "minAvailable and maxUnavailable cannot be both set"))
    for key, value in (("minAvailable", min_a), ("maxUnavailable", max_u)):
        if value is not None:
            errs += workloads.positive_int_or_percent(value, f"spec.{key}")
            errs += workloads.not_more_than_100_percent(value, f"spec.{key}")
    if spec.get("selector") is not None:
        errs += meta.validate_label_selector(spec["selector"], "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        errs.append(errors.not_supported("spec.unhealthyPodEvictionPolicy", policy, ["AlwaysAllow", "IfHealthyBudget"]))
    return errs


class PodDisruptionBudgetStrategy(Strategy):
    def initial_status(self, obj: Obj) -> Any:
        return {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_pdb_spec(obj)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        st = new.get("status") or {}
        errs = validate_conditions(st.get("conditions"), "status.conditions")
        return errs + workloads.status_nonnegative(st, "status", ("disruptionsAllowed", "currentHealthy",
                                                                  "desiredHealthy", "expectedPods"))


STRATEGIES: dict[str, Strategy] = {"PodDisruptionBudget": PodDisruptionBudgetStrategy()}
