"""node.k8s.io/v1 strategy: RuntimeClass.

Theory of operation: the handler is a DNS label and immutable; overhead is a
resource list of non-negative quantities; scheduling holds a node selector and
tolerations. No status, no generation.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api import quantity
from pocketkube.apiserver.registry import govalue
from pocketkube.apiserver.strategy import NoStatusStrategy, Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import meta, names

Obj = dict[str, Any]


def _overhead(obj: Obj) -> list[FieldError]:
    pod_fixed = (obj.get("overhead") or {}).get("podFixed") or {}
    errs: list[FieldError] = []
    for name, q in pod_fixed.items():
        path = f"overhead.podFixed[{name}]"
        try:
            if quantity.parse_value(q).value < 0:
                errs.append(errors.invalid(path, str(q), "must be greater than or equal to 0"))
        except ValueError:
            errs.append(errors.invalid(path, str(q), "must be a valid quantity"))
    return errs


def _tolerations(tols: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, t in enumerate(tols or []):
        p = f"scheduling.tolerations[{i}]"
        key, op = t.get("key", ""), t.get("operator", "Equal")
        if key:
            errs += [errors.invalid(f"{p}.key", key, m) for m in names.qualified_name_problems(key)]
        if not key and op != "Exists":
            errs.append(errors.invalid(f"{p}.operator", op, "operator must be Exists when `key` is empty, which means "
                                       '"match all values and all keys"'))
        if op == "Exists" and t.get("value"):
            errs.append(errors.invalid(f"{p}.operator", t["value"], "value must be empty when `operator` is 'Exists'"))
        elif op not in ("Equal", "Exists"):
            errs.append(errors.not_supported(f"{p}.operator", op, ["Equal", "Exists"]))
        effect = t.get("effect", "")
        if effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(errors.not_supported(f"{p}.effect", effect, ["NoSchedule", "PreferNoSchedule", "NoExecute"]))
    return errs


def validate_runtime_class(obj: Obj) -> list[FieldError]:
    handler = obj.get("handler", "")
    errs = [errors.invalid("handler", handler, m) for m in names.dns1123_label_problems(handler)]
    errs += _overhead(obj)
    sched = obj.get("scheduling")
    if isinstance(sched, dict):
        errs += meta.validate_labels(sched.get("nodeSelector"), "scheduling.nodeSelector")
        errs += _tolerations(sched.get("tolerations"))
    return errs


class RuntimeClassStrategy(NoStatusStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_runtime_class(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_runtime_class(new) + govalue.immutable(new.get("handler", ""), old.get("handler", ""), "handler")


STRATEGIES: dict[str, Strategy] = {"RuntimeClass": RuntimeClassStrategy()}
