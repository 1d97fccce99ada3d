from __future__ import annotations

import pytest

from pocketkube.kubelet.timefmt import go_duration, micro_time, parse_time, rfc3339


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.0004, "0s"), (0.512, "512ms"), (1, "1s"), (1.5, "1.5s"), (8.916, "8.916s"), (10, "10s"),
    (40, "40s"), (80, "1m20s"), (160, "2m40s"), (300, "5m0s"), (3600, "1h0m0s"), (3723.25, "1h2m3.25s"),
])
def test_go_duration_matches_go_duration_string(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_time_formats_round_trip() -> None:
    t = 1_700_000_000.25
    assert rfc3339(t) == "2023-11-14T22:13:20Z"
    assert micro_time(t) == "2023-11-14T22:13:20.250000Z"
    assert parse_time(rfc3339(t)) == 1_700_000_000.0
    assert parse_time(None) is None and parse_time("garbage") is None
