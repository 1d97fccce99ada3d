"""The CRI streaming bridge against a real containerd: exec (stdin EOF, exit codes, TTY resize, errors)
and port-forward, as the node agent drives them for kubectl.

Runs a private containerd under a temp folder with a host-network pod (no CNI),
imports the locally built busybox and pause images, and tears everything down.
Skipped where containerd/runc are missing or not running as root.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pocketkube.kubelet.containerd import ContainerdManager
from pocketkube.kubelet.containerd_config import ContainerdLayout
from pocketkube.kubelet.oci.build import BUSYBOX_IMAGE, ensure_builtin_images
from pocketkube.kubelet.oci.loader import import_for_cri
from pocketkube.kubelet.runtime.cri_client import CRIClient
from pocketkube.kubelet.runtime.cri_types import (
    ContainerSpec,
    NamespaceMode,
    NamespaceOptions,
    PodSandboxSpec,
)
from pocketkube.kubelet.streaming_backend import LogTarget, StreamOptions
from pocketkube.kubelet.streaming_cri import CRIStreaming

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(map(shutil.which, ("containerd", "runc", "ctr"))),
    reason="needs root, containerd, runc and ctr")
HTTP_PORT = 18089


@dataclass
class Locator:
    cid: str
    sid: str

    async def pod_status(self, namespace: str, pod: str) -> dict[str, object] | None:
        return {}

    async def log_target(self, namespace: str, pod: str, container: str, previous: bool) -> LogTarget:
        raise AssertionError("not used")

    async def container_id(self, namespace: str, pod: str, container: str) -> str:
        return self.cid

    async def sandbox_id(self, namespace: str, pod: str) -> str:
        return self.sid


@pytest.fixture
async def pod() -> AsyncIterator[CRIStreaming]:
    base = Path(tempfile.mkdtemp(prefix="pk-streaming-cri-"))
    manager = ContainerdManager(ContainerdLayout(base))
    manager.prepare()
    await manager.start()
    client = CRIClient(manager.endpoint)
    sid = ""
    try:
        for path in ensure_builtin_images().values():
            await import_for_cri(manager.endpoint, path)
        host = NamespaceOptions(network=NamespaceMode.NODE, pid=NamespaceMode.CONTAINER, ipc=NamespaceMode.POD)
        spec = PodSandboxSpec(name="s", namespace="default", uid=str(uuid.uuid4()),
                              log_directory=str(base / "podlogs"), namespace_options=host)
        sid = await client.run_pod_sandbox(spec)
        command = ("sh", "-c", f"httpd -f -p 127.0.0.1:{HTTP_PORT} -h /etc & sleep 3600")
        cid = await client.create_container(sid, ContainerSpec(name="c", image=BUSYBOX_IMAGE, command=command,
                                                               log_path="c/0.log"), spec)
        await client.start_container(cid)
        yield CRIStreaming(client, Locator(cid, sid))
    finally:
        if sid:
            await client.stop_pod_sandbox(sid)
            await client.remove_pod_sandbox(sid)
        await client.close()
        await manager.stop()
        shutil.rmtree(base, ignore_errors=True)


async def test_exec_through_the_bridge(pod: CRIStreaming) -> None:
    proc = await pod.exec("default", "s", "c", ["cat"], StreamOptions(stdin=True))
    await proc.write_stdin(b"to real containerd\n")
    await proc.close_stdin()  # what kubectl's v5 [255, 0] turns into
    assert b"".join([c async for c in proc.stdout()]) == b"to real containerd\n"
    assert await proc.wait() == 0

    proc = await pod.exec("default", "s", "c", ["sh", "-c", "echo err >&2; exit 7"], StreamOptions())
    assert b"".join([c async for c in proc.stderr()]) == b"err\n"
    assert await proc.wait() == 7

    proc = await pod.exec("default", "s", "c", ["nosuchbinary"], StreamOptions())
    with pytest.raises(Exception, match='exec: "nosuchbinary": executable file not found'):
        await proc.wait()

    proc = await pod.exec("default", "s", "c", ["sh"], StreamOptions(stdin=True, tty=True, stderr=False))
    await proc.resize(100, 30)
    await proc.write_stdin(b"stty size; exit 4\r")
    out = b"".join([c async for c in proc.stdout()])
    assert b"30 100" in out and await proc.wait() == 4


async def test_port_forward_through_the_bridge(pod: CRIStreaming) -> None:
    for _ in range(100):  # until httpd in the container listens
        conn = await pod.port_forward("default", "s", HTTP_PORT)
        try:
            await conn.write(b"GET /hostname HTTP/1.0\r\n\r\n")
            got = b""
            while chunk := await conn.read():
                got += chunk
            break
        except ConnectionError as e:
            assert "connection refused" in str(e)
            await asyncio.sleep(0.05)
        finally:
            await conn.close()
    assert got.startswith(b"HTTP/1.1 200 OK")
    conn = await pod.port_forward("default", "s", HTTP_PORT + 1)
    with pytest.raises(ConnectionError, match="connection refused"):
        await conn.read()
    await conn.close()
