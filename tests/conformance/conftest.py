"""Fixtures for the storage conformance suite: one `store` fixture over memory, SQLite and etcd.

The etcd parameter runs the real Debian etcd-server binary (/usr/bin/etcd): one member per test
session on free loopback ports in a temporary data directory, ready once /health answers;
teardown kills exactly that PID and removes the directory. Each test gets its own key prefix
(etcd://...?prefix=/t-<id>), so tests share the server but not keys. A missing binary FAILS the
etcd tests unless POCKETKUBE_SKIP_ETCD=1 (then they are skipped).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from pocketkube.storage import Store, open_store

ETCD_BIN = "/usr/bin/etcd"
_READY_SECONDS = 20.0


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(json.loads(resp.read()).get("health") == "true")
    except (OSError, ValueError, urllib.error.URLError):
        return False


def _start_etcd(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    client, peer = _free_ports(2)
    c_url, p_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    log = open(data_dir / "etcd.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [ETCD_BIN, "--name", "s1", "--data-dir", str(data_dir / "data"), "--logger=zap",
         "--log-level=warn", "--listen-client-urls", c_url, "--advertise-client-urls", c_url,
         "--listen-peer-urls", p_url, "--initial-advertise-peer-urls", p_url,
         "--initial-cluster", f"s1={p_url}", "--initial-cluster-state", "new"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    log.close()
    deadline = time.monotonic() + _READY_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        if _healthy(f"{c_url}/health"):
            return proc, f"127.0.0.1:{client}"
        time.sleep(0.05)  # polling a child process for readiness, not timing a test
    proc.kill()
    proc.wait()
    raise RuntimeError("etcd did not become healthy:\n" + (data_dir / "etcd.log").read_text()[-3000:])


@pytest.fixture(scope="session")
def etcd_endpoint() -> Iterator[str]:
    """host:port of a private etcd member for this test session."""
    if os.environ.get("POCKETKUBE_SKIP_ETCD") == "1":
        pytest.skip("POCKETKUBE_SKIP_ETCD=1")
    if not os.access(ETCD_BIN, os.X_OK):
        pytest.fail(f"{ETCD_BIN} not found: install etcd-server (or set POCKETKUBE_SKIP_ETCD=1)")
    tmp = Path(tempfile.mkdtemp(prefix="pocketkube-etcd-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        for attempt in range(3):  # a free port can be taken between probing and binding
            try:
                proc, endpoint = _start_etcd(tmp)
                break
            except RuntimeError:
                shutil.rmtree(tmp / "data", ignore_errors=True)
                if attempt == 2:
                    raise
        yield endpoint
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(params=["memory", "sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if store_kind == "memory":
        return "memory://"
    if store_kind == "sqlite":
        return f"sqlite://{tmp_path / 'state.db'}"
    endpoint = request.getfixturevalue("etcd_endpoint")
    return f"etcd://{endpoint}?prefix=/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    try:
        yield s
    finally:
        await s.close()
