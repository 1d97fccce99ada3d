"""Validation pieces shared by the workload kinds (apps, batch, policy).

Theory of operation: every controller kind carries a label selector that must
select its own pod template, a pod template validated like a Pod, and some
int-or-percent knobs (maxSurge, maxUnavailable, minAvailable). Upstream keeps
these in apps/validation and reuses them from batch and policy; this module is
that shared layer, over JSON trees, with upstream's messages. The pod spec rules
themselves belong to core (`registry.core_pods`).
"""

from __future__ import annotations

import re
from typing import Any

from pocketkube.api import labels
from pocketkube.apiserver.registry import govalue
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import meta

Obj = dict[str, Any]

_PERCENT_RE = re.compile(r"^[0-9]+%$")
_PERCENT_MSG = ("a valid percent string must be a numeric string followed by an ending '%' "
                "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")
NO_MATCH = "`selector` does not match template `labels`"


def selector_errors(selector: Any, path: str, kind_word: str | None) -> list[FieldError]:
    """Required / ValidateLabelSelector / non-empty checks of a controller's spec.selector.

    `kind_word` names the kind in "empty selector is invalid for <kind>" (None: no emptiness check).
    """
    if selector is None:
        return [errors.required(path)]
    errs = meta.validate_label_selector(selector, path)
    if kind_word and not (selector.get("matchLabels") or selector.get("matchExpressions")):
        errs.append(errors.invalid(path, govalue.label_selector(selector), f"empty selector is invalid for {kind_word}"))
    return errs


def as_selector(selector: Any) -> labels.Selector | None:
    """LabelSelectorAsSelector: None when the selector cannot be converted.

    A nil selector selects nothing (returned as a requirement no labels satisfy);
    an empty one selects everything (the empty tuple).
    """
    if selector is None:
        return (labels.Requirement("", labels.EXISTS),)
    if meta.validate_label_selector(selector, "x"):
        return None
    try:
        return labels.from_label_selector(selector)
    except labels.SelectorError:
        return None


def template_match_errors(sel: labels.Selector, template: Any, path: str) -> list[FieldError]:
    """The template's labels must satisfy a non-empty selector."""
    tmpl_labels = ((template or {}).get("metadata") or {}).get("labels")
    if sel and not labels.matches(sel, tmpl_labels or {}):
        return [errors.invalid(f"{path}.metadata.labels", govalue.string_map(tmpl_labels), NO_MATCH)]
    return []


def pod_template_errors(template: Any, path: str) -> list[FieldError]:
    """ValidatePodTemplateSpec from core, which owns pod rules."""
    from pocketkube.apiserver.registry import core_pods

    return core_pods.validate_pod_template_spec(template if isinstance(template, dict) else {}, path)


def restart_policy_always(template: Any, path: str) -> list[FieldError]:
    """Controllers that keep pods running accept only restartPolicy Always."""
    spec = (template or {}).get("spec") or {}
    errs: list[FieldError] = []
    policy = spec.get("restartPolicy", "")
    if policy != "Always":
        errs.append(errors.not_supported(f"{path}.spec.restartPolicy", policy, ["Always"]))
    return errs


def template_labels_and_annotations(template: Any, path: str) -> list[FieldError]:
    """What StatefulSets check of their template instead of the full pod validation (as upstream)."""
    from pocketkube.apiserver.registry import core_pods

    md = (template or {}).get("metadata") or {}
    errs = meta.validate_labels(md.get("labels"), f"{path}.labels")
    errs.extend(meta.validate_annotations(md.get("annotations"), f"{path}.annotations"))
    spec = (template or {}).get("spec") or {}
    errs.extend(core_pods.pod_annotation_errors(md.get("annotations") or {}, spec, f"{path}.annotations"))
    return errs


# --- int or percent ----------------------------------------------------------------


def percent_value(v: Any) -> int | None:
    if isinstance(v, str) and _PERCENT_RE.match(v):
        return int(v[:-1])
    return None


def int_or_percent_value(v: Any) -> int:
    """getIntOrPercentValue: a percent's number, an int, or Atoi of a string (0 on failure)."""
    p = percent_value(v)
    if p is not None:
        return p
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return 0
    return 0


def positive_int_or_percent(v: Any, path: str) -> list[FieldError]:
    """ValidatePositiveIntOrPercent."""
    if v is None:
        return []
    if isinstance(v, str):
        if not _PERCENT_RE.match(v):
            return [errors.invalid(path, govalue.int_or_string(v), _PERCENT_MSG)]
        return []
    if isinstance(v, int) and v < 0:
        return [errors.invalid(path, v, "must be greater than or equal to 0")]
    return []


def not_more_than_100_percent(v: Any, path: str) -> list[FieldError]:
    p = percent_value(v)
    if p is None or p <= 100:
        return []
    return [errors.invalid(path, govalue.int_or_string(v), "must not be greater than 100%")]


def status_nonnegative(status: Any, path: str, fields: tuple[str, ...]) -> list[FieldError]:
    st = status if isinstance(status, dict) else {}
    errs: list[FieldError] = []
    for f in fields:
        errs.extend(govalue.nonnegative(st.get(f, 0), f"{path}.{f}"))
    return errs


def not_greater(status: Any, path: str, pairs: tuple[tuple[str, str, str], ...]) -> list[FieldError]:
    """`a` cannot exceed `b`: (field, bound field, message) triples over a status."""
    st = status if isinstance(status, dict) else {}
    errs: list[FieldError] = []
    for f, bound, msg in pairs:
        if st.get(f, 0) > st.get(bound, 0):
            errs.append(errors.invalid(f"{path}.{f}", st.get(f, 0), msg))
    return errs


def collision_count_decrement(new: Obj, old: Obj) -> list[FieldError]:
    """status.collisionCount may not go down (IsDecremented)."""
    n = (new.get("status") or {}).get("collisionCount")
    o = (old.get("status") or {}).get("collisionCount")
    if o is None:
        return []
    if n is None or n < o:
        return [errors.invalid("status.collisionCount", 0 if n is None else n, "cannot be decremented")]
    return []
