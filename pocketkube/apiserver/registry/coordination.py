"""coordination.k8s.io/v1 strategy: Lease.

Theory of operation: leaseDurationSeconds must be positive, leaseTransitions
non-negative; preferredHolder needs a strategy, and the coordinated-election
fields (strategy, preferredHolder) are dropped because the
CoordinatedLeaderElection feature is off in a default v1.32 apiserver. Leases
have no status and no generation.
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.strategy import NoStatusStrategy, Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError

Obj = dict[str, Any]

GATED_FIELDS = ("strategy", "preferredHolder")


def validate_lease(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    dur = spec.get("leaseDurationSeconds")
    if dur is not None and dur <= 0:
        errs.append(errors.invalid("spec.leaseDurationSeconds", dur, "must be greater than 0"))
    trans = spec.get("leaseTransitions")
    if trans is not None and trans < 0:
        errs.append(errors.invalid("spec.leaseTransitions", trans, "must be greater than or equal to 0"))
    if spec.get("preferredHolder") and not spec.get("strategy"):
        errs.append(errors.forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
    return errs


def _drop_gated(obj: Obj, old: Obj | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    old_spec = (old or {}).get("spec") or {}
    for key in GATED_FIELDS:
        if key not in old_spec:
            spec.pop(key, None)


class LeaseStrategy(NoStatusStrategy):
    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _drop_gated(obj, None)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        _drop_gated(new, old)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_lease(obj)


STRATEGIES: dict[str, Strategy] = {"Lease": LeaseStrategy()}
