"""scheduling.k8s.io/v1 PriorityClass strategy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pocketkube.apiserver.registry import scheduling

PC = scheduling.STRATEGIES["PriorityClass"]
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "protobuf" / "expected"


@pytest.mark.parametrize("fixture", ["priorityclass", "priorityclass_def", "priorityclass_zero"])
def test_kubectl_bodies(fixture: str) -> None:
    body = json.loads((FIXTURES / f"{fixture}.json").read_text())
    PC.prepare_for_create(body)
    assert "status" not in body and "generation" not in body["metadata"]
    assert PC.validate(body) == []


@pytest.mark.parametrize(("obj", "expected"), [
    ({"metadata": {"name": "big"}, "value": 1_000_000_001},
     ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]),
    ({"metadata": {"name": "system-mine"}, "value": 1},
     ["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
      "error: system-mine is not a known system priority class"]),
    ({"metadata": {"name": "system-node-critical"}, "value": 2_000_001_000}, []),
    ({"metadata": {"name": "system-cluster-critical"}, "value": 1},
     ["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
      "error: value of system-cluster-critical PriorityClass must be 2000000000"]),
    ({"metadata": {"name": "p"}, "value": 1, "preemptionPolicy": "Sometimes"},
     ['preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never"']),
])
def test_priority_class_errors(obj: dict, expected: list[str]) -> None:
    assert [str(e) for e in PC.validate(obj)] == expected


def test_value_and_policy_immutable() -> None:
    old = {"metadata": {"name": "p"}, "value": 1, "preemptionPolicy": "Never"}
    new = {"metadata": {"name": "p"}, "value": 2, "preemptionPolicy": "PreemptLowerPriority"}
    assert [str(e) for e in PC.validate_update(new, old)] == [
        "value: Forbidden: may not be changed in an update.",
        'preemptionPolicy: Invalid value: "PreemptLowerPriority": field is immutable']
