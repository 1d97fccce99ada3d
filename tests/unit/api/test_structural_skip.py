"""structural: skipping already-decoded top-level fields, and the canonical-time fast path."""

from __future__ import annotations

from typing import Any

import pytest

from pocketkube.api import structural

POD = "io.k8s.api.core.v1.Pod"


def test_decode_skips_named_fields_only() -> None:
    obj: dict[str, Any] = {"spec": {"bogus": 1, "containers": [{"name": "c"}]},
                           "status": {"bogus": 2, "startTime": "2024-01-01T01:00:00+01:00"}}
    unknown = structural.decode(obj, POD, skip={"spec"})
    assert unknown == ["status.bogus"]
    assert obj["spec"]["bogus"] == 1  # left alone
    assert obj["status"] == {"startTime": "2024-01-01T00:00:00Z"}


def test_defaults_skip_fields_but_run_the_objects_own_defaulters() -> None:
    obj: dict[str, Any] = {"spec": {"containers": [{"name": "c", "image": "x"}]}, "status": {"podIP": "1.2.3.4"}}
    structural.apply_defaults(obj, POD, skip={"spec"})
    assert obj["spec"]["enableServiceLinks"] is True  # the Pod defaulter itself still runs
    assert "dnsPolicy" not in obj["spec"]  # PodSpec's does not: spec was skipped
    assert obj["status"]["podIPs"] == [{"ip": "1.2.3.4"}]
    full: dict[str, Any] = {"spec": {"containers": [{"name": "c", "image": "x"}]}}
    structural.apply_defaults(full, POD)
    assert full["spec"]["dnsPolicy"] == "ClusterFirst"


class _Node:
    def __init__(self, kind: str) -> None:
        self.kind, self.format = kind, ""


@pytest.mark.parametrize(("value", "micro", "want"), [
    ("2024-02-29T23:59:59Z", False, "2024-02-29T23:59:59Z"),
    ("2024-02-29T23:59:59.123456Z", True, "2024-02-29T23:59:59.123456Z"),
    ("2024-02-29T23:59:59.123456Z", False, "2024-02-29T23:59:59Z"),
    ("2024-02-29T23:59:59+01:00", False, "2024-02-29T22:59:59Z"),
])
def test_time_values(value: str, micro: bool, want: str) -> None:
    node = _Node(structural.schema.MICROTIME if micro else structural.schema.TIME)
    assert structural._time(value, node, "t", "S") == want  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "error"), [
    ("2023-02-29T00:00:00Z", 'parsing time "2023-02-29T00:00:00Z": day out of range'),
    ("2024-01-01T24:00:00Z", 'parsing time "2024-01-01T24:00:00Z": hour out of range'),
    ("2024-13-01T00:00:00Z", 'parsing time "2024-13-01T00:00:00Z": month out of range'),
])
def test_canonical_looking_times_out_of_range_keep_gos_errors(value: str, error: str) -> None:
    with pytest.raises(structural.TypeMismatch) as e:
        structural._time(value, _Node(structural.schema.TIME), "t", "S")  # type: ignore[arg-type]
    assert str(e.value) == error
