from __future__ import annotations

import pytest

from pocketkube.kubelet import simulate


@pytest.mark.parametrize(("text", "seconds"), [
    ("5s", 5.0), ("500ms", 0.5), ("1m30s", 90.0), ("2.5", 2.5), ("1h", 3600.0), ("0", 0.0), (" 3s ", 3.0),
    ("", None), ("-1", None), ("5x", None), ("s5", None), ("5s5", None),
])
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert simulate.parse_duration(text) == seconds


def test_behaviour_defaults_and_annotations() -> None:
    timing = simulate.Timing(start=0.25, init=1.0, stop=0.5)
    b = simulate.behaviour(None, timing)
    assert (b.start_delay, b.init_duration, b.stop_after, b.exit_after, b.exit_code) == (0.25, 1.0, 0.5, None, 0)
    b = simulate.behaviour({simulate.EXIT_AFTER: "5s", simulate.EXIT_CODE: "3", simulate.START_DELAY: "2s",
                            simulate.STOP_AFTER: "45s", simulate.INIT_EXIT_CODE: "1",
                            simulate.STOP_EXIT_CODE: "143"}, timing)
    assert (b.exit_after, b.exit_code, b.start_delay, b.stop_after, b.init_exit_code, b.stop_exit_code) == \
        (5.0, 3, 2.0, 45.0, 1, 143)
    bad = simulate.behaviour({simulate.EXIT_AFTER: "soon", simulate.EXIT_CODE: "x"}, timing)
    assert bad.exit_after is None and bad.exit_code == 0
    assert simulate.exit_reason(0) == "Completed" and simulate.exit_reason(137) == "Error"
