"""events.k8s.io/v1 Event strategy and the authentication/authorization review strategies."""

from __future__ import annotations

import copy
from typing import Any

from pocketkube.apiserver.registry import authentication, authorization, events

EVENT = events.STRATEGIES["Event"]


def event(**fields: Any) -> dict[str, Any]:
    obj = {"metadata": {"name": "web.1", "namespace": "default"}, "eventTime": "2025-01-01T00:00:00.000000Z",
           "type": "Normal", "reason": "Scheduled", "action": "Binding", "note": "assigned",
           "reportingController": "default-scheduler", "reportingInstance": "default-scheduler-node-1",
           "regarding": {"kind": "Pod", "namespace": "default", "name": "web"}, **fields}
    EVENT.prepare_for_create(obj)
    return obj


def msgs(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def test_event_valid_and_strict_rules() -> None:
    assert msgs(EVENT.validate(event())) == []
    bad = event(type="Info", deprecatedCount=3, series={"count": 1}, action="", reason="r" * 129)
    assert msgs(EVENT.validate(bad)) == [
        "action: Required value",
        'reason: Invalid value: "": can have at most 128 characters',
        'series.count: Invalid value: "": should be at least 2',
        "series.lastObservedTime: Required value",
        'type: Invalid value: "": has invalid value: Info',
        'count: Invalid value: "": needs to be unset',
    ]
    missing = event()
    del missing["eventTime"]
    assert msgs(EVENT.validate(missing)) == ["eventTime: Required value"]


def test_event_update_immutables() -> None:
    old = event()
    new = copy.deepcopy(old)
    new["note"] = "changed"
    new["series"] = {"count": 2, "lastObservedTime": "2025-01-01T00:01:00.000000Z"}
    assert msgs(EVENT.validate_update(new, old)) == ['message: Invalid value: "changed": field is immutable']


def test_reviews() -> None:
    tr = authentication.STRATEGIES["TokenReview"]
    err = tr.request_error({"spec": {}})  # type: ignore[attr-defined]
    assert err is not None and err.code == 400 and err.message == "token is required for TokenReview in authentication"
    sar = authorization.STRATEGIES["SubjectAccessReview"]
    assert msgs(sar.validate({"metadata": {}, "spec": {}})) == [
        "spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes "
        "must be specified",
        'spec.user: Invalid value: "": at least one of user or group must be specified',
    ]
    ssar = authorization.STRATEGIES["SelfSubjectAccessReview"]
    kubectl_can_i = {"metadata": {"creationTimestamp": None},
                     "spec": {"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}}}
    assert ssar.validate(kubectl_can_i) == []
    lsar = authorization.STRATEGIES["LocalSubjectAccessReview"]
    assert msgs(lsar.validate({"metadata": {"namespace": "a", "name": "x"},
                               "spec": {"user": "u", "resourceAttributes": {"namespace": "b"}}}))[1:] == [
        'spec.resourceAttributes.namespace: Invalid value: "b": must match metadata.namespace']
    rules = authorization.STRATEGIES["SelfSubjectRulesReview"]
    assert rules.request_error({"spec": {}}).message == "no namespace on request"  # type: ignore[attr-defined]
