"""coordination.k8s.io Lease and node.k8s.io RuntimeClass strategies."""

from __future__ import annotations

import copy
from typing import Any

from pocketkube.apiserver.registry import coordination, node

LEASE = coordination.STRATEGIES["Lease"]
RC = node.STRATEGIES["RuntimeClass"]


def test_lease_rules_and_gated_fields() -> None:
    lease: dict[str, Any] = {"metadata": {"name": "node-1", "namespace": "kube-node-lease"},
             "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 0, "leaseTransitions": -1,
                      "strategy": "OldestEmulationVersion", "preferredHolder": "x"}}
    LEASE.prepare_for_create(lease)
    assert "status" not in lease and "generation" not in lease["metadata"]
    assert "strategy" not in lease["spec"] and "preferredHolder" not in lease["spec"]
    assert [str(e) for e in LEASE.validate(lease)] == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
    ]
    renewed = copy.deepcopy(lease)
    renewed["spec"].update(leaseDurationSeconds=40, leaseTransitions=0, renewTime="2025-01-01T00:00:00.000000Z")
    LEASE.prepare_for_update(renewed, lease)
    assert LEASE.validate_update(renewed, lease) == [] and "generation" not in renewed["metadata"]


def test_runtime_class() -> None:
    rc = {"metadata": {"name": "gvisor"}, "handler": "runsc", "overhead": {"podFixed": {"memory": "-1Mi"}}}
    assert [str(e) for e in RC.validate(rc)] == [
        'overhead.podFixed[memory]: Invalid value: "-1Mi": must be greater than or equal to 0']
    new = dict(rc, handler="kata", overhead={})
    assert [str(e) for e in RC.validate_update(new, rc)] == ['handler: Invalid value: "kata": field is immutable']
    assert next(str(e) for e in RC.validate({"metadata": {"name": "x"}, "handler": "Bad_Handler"})).startswith(
        'handler: Invalid value: "Bad_Handler": a lowercase RFC 1123 label')
