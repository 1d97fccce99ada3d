"""events.k8s.io/v1 strategy: Event, written against the events.k8s.io/v1 shape.

Theory of operation: events.k8s.io/v1 Events share storage with core/v1 Events;
upstream validates both through the internal type and applies the strict
rules only to requests made through events.k8s.io: eventTime is required,
type is Normal or Warning, the deprecated core fields must be unset,
reportingController/reportingInstance/action/reason are required (128
characters at most; note 1 KiB), and a series has count >= 2 and a
lastObservedTime. Error paths use the internal (core) field names, as upstream
prints them (involvedObject, message, source, firstTimestamp, ...). On
update most fields are immutable. No status, no generation.
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.registry import govalue
from pocketkube.apiserver.strategy import NoStatusStrategy, Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import names

Obj = dict[str, Any]

LIMIT_128 = 128
NOTE_LIMIT = 1024
# events.k8s.io/v1 field -> internal field name used in error paths
IMMUTABLE_FIELDS = (
    ("regarding", "involvedObject"), ("reason", "reason"), ("note", "message"), ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"), ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"), ("reason", "reason"), ("type", "type"), ("eventTime", "eventTime"),
    ("action", "action"), ("related", "related"), ("reportingController", "reportingController"),
    ("reportingInstance", "reportingInstance"),
)


def _series(obj: Obj) -> list[FieldError]:
    series = obj.get("series")
    if series is None:
        return []
    errs: list[FieldError] = []
    if series.get("count", 0) < 2:
        errs.append(errors.invalid("series.count", "", "should be at least 2"))
    if not series.get("lastObservedTime"):
        errs.append(errors.required("series.lastObservedTime"))
    return errs


def _length(obj: Obj, key: str, path: str, limit: int) -> list[FieldError]:
    if len(obj.get(key, "")) > limit:
        return [errors.invalid(path, "", f"can have at most {limit} characters")]
    return []


def _legacy(obj: Obj) -> list[FieldError]:
    ns = obj.get("metadata", {}).get("namespace", "")
    regarding_ns = (obj.get("regarding") or {}).get("namespace", "")
    errs: list[FieldError] = []
    if not regarding_ns and ns not in ("default", "kube-system"):
        errs.append(errors.invalid("involvedObject.namespace", regarding_ns, "does not match event.namespace"))
    controller = obj.get("reportingController", "")
    if not controller:
        errs.append(errors.required("reportingController"))
    errs += [errors.invalid("reportingController", controller, m) for m in names.qualified_name_problems(controller)]
    for key, path, limit in (("reportingInstance", "reportingInstance", LIMIT_128), ("action", "action", LIMIT_128),
                             ("reason", "reason", LIMIT_128)):
        if not obj.get(key):
            errs.append(errors.required(path))
        errs += _length(obj, key, path, limit)
    errs += _length(obj, "note", "message", NOTE_LIMIT)
    errs += [errors.invalid("namespace", ns, m) for m in names.dns1123_subdomain_problems(ns)]
    return errs


def validate_event(obj: Obj) -> list[FieldError]:
    errs = _legacy(obj) if obj.get("eventTime") else []
    errs += _series(obj)
    if not obj.get("eventTime"):
        errs.append(errors.required("eventTime"))
    if obj.get("type") not in ("Normal", "Warning"):
        errs.append(errors.invalid("type", "", f"has invalid value: {obj.get('type', '')}"))
    for key, path in (("deprecatedFirstTimestamp", "firstTimestamp"), ("deprecatedLastTimestamp", "lastTimestamp")):
        if obj.get(key):
            errs.append(errors.invalid(path, "", "needs to be unset"))
    if obj.get("deprecatedCount", 0):
        errs.append(errors.invalid("count", "", "needs to be unset"))
    source = obj.get("deprecatedSource") or {}
    if source.get("component") or source.get("host"):
        errs.append(errors.invalid("source", "", "needs to be unset"))
    return errs


class EventStrategy(NoStatusStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_event(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = _legacy(new) if new.get("eventTime") else []
        if new.get("series") != old.get("series"):
            errs += _series(new)
        for key, path in IMMUTABLE_FIELDS:
            shown = govalue.go_struct("core.ObjectReference", new.get(key)) if key in ("regarding", "related") else None
            errs += govalue.immutable(new.get(key), old.get(key), path, shown)
        return errs


STRATEGIES: dict[str, Strategy] = {"Event": EventStrategy()}
