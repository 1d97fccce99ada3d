"""Fixtures of the node agent's unit tests (the harness lives in kubelet_harness.py)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from kubelet_harness import Harness

AGENT_LOGGERS = {f"pocketkube.kubelet.{n}" for n in ("agent", "pods", "status", "nodes", "events")}


@pytest.fixture
def harness() -> Harness:
    return Harness()


@pytest.fixture(autouse=True)
def no_agent_warnings(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The simulated-node shell must not log warnings in tests (an unsettled lifecycle, a failed write...)."""
    caplog.set_level(logging.WARNING, logger="pocketkube.kubelet")
    yield
    bad = [r.getMessage() for r in caplog.records if r.name in AGENT_LOGGERS and r.levelno >= logging.WARNING]
    assert not bad, bad
