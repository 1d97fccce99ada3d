"""authorization.k8s.io/v1 strategies: the four access-review kinds (virtual, never stored).

Theory of operation: upstream pkg/apis/authorization/validation. A review asks
about exactly one of resourceAttributes or nonResourceAttributes; a
SubjectAccessReview names a user or groups; a LocalSubjectAccessReview's
resource namespace must be its own namespace and it may not ask about
non-resource URLs; review metadata must be empty (system fields the apiserver
itself fills are ignored). A SelfSubjectRulesReview needs a namespace (a 400,
returned by `request_error`). The decision itself is the authorizer's.
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.registry import govalue
from pocketkube.apiserver.registry.authentication import ReviewStrategy
from pocketkube.apiserver.strategy import Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError

Obj = dict[str, Any]

_SYSTEM_META = frozenset({"uid", "creationTimestamp", "resourceVersion", "generation", "managedFields",
                          "selfLink"})


def _attributes(spec: Obj) -> list[FieldError]:
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    shown = govalue.go_struct("authorization.NonResourceAttributes", nra)
    if ra is not None and nra is not None:
        return [errors.invalid("spec.nonResourceAttributes", shown, "cannot be specified in combination with resourceAttributes")]
    if ra is None and nra is None:
        return [errors.invalid("spec.resourceAttributes", shown,
                               "exactly one of nonResourceAttributes or resourceAttributes must be specified")]
    return []


def _meta_errors(obj: Obj, allow: frozenset[str], detail: str) -> list[FieldError]:
    md = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SYSTEM_META | allow and v}
    if md:
        return [errors.invalid("metadata", govalue.go_struct("v1.ObjectMeta", obj.get("metadata")), detail)]
    return []


def validate_sar_spec(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs = _attributes(spec)
    if not spec.get("user") and not spec.get("groups"):
        errs.append(errors.invalid("spec.user", spec.get("user", ""), "at least one of user or group must be specified"))
    return errs


class SubjectAccessReviewStrategy(ReviewStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_sar_spec(obj) + _meta_errors(obj, frozenset(), "must be empty")


class LocalSubjectAccessReviewStrategy(ReviewStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        errs = validate_sar_spec(obj) + _meta_errors(obj, frozenset({"namespace"}), "must be empty except for namespace")
        spec = obj.get("spec") or {}
        ns = (obj.get("metadata") or {}).get("namespace", "")
        ra = spec.get("resourceAttributes")
        if ra is not None and ra.get("namespace", "") != ns:
            errs.append(errors.invalid("spec.resourceAttributes.namespace", ra.get("namespace", ""), "must match metadata.namespace"))
        if spec.get("nonResourceAttributes") is not None:
            errs.append(errors.invalid("spec.nonResourceAttributes",
                                       govalue.go_struct("authorization.NonResourceAttributes", spec["nonResourceAttributes"]),
                                       "disallowed on this kind of request"))
        return errs


class SelfSubjectAccessReviewStrategy(ReviewStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return _attributes(obj.get("spec") or {}) + _meta_errors(obj, frozenset(), "must be empty")


class SelfSubjectRulesReviewStrategy(ReviewStrategy):
    def request_error(self, obj: Obj) -> errors.StatusError | None:
        if not (obj.get("spec") or {}).get("namespace"):
            return errors.bad_request("no namespace on request")
        return None


STRATEGIES: dict[str, Strategy] = {
    "LocalSubjectAccessReview": LocalSubjectAccessReviewStrategy(),
    "SelfSubjectAccessReview": SelfSubjectAccessReviewStrategy(),
    "SelfSubjectRulesReview": SelfSubjectRulesReviewStrategy(),
    "SubjectAccessReview": SubjectAccessReviewStrategy(),
}
