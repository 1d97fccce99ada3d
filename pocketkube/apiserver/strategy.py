"""Per-resource rules plugged into the one generic store (the upstream RESTStrategy).

Theory of operation: `apiserver/store.py` runs the same pipeline for every
resource (decode → default → prepare → validate → admit → persist). What differs
per kind is declared by a `Strategy` subclass in `apiserver/registry/<group>/`:
how status and generation are reset, which semantic validations apply, which
fields field selectors may use, whether deletion is graceful. Objects are JSON
trees (dicts) that have already been structurally decoded (types checked,
unknown fields handled) and defaulted by `api/structural.py`.

A strategy never performs I/O and never touches storage. The status
subresource is a variant of the same strategy (`prepare_for_status_update`,
`validate_status_update`), as upstream.
"""

from __future__ import annotations

from typing import Any

from pocketkube.machinery import errors, jsonvalue

Obj = dict[str, Any]

# Keys of an object that are not "spec" for generation purposes.
_NON_SPEC_KEYS = frozenset({"metadata", "status", "kind", "apiVersion"})


class Strategy:
    """Defaults that fit most kinds; subclasses override what their kind needs."""

    # The object has a status that clients may not set through the main resource.
    has_status: bool = True
    # metadata.generation starts at 1 and increments when anything but metadata/status changes.
    tracks_generation: bool = True
    allow_create_on_update: bool = False
    allow_unconditional_update: bool = True
    # DELETE answers with the deleted object (True) or a Success Status (False).
    return_deleted_object: bool = False
    # Names must be DNS-1123 subdomains unless a kind says otherwise (e.g. namespaces: labels).
    name_rule: str = "subdomain"  # "subdomain" | "label" | "path-segment"
    # Fields, besides metadata.name/namespace, that field selectors may use.
    selectable_fields: tuple[str, ...] = ()

    # --- create -----------------------------------------------------------------
    def prepare_for_create(self, obj: Obj) -> None:
        """Clear what clients may not set on create (status, generation)."""
        if self.has_status:
            obj["status"] = self.initial_status(obj)
        if self.tracks_generation:
            obj["metadata"]["generation"] = 1

    def initial_status(self, obj: Obj) -> Any:
        return {}

    def validate(self, obj: Obj) -> list[errors.FieldError]:
        return []

    def warnings(self, obj: Obj, old: Obj | None = None) -> list[str]:
        return []

    # --- update -----------------------------------------------------------------
    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """Keep the stored status; bump generation when the spec changed."""
        if self.has_status:
            jsonvalue.carry_over(new, old, "status")
        if self.tracks_generation:
            gen = old["metadata"].get("generation", 1)
            new["metadata"]["generation"] = gen + 1 if self.spec_changed(new, old) else gen

    def spec_changed(self, new: Obj, old: Obj) -> bool:
        keys = (set(new) | set(old)) - _NON_SPEC_KEYS
        if any(new.get(k) != old.get(k) for k in keys):
            return True
        # Deletion is a "spec" change upstream (generation bumps when deletionTimestamp is set).
        return new["metadata"].get("deletionTimestamp") != old["metadata"].get("deletionTimestamp")

    def validate_update(self, new: Obj, old: Obj) -> list[errors.FieldError]:
        return self.validate(new)

    # --- status subresource -----------------------------------------------------
    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """Only status (and metadata) may change through /status."""
        for k in set(old) | set(new):
            if k not in ("metadata", "status", "kind", "apiVersion"):
                jsonvalue.carry_over(new, old, k)
        if "generation" in old["metadata"]:
            new["metadata"]["generation"] = old["metadata"]["generation"]

    def validate_status_update(self, new: Obj, old: Obj) -> list[errors.FieldError]:
        return []

    # --- finalize subresource (namespaces) ---------------------------------------
    def prepare_for_finalize(self, new: Obj, old: Obj) -> None:
        """Only spec.finalizers may change through /finalize."""
        if "status" in old:
            new["status"] = jsonvalue.copy(old["status"])

    def validate_finalize(self, new: Obj, old: Obj) -> list[errors.FieldError]:
        return []

    # --- delete -----------------------------------------------------------------
    def default_grace_period(self, obj: Obj) -> int | None:
        """Seconds of graceful deletion by default, or None if deletion is immediate."""
        return None

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """The grace period a delete gets, given the one the client asked for (None: default)."""
        if self.default_grace_period(obj) is None:
            return 0  # kinds without graceful deletion ignore gracePeriodSeconds
        if requested is not None:
            return requested
        return self.default_grace_period(obj) or 0

    # --- field selectors --------------------------------------------------------
    def field_value(self, obj: Obj, field_name: str) -> str | None:
        """The string value of a selectable field, or None if the field is not selectable."""
        meta = obj.get("metadata", {})
        if field_name == "metadata.name":
            return meta.get("name", "")
        if field_name == "metadata.namespace":
            return meta.get("namespace", "")
        if field_name in self.selectable_fields:
            return _dotted(obj, field_name)
        return None


def _dotted(obj: Obj, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
        if cur is None:
            return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


class NoStatusStrategy(Strategy):
    """Kinds without a status (ConfigMap, Secret, RBAC objects, ...)."""

    has_status = False
    tracks_generation = False
