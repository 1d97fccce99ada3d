"""The node agent's streaming server over loopback, and the CRI bridge against it.

The server runs the simulated backend. The CRI backend is tested against the
same server standing in for containerd's streaming server: it hands out the
server's URLs and the bridge drives them as a SPDY v4 / portforward.k8s.io
client, which is what it does against containerd.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType

from pocketkube.apiserver.streamproto import channels as ch
from pocketkube.cli.pki import PKI
from pocketkube.kubelet.server import serve, server_ssl_context
from pocketkube.kubelet.streaming_backend import LogTarget, StreamingError, StreamOptions
from pocketkube.kubelet.streaming_cri import CRIStreaming
from pocketkube.kubelet.streaming_sim import SimulatedStreaming


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


@pytest.fixture
async def node(tmp_path: Path, echo_port: int) -> AsyncIterator[tuple[SimulatedStreaming, str]]:
    async def dial(ns: str, pod: str, port: int) -> tuple[str, int]:
        return "127.0.0.1", echo_port if port == 80 else 1
    backend = SimulatedStreaming(tmp_path / "logs", dial=dial)
    backend.add_container("ns", "p", "app")
    runner, port = await serve(backend, "127.0.0.1", 0, None)
    yield backend, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def ws_exec(base: str, query: str, protocol: str, send: list[bytes]) -> tuple[dict[int, bytes], bytes]:
    got: dict[int, bytes] = {}
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(f"{base}/exec/ns/p/app?{query}", protocols=[protocol]) as ws:
        assert ws.protocol == protocol
        for message in send:
            await ws.send_bytes(message)
        async for msg in ws:
            assert msg.type == WSMsgType.BINARY
            got[msg.data[0]] = got.get(msg.data[0], b"") + msg.data[1:]
        assert ws.close_code == 1000
    return got, got.pop(ch.ERROR, b"")


async def test_websocket_v5_stdin_close_signal(node: tuple[SimulatedStreaming, str]) -> None:
    _, base = node
    got, status = await ws_exec(base, "command=cat&stdin=1&stdout=1&stderr=1", ch.V5,
                                [ch.frame(ch.STDIN, b"hi\n"), ch.close_frame(ch.STDIN)])
    assert got == {ch.STDOUT: b"hi\n", ch.STDERR: b""}
    assert orjson.loads(status) == {"metadata": {}, "status": "Success"}


async def test_websocket_v4_exit_code_and_stderr(node: tuple[SimulatedStreaming, str]) -> None:
    _, base = node
    got, status = await ws_exec(base, "command=sh&command=-c&command=echo+e+>%262%3B+exit+3&stdout=1&stderr=1",
                                ch.V4, [])
    assert got == {ch.STDOUT: b"", ch.STDERR: b"e\n"}
    assert ch.exit_code_of(status) == 3


async def test_tty_merges_streams_and_accepts_resize(node: tuple[SimulatedStreaming, str]) -> None:
    _, base = node
    got, status = await ws_exec(base, "command=sh&command=-c&command=echo+a%3B+echo+b+>%262&stdout=1&tty=1", ch.V5,
                                [ch.frame(ch.RESIZE, b'{"Width":80,"Height":24}\n')])
    assert got == {ch.STDOUT: b"a\r\nb\r\n"} and ch.exit_code_of(status) == 0


async def test_errors_before_upgrade(node: tuple[SimulatedStreaming, str]) -> None:
    backend, base = node
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{base}/exec/ns/p/nope?command=ls&stdout=1",
                         headers={"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                                  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                  "Sec-WebSocket-Protocol": ch.V5}) as r:
            assert r.status == 404
            assert (await r.json())["message"] == 'container not found ("nope")'
        async with s.get(f"{base}/exec/ns/p/app?command=ls&stdout=1") as r:
            assert r.status == 400
        async with s.get(f"{base}/containerLogs/ns/other/app") as r:
            assert r.status == 404
        backend.containers[("ns", "p", "app")].state = "waiting"
        async with s.get(f"{base}/containerLogs/ns/p/app") as r:
            assert r.status == 400
            assert await r.text() == 'container "app" in pod "p" is waiting to start: ContainerCreating'
        async with s.post(f"{base}/exec/ns/p/app?command=ls&stdout=1",
                          headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                   "X-Stream-Protocol-Version": ch.V5}) as r:
            assert r.status == 403 and r.headers["X-Accepted-Stream-Protocol-Versions"] == ch.V4


async def test_logs_stream(node: tuple[SimulatedStreaming, str]) -> None:
    backend, base = node
    backend.containers[("ns", "p", "app")].emit(b"x\ny\n")
    async with aiohttp.ClientSession() as s, s.get(f"{base}/containerLogs/ns/p/app?tailLines=1") as r:
        assert r.status == 200 and await r.text() == "y\n"


async def test_port_forward_websocket_v4_channels(node: tuple[SimulatedStreaming, str]) -> None:
    _, base = node
    async with aiohttp.ClientSession() as s, \
            s.ws_connect(f"{base}/portForward/ns/p?port=80", protocols=[ch.V4]) as ws:
        assert (await ws.receive_bytes()) == b"\x00\x50\x00"
        assert (await ws.receive_bytes()) == b"\x01\x50\x00"
        await ws.send_bytes(b"\x00ping")
        assert await ws.receive_bytes() == b"\x00ping"


class FakeCRI:
    """Hands out URLs of the test server, as containerd hands out its own."""

    def __init__(self, base: str) -> None:
        self.base = base

    async def exec_url(self, container_id: str, cmd: list[str], *, tty: bool = False, stdin: bool = False,
                       stdout: bool = True, stderr: bool = True) -> str:
        flags = (("stdin", stdin), ("stdout", stdout), ("stderr", stderr), ("tty", tty))
        q = urlencode([("command", c) for c in cmd] + [(k, "1") for k, v in flags if v])
        return f"{self.base}/exec/ns/p/{container_id}?{q}"

    async def attach_url(self, container_id: str, *, tty: bool = False, stdin: bool = False,
                         stdout: bool = True, stderr: bool = True) -> str:
        return f"{self.base}/attach/ns/p/{container_id}?stdout=1&stdin={int(stdin)}"

    async def port_forward_url(self, sandbox_id: str, ports: list[int]) -> str:
        return f"{self.base}/portForward/ns/{sandbox_id}"


class Locator:
    async def pod_status(self, namespace: str, pod: str) -> dict[str, object] | None:
        return {}

    async def log_target(self, namespace: str, pod: str, container: str, previous: bool) -> LogTarget:
        raise StreamingError("no logs")

    async def container_id(self, namespace: str, pod: str, container: str) -> str:
        return container

    async def sandbox_id(self, namespace: str, pod: str) -> str:
        return pod


async def test_cri_bridge_exec_over_spdy(node: tuple[SimulatedStreaming, str]) -> None:
    _, base = node
    cri = CRIStreaming(FakeCRI(base), Locator())
    proc = await cri.exec("ns", "p", "app", ["cat"], StreamOptions(stdin=True))
    await proc.write_stdin(b"bridged\n")
    await proc.close_stdin()  # v5's [255,0] arrives here: a FIN on the SPDY stdin stream
    out = b"".join([chunk async for chunk in proc.stdout()])
    assert out == b"bridged\n" and await proc.wait() == 0
    proc = await cri.exec("ns", "p", "app", ["sh", "-c", "exit 5"], StreamOptions())
    assert [c async for c in proc.stdout()] == [] and await proc.wait() == 5


async def test_cri_bridge_port_forward(node: tuple[SimulatedStreaming, str]) -> None:
    _, base = node
    conn = await CRIStreaming(FakeCRI(base), Locator()).port_forward("ns", "p", 80)
    await conn.write(b"through containerd")
    await conn.close_write()
    got = b""
    while chunk := await conn.read():
        got += chunk
    assert got == b"through containerd"
    await conn.close()
    failing = await CRIStreaming(FakeCRI(base), Locator()).port_forward("ns", "p", 81)
    with pytest.raises(ConnectionError, match="failed to connect"):
        await failing.read()
    await failing.close()


async def test_tls_client_certificates_are_required_and_checked(tmp_path: Path) -> None:
    pki = PKI(tmp_path / "pki")
    pki.ensure()
    serving = pki.issue("node", "system:node:n", ("system:nodes",), server=True, ips=("127.0.0.1",))
    good = pki.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",))
    other = pki.issue("someone", "someone", ())
    backend = SimulatedStreaming(tmp_path / "logs")
    runner, port = await serve(backend, "127.0.0.1", 0, server_ssl_context(str(serving.cert), str(serving.key),
                                                                           str(pki.ca.cert)))
    try:
        async def status(pair: object) -> int:
            ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
            if pair is not None:
                ctx.load_cert_chain(str(pair.cert), str(pair.key))  # type: ignore[attr-defined]
            async with aiohttp.ClientSession() as s, s.get(f"https://127.0.0.1:{port}/healthz", ssl=ctx) as r:
                return r.status
        assert await status(good) == 200
        assert await status(other) == 403
        with pytest.raises(aiohttp.ClientError):
            await status(None)
    finally:
        await runner.cleanup()


async def test_simulated_backend_follows_the_pod(tmp_path: Path) -> None:
    backend = SimulatedStreaming(tmp_path)
    pod = {"metadata": {"name": "p", "namespace": "ns"},
           "spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": "1"}]}]},
           "status": {"containerStatuses": [{"name": "c", "restartCount": 0, "state": {"running": {}}}]}}
    backend.sync_pod(pod)
    c = backend.containers[("ns", "p", "c")]
    assert c.env["A"] == "1" and c.state == "running"
    c.emit(b"first life\n")
    pod["status"] = {"containerStatuses": [{"name": "c", "restartCount": 1, "state": {"running": {}},
                                            "lastState": {"terminated": {"exitCode": 1, "containerID": "x"}}}]}
    backend.sync_pod(pod)
    assert c.restart_count == 1 and c.last_exit_code == 1
    previous = await backend.log_path("ns", "p", "c", previous=True)
    assert previous.path.read_bytes().endswith(b" stdout F first life\n")
    assert await backend.pod_status("ns", "p") == pod["status"]
    backend.forget_pod("ns", "p")
    assert await backend.pod_status("ns", "p") is None


async def test_attach_to_a_shell_console(tmp_path: Path) -> None:
    backend = SimulatedStreaming(tmp_path)
    backend.sync_pod({"metadata": {"name": "p", "namespace": "ns"},
                      "spec": {"containers": [{"name": "c", "command": ["sh"], "stdin": True, "stdinOnce": True}]},
                      "status": {"containerStatuses": [{"name": "c", "restartCount": 0, "state": {"running": {}}}]}})
    proc = await backend.attach("ns", "p", "c", StreamOptions(stdin=True, tty=True))
    await proc.write_stdin(b"echo in console\rexit 2\r")
    out = b"".join([chunk async for chunk in proc.stdout()])
    assert b"in console\r\n" in out and await proc.wait() == 0
    container = backend.containers[("ns", "p", "c")]
    assert (container.state, container.exit_code) == ("terminated", 2)
