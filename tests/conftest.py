"""Shared test setup: every test runs with its own POCKETKUBE_HOME, KUBECONFIG and HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every piece of user state (pocketkube home, kubeconfig, kubectl caches) at a temp dir."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("POCKETKUBE_HOME", str(tmp_path / "pocketkube"))
    monkeypatch.setenv("KUBECONFIG", str(home / ".kube" / "config"))
    monkeypatch.setenv("KUBECACHEDIR", str(home / ".kube" / "cache"))
    monkeypatch.setenv("HOME", str(home))
    yield tmp_path


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


os.environ.setdefault("POCKETKUBE_LOG_LEVEL", "info")
