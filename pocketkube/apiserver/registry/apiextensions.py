"""apiextensions.k8s.io/v1 strategy: CustomResourceDefinition.

Theory of operation: a CRD is named <plural>.<group>; the group is a DNS
subdomain with at least one dot; names are DNS-1035 labels (kinds may be mixed
case); scope is Cluster or Namespaced; versions have unique DNS-1035 names,
exactly one is the storage version, and each carries a structural schema
(every node typed, an object at the root). Group, plural and scope are fixed
after create. The status records acceptedNames (filled by the naming
controller) and storedVersions, which always gains the current storage version.
Create resets status to {acceptedNames: {kind: "", plural: ""}, storedVersions:
[<storage version>]}, as upstream serializes it.
"""

from __future__ import annotations

import copy
from typing import Any

from pocketkube.apiserver.registry import govalue
from pocketkube.apiserver.strategy import Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import names

Obj = dict[str, Any]

COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]
MIXED_CASE = "may have mixed case, but should otherwise match: "


def _dns1035(value: str, path: str, prefix: str = "", lower: bool = False) -> list[FieldError]:
    msgs = names.dns1035_label_problems(value.lower() if lower else value)
    return [errors.invalid(path, value, prefix + ",".join(msgs))] if value and msgs else []


def validate_names(n: Obj, path: str) -> list[FieldError]:
    errs = _dns1035(n.get("plural", ""), f"{path}.plural") + _dns1035(n.get("singular", ""), f"{path}.singular")
    errs += _dns1035(n.get("kind", ""), f"{path}.kind", MIXED_CASE, lower=True)
    errs += _dns1035(n.get("listKind", ""), f"{path}.listKind", MIXED_CASE, lower=True)
    for i, s in enumerate(n.get("shortNames") or []):
        msgs = names.dns1035_label_problems(s)
        if msgs:
            errs.append(errors.invalid(f"{path}.shortNames[{i}]", s, ",".join(msgs)))
    if n.get("kind") and n.get("kind") == n.get("listKind"):
        errs.append(errors.invalid(f"{path}.listKind", n["listKind"], "kind and listKind may not be the same"))
    for i, c in enumerate(n.get("categories") or []):
        errs += _dns1035(c, f"{path}.categories[{i}]")
    return errs


_EMPTY_TYPE = {"root": "at the root", "field": "for specified object fields", "items": "for specified array items"}


def _typed(node: Obj) -> bool:
    return bool(node.get("type") or node.get("x-kubernetes-int-or-string")
                or node.get("x-kubernetes-preserve-unknown-fields"))


def _schema_node(node: Any, path: str, where: str) -> list[FieldError]:
    """Structural-schema basics: every node typed, an object at the root."""
    if not isinstance(node, dict):
        return []
    errs: list[FieldError] = []
    if not _typed(node):
        errs.append(errors.required(f"{path}.type", f"must not be empty {_EMPTY_TYPE[where]}"))
    elif where == "root" and node.get("type") not in (None, "object"):
        errs.append(errors.invalid(f"{path}.type", node["type"], "must be object at the root"))
    for key, sub in (node.get("properties") or {}).items():
        errs += _schema_node(sub, f"{path}.properties[{key}]", "field")
    errs += _schema_node(node.get("items"), f"{path}.items", "items")
    errs += _schema_node(node.get("additionalProperties"), f"{path}.additionalProperties", "field")
    return errs


def _columns(cols: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, c in enumerate(cols or []):
        p = f"{path}[{i}]"
        if not c.get("name"):
            errs.append(errors.required(f"{p}.name"))
        if c.get("type") not in COLUMN_TYPES:
            errs.append(errors.not_supported(f"{p}.type", c.get("type", ""), COLUMN_TYPES))
        if c.get("format") and c["format"] not in ("int32", "int64", "float", "double", "byte", "date", "date-time",
                                                   "password"):
            errs.append(errors.not_supported(f"{p}.format", c["format"], ["byte", "date", "date-time", "double",
                                                                          "float", "int32", "int64", "password"]))
        if not c.get("jsonPath"):
            errs.append(errors.required(f"{p}.JSONPath"))
    return errs


def _version(v: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    schema = (v.get("schema") or {}).get("openAPIV3Schema")
    if schema is None:
        errs.append(errors.required(f"{path}.schema.openAPIV3Schema", "schemas are required"))
    else:
        errs += _schema_node(schema, f"{path}.schema.openAPIV3Schema", "root")
    errs += _columns(v.get("additionalPrinterColumns"), f"{path}.additionalPrinterColumns")
    scale = (v.get("subresources") or {}).get("scale")
    if isinstance(scale, dict):
        for key in ("specReplicasPath", "statusReplicasPath"):
            value = scale.get(key, "")
            if not value:
                errs.append(errors.required(f"{path}.subresources.scale.{key}"))
            elif not value.startswith(".spec." if key == "specReplicasPath" else ".status."):
                where = ".spec" if key == "specReplicasPath" else ".status"
                errs.append(errors.invalid(f"{path}.subresources.scale.{key}", value, f"should be a json path under {where}"))
    return errs


def _versions(spec: Obj) -> list[FieldError]:
    versions = spec.get("versions") or []
    shown = govalue.go_struct("[]apiextensions.CustomResourceDefinitionVersion", versions)
    errs: list[FieldError] = []
    seen: set[str] = set()
    unique = True
    for i, v in enumerate(versions):
        name = v.get("name", "")
        unique = unique and name not in seen
        seen.add(name)
        msgs = names.dns1035_label_problems(name)
        if msgs:
            errs.append(errors.invalid(f"spec.versions[{i}].name", name, ",".join(msgs)))
        errs += _version(v, f"spec.versions[{i}]")
    if not unique:
        errs.append(errors.invalid("spec.versions", shown, "must contain unique version names"))
    if sum(1 for v in versions if v.get("storage")) != 1:
        errs.append(errors.invalid("spec.versions", shown, "must have exactly one version marked as storage version"))
    return errs


def _conversion(conv: Any) -> list[FieldError]:
    if not isinstance(conv, dict):
        return []
    strategy = conv.get("strategy", "")
    if strategy not in ("None", "Webhook"):
        return [errors.not_supported("spec.conversion.strategy", strategy, ["None", "Webhook"])]
    webhook = conv.get("webhook")
    if strategy == "None":
        return [errors.forbidden("spec.conversion.webhook", "should not be set when strategy is not set to Webhook")] \
            if webhook is not None else []
    if webhook is None:
        return [errors.required("spec.conversion.webhook", "required when strategy is set to Webhook")]
    errs: list[FieldError] = []
    if webhook.get("clientConfig") is None:
        errs.append(errors.required("spec.conversion.webhook.clientConfig", "required when strategy is set to Webhook"))
    review = webhook.get("conversionReviewVersions") or []
    if not review:
        errs.append(errors.required("spec.conversion.webhook.conversionReviewVersions", "must contain at least one value"))
    elif not any(r in ("v1", "v1beta1") for r in review):
        errs.append(errors.invalid("spec.conversion.webhook.conversionReviewVersions", review,
                                   "must include at least one of v1, v1beta1"))
    return errs


def validate_crd_spec(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    group, n = spec.get("group", ""), spec.get("names") or {}
    errs: list[FieldError] = []
    required_name = f"{n.get('plural', '')}.{group}"
    if obj.get("metadata", {}).get("name") != required_name:
        errs.append(errors.invalid("metadata.name", obj.get("metadata", {}).get("name", ""),
                                   'must be spec.names.plural+"."+spec.group'))
    if not group:
        errs.append(errors.required("spec.group"))
    else:
        errs += [errors.invalid("spec.group", group, m) for m in names.dns1123_subdomain_problems(group)]
        if len(group.split(".")) < 2:
            errs.append(errors.invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope", "")
    if not scope:
        errs.append(errors.required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(errors.not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    errs += _versions(spec)
    errs += validate_names(n, "spec.names")
    errs += [errors.required(f"spec.names.{k}") for k in ("plural", "singular", "kind", "listKind") if not n.get(k)]
    errs += _conversion(spec.get("conversion"))
    if spec.get("preserveUnknownFields"):
        errs.append(errors.invalid("spec.preserveUnknownFields", True, "cannot set to true, set "
                                   "x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"))
    return errs


def validate_stored_versions(obj: Obj) -> list[FieldError]:
    stored = (obj.get("status") or {}).get("storedVersions") or []
    versions = (obj.get("spec") or {}).get("versions") or []
    spec_names = {v.get("name") for v in versions}
    if not stored:
        return [errors.invalid("status.storedVersions", govalue.GoValue("[]string(nil)"),
                               "must have at least one stored version")]
    errs = [errors.invalid(f"status.storedVersions[{i}]", v, "must appear in spec.versions")
            for i, v in enumerate(stored) if v not in spec_names]
    storage = next((v.get("name") for v in versions if v.get("storage")), None)
    if storage is not None and storage not in stored:
        errs.append(errors.invalid("status.storedVersions", stored, f"must have the storage version {storage}"))
    return errs


def _storage_version(obj: Obj) -> str | None:
    return next((v.get("name") for v in (obj.get("spec") or {}).get("versions") or [] if v.get("storage")), None)


def _ensure_stored(obj: Obj) -> None:
    storage = _storage_version(obj)
    stored = obj["status"].setdefault("storedVersions", [])
    if storage is not None and storage not in stored:
        stored.append(storage)


class CustomResourceDefinitionStrategy(Strategy):
    def initial_status(self, obj: Obj) -> Any:
        return {"acceptedNames": {"kind": "", "plural": ""}, "storedVersions": []}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _ensure_stored(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        new["status"] = copy.deepcopy(old.get("status") or self.initial_status(old))
        _ensure_stored(new)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_crd_spec(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
        errs = validate_crd_spec(new)
        errs += govalue.immutable(spec.get("group", ""), old_spec.get("group", ""), "spec.group")
        errs += govalue.immutable(spec.get("scope", ""), old_spec.get("scope", ""), "spec.scope")
        errs += govalue.immutable((spec.get("names") or {}).get("plural", ""),
                                  (old_spec.get("names") or {}).get("plural", ""), "spec.names.plural")
        return errs + validate_stored_versions(new)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        accepted = (new.get("status") or {}).get("acceptedNames") or {}
        return validate_names(accepted, "status.acceptedNames") + validate_stored_versions(new)


STRATEGIES: dict[str, Strategy] = {"CustomResourceDefinition": CustomResourceDefinitionStrategy()}
