"""ObjectMeta validation run by the generic store for every kind (ValidateObjectMeta)."""

from __future__ import annotations

from typing import Any

from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import names

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(labels, dict):
        return errs
    for k, v in labels.items():
        errs.extend(errors.invalid(path, k, m) for m in names.qualified_name_problems(k))
        if not isinstance(v, str):
            errs.append(errors.invalid(f"{path}[{k}]", v, "must be a string"))
            continue
        errs.extend(errors.invalid(f"{path}[{k}]", v, m) for m in names.label_value_problems(v))
    return errs


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(annotations, dict):
        return errs
    total = 0
    for k, v in annotations.items():
        errs.extend(errors.invalid(path, k, m) for m in names.qualified_name_problems(k.lower()))
        total += len(k) + len(v if isinstance(v, str) else "")
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(errors.FieldError(errors.TOO_LONG, path,
                                      detail=f"must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"))
    return errs


def validate_owner_references(refs: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(refs, list):
        return errs
    controllers = 0
    for i, ref in enumerate(refs):
        p = f"{path}[{i}]"
        for key in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(key):
                detail = {"apiVersion": "version must not be empty", "kind": "kind must not be empty",
                          "name": "name must not be empty", "uid": "uid must not be empty"}[key]
                errs.append(errors.invalid(f"{p}.{key}" if key != "apiVersion" else f"{p}.apiVersion",
                                           ref.get(key, ""), detail))
        if ref.get("controller"):
            controllers += 1
    if controllers > 1:
        errs.append(errors.invalid(path, refs, "Only one reference can have Controller set to true"))
    return errs


def validate_finalizers(finalizers: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(finalizers, list):
        return errs
    seen: set[str] = set()
    for f in finalizers:
        errs.extend(errors.invalid(path, f, m) for m in names.qualified_name_problems(f))
        if f in seen:
            errs.append(errors.duplicate(path, f))
        seen.add(f)
    return errs


def validate_object_meta(meta: dict[str, Any], *, namespaced: bool, name_rule: str,
                         path: str = "metadata") -> list[FieldError]:
    """Name (or generateName), namespace scope, labels, annotations, owners, finalizers."""
    errs: list[FieldError] = []
    name = meta.get("name", "")
    check = names.NAME_RULES[name_rule]
    if not name:
        if not meta.get("generateName"):
            errs.append(errors.required(f"{path}.name", "name or generateName is required"))
        else:
            errs.extend(errors.invalid(f"{path}.generateName", meta["generateName"], m)
                        for m in check(_mask_trailing_dash(meta["generateName"])))
    else:
        errs.extend(errors.invalid(f"{path}.name", name, m) for m in check(name))
    ns = meta.get("namespace", "")
    if namespaced:
        if not ns:
            errs.append(errors.required(f"{path}.namespace"))
        else:
            errs.extend(errors.invalid(f"{path}.namespace", ns, m) for m in names.dns1123_label_problems(ns))
    elif ns:
        errs.append(errors.forbidden(f"{path}.namespace", "not allowed on this type"))
    errs.extend(validate_labels(meta.get("labels"), f"{path}.labels"))
    errs.extend(validate_annotations(meta.get("annotations"), f"{path}.annotations"))
    errs.extend(validate_owner_references(meta.get("ownerReferences"), f"{path}.ownerReferences"))
    errs.extend(validate_finalizers(meta.get("finalizers"), f"{path}.finalizers"))
    return errs


def _mask_trailing_dash(name: str) -> str:
    """generateName may end in '-' (upstream masks it before checking)."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-1] + "a"
    return name


def validate_object_meta_update(new: dict[str, Any], old: dict[str, Any],
                                path: str = "metadata") -> list[FieldError]:
    """Immutable metadata: name, namespace, uid, creationTimestamp."""
    errs: list[FieldError] = []
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        if new.get(key) != old.get(key):
            errs.append(errors.invalid(f"{path}.{key}", new.get(key, ""), "field is immutable"))
    return errs


def set_operator_values(op: Any, values: list[Any], path: str) -> list[FieldError] | None:
    """The values rules of the set-based selector operators: In/NotIn need values, Exists/DoesNotExist
    take none; None for any other operator (the caller's to judge). Node selectors share them."""
    if op in ("In", "NotIn"):
        return [] if values else [errors.required(path, "must be specified when `operator` is 'In' or 'NotIn'")]
    if op in ("Exists", "DoesNotExist"):
        return [errors.forbidden(path, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")] \
            if values else []
    return None


def validate_label_selector(selector: Any, path: str) -> list[FieldError]:
    """A metav1.LabelSelector: matchLabels and matchExpressions."""
    errs: list[FieldError] = []
    if not isinstance(selector, dict):
        return errs
    errs.extend(validate_labels(selector.get("matchLabels"), f"{path}.matchLabels"))
    for i, req in enumerate(selector.get("matchExpressions") or []):
        p = f"{path}.matchExpressions[{i}]"
        op = req.get("operator", "")
        value_errs = set_operator_values(op, req.get("values") or [], f"{p}.values")
        errs.extend([errors.invalid(f"{p}.operator", op, "not a valid selector operator")]
                    if value_errs is None else value_errs)
        errs.extend(errors.invalid(f"{p}.key", req.get("key", ""), m)
                    for m in names.qualified_name_problems(req.get("key", "")))
    return errs
