"""policy/v1 PodDisruptionBudget strategy."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pocketkube.apiserver.registry import policy

PDB = policy.STRATEGIES["PodDisruptionBudget"]
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "protobuf" / "expected"


def pdb(**spec: Any) -> dict[str, Any]:
    obj = {"metadata": {"name": "p", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"app": "w"}}, **spec}}
    PDB.prepare_for_create(obj)
    return obj


@pytest.mark.parametrize("fixture", ["pdb_min", "pdb_max"])
def test_kubectl_bodies(fixture: str) -> None:
    body = json.loads((FIXTURES / f"{fixture}.json").read_text())
    PDB.prepare_for_create(body)
    assert body["status"] == {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}
    assert body["metadata"]["generation"] == 1
    assert PDB.validate(body) == []


def test_pdb_spec_errors() -> None:
    both = pdb(minAvailable=1, maxUnavailable="10%")
    assert next(str(e) for e in PDB.validate(both)).endswith(": minAvailable and maxUnavailable cannot be both set")
    assert [str(e) for e in PDB.validate(pdb(minAvailable="150%", unhealthyPodEvictionPolicy="Never"))] == [
        'spec.minAvailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater than 100%',
        'spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget"',
    ]


def test_pdb_spec_is_mutable_with_generation_and_status_is_checked() -> None:
    old = pdb(minAvailable=1)
    new = copy.deepcopy(old)
    new["spec"]["minAvailable"] = 2
    PDB.prepare_for_update(new, old)
    assert new["metadata"]["generation"] == 2 and PDB.validate_update(new, old) == []
    st = copy.deepcopy(old)
    st["status"] = {"disruptionsAllowed": -1, "conditions": [{"type": "DisruptionAllowed", "status": "Maybe",
                                                              "reason": "1bad"}]}
    PDB.prepare_for_status_update(st, old)
    assert [str(e) for e in PDB.validate_status_update(st, old)] == [
        'status.conditions[0].status: Unsupported value: "Maybe": supported values: "False", "True", "Unknown"',
        "status.conditions[0].lastTransitionTime: Required value: must be set",
        'status.conditions[0].reason: Invalid value: "1bad": a condition reason must start with alphabetic character, '
        "optionally followed by a string of alphanumeric characters or '_,:', and must end with an alphanumeric "
        "character or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName',  or 'ReasonA,ReasonB',  or "
        "'ReasonA:ReasonB', regex used for validation is '[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?')",
        "status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0",
    ]
