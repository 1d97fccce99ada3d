"""scheduling.k8s.io/v1 strategy: PriorityClass.

Theory of operation: user-defined priorities may not exceed one billion; names
starting with "system-" are reserved for the two built-in classes with their
fixed values. value and preemptionPolicy are immutable. No status, no
generation. (Refusing to delete the built-in classes and the single-global-
default rule are REST and admission behaviour, not strategy rules.)
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.registry import govalue
from pocketkube.apiserver.strategy import NoStatusStrategy, Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError

Obj = dict[str, Any]

HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_PREFIX = "system-"
SYSTEM_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}


def _system_class_error(name: str, value: int, global_default: bool) -> str:
    if name not in SYSTEM_CLASSES:
        return f"{name} is not a known system priority class"
    if SYSTEM_CLASSES[name] != value:
        return f"value of {name} PriorityClass must be {SYSTEM_CLASSES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return ""


def validate_priority_class(obj: Obj) -> list[FieldError]:
    name, value = obj.get("metadata", {}).get("name", ""), obj.get("value", 0)
    errs: list[FieldError] = []
    if name.startswith(SYSTEM_PREFIX):
        why = _system_class_error(name, value, bool(obj.get("globalDefault")))
        if why:
            errs.append(errors.forbidden("metadata.name", f"priority class names with '{SYSTEM_PREFIX}' prefix are "
                                         f"reserved for system use only. error: {why}"))
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(errors.forbidden("value", "maximum allowed value of a user defined priority is "
                                     f"{HIGHEST_USER_DEFINABLE_PRIORITY}"))
    policy = obj.get("preemptionPolicy")
    if policy is not None:
        if policy == "":
            errs.append(errors.required("preemptionPolicy"))
        elif policy not in ("PreemptLowerPriority", "Never"):
            errs.append(errors.not_supported("preemptionPolicy", policy, ["PreemptLowerPriority", "Never"]))
    return errs


class PriorityClassStrategy(NoStatusStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_priority_class(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if new.get("value", 0) != old.get("value", 0):
            errs.append(errors.forbidden("value", "may not be changed in an update."))
        return errs + govalue.immutable(new.get("preemptionPolicy"), old.get("preemptionPolicy"), "preemptionPolicy")


STRATEGIES: dict[str, Strategy] = {"PriorityClass": PriorityClassStrategy()}
