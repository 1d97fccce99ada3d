"""Probe handlers on loopback (HTTP, TCP, gRPC health) and exec through a fake ExecSync; event texts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest
from aiohttp import web

from pocketkube.kubelet.podinputs.probes import grpc as grpc_probe
from pocketkube.kubelet.podinputs.probes import http as http_probe
from pocketkube.kubelet.podinputs.probes import tcp as tcp_probe
from pocketkube.kubelet.podinputs.probes.prober import Prober
from pocketkube.kubelet.podinputs.probes.spec import (
    Outcome,
    PortError,
    ProbeKind,
    Result,
    Verdict,
    resolve_port,
)
from pocketkube.kubelet.runtime.cri_types import CRIError, DeadlineExceeded, ExecSyncResult

Obj = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[Obj]]]:
    seen: list[Obj] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append({"path": request.path_qs, "headers": dict(request.headers)})
        name = request.match_info["name"]
        if name == "ok":
            return web.Response(text="fine")
        if name == "fail":
            return web.Response(status=500, text="broken")
        if name == "local":
            raise web.HTTPFound("/ok")
        if name == "away":
            raise web.HTTPFound(f"http://localhost:{request.url.port}/ok")
        if name == "loop":
            raise web.HTTPFound("/loop")
        if name == "chunked":
            resp = web.StreamResponse(status=204 if request.query.get("empty") else 200)
            await resp.prepare(request)
            await resp.write(b"a" * 20000)
            return resp
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{name}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield port, seen
    await runner.cleanup()


async def get(port: int, path: str, headers: list[Obj] | None = None, timeout: float = 2) -> Outcome:
    action = {"path": path, "port": "web", "httpHeaders": headers or []}
    url = http_probe.probe_url(action, {"ports": [{"name": "web", "containerPort": port}]}, "127.0.0.1")
    return await http_probe.probe(url, http_probe.request_headers(action), timeout)


async def test_http_statuses_and_redirects(server: tuple[int, list[Obj]]) -> None:
    port, seen = server
    assert await get(port, "/ok") == Outcome(Verdict.SUCCESS, "fine")
    assert await get(port, "/fail") == Outcome(Verdict.FAILURE, "HTTP probe failed with statuscode: 500")
    assert await get(port, "/local") == Outcome(Verdict.SUCCESS, "fine")
    away = await get(port, "/away")
    assert away.verdict is Verdict.WARNING and away.output.startswith("Probe terminated redirects, Response body: ")
    assert await get(port, "/loop") == Outcome(
        Verdict.FAILURE, f'Get "http://127.0.0.1:{port}/loop": stopped after 10 redirects')
    assert (await get(port, "/chunked")).output == "a" * 10240
    assert seen[0]["headers"]["User-Agent"] == "kube-probe/1.32" and seen[0]["headers"]["Accept"] == "*/*"
    assert seen[0]["headers"]["Host"] == f"127.0.0.1:{port}" and seen[0]["headers"]["Connection"] == "close"


async def test_http_headers(server: tuple[int, list[Obj]]) -> None:
    port, seen = server
    await get(port, "/ok?x=1", [{"name": "x-custom", "value": "v"}, {"name": "Accept", "value": ""},
                                {"name": "host", "value": "example.com"}])
    assert seen[-1]["path"] == "/ok?x=1" and seen[-1]["headers"]["X-Custom"] == "v"
    assert "Accept" not in seen[-1]["headers"] and seen[-1]["headers"]["Host"] == "example.com"


async def test_http_connection_errors() -> None:
    port = free_port()
    refused = await get(port, "/")
    assert refused == Outcome(Verdict.FAILURE, f'Get "http://127.0.0.1:{port}/": dial tcp 127.0.0.1:{port}: '
                                               "connect: connection refused")
    hung = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    hung_port = hung.sockets[0].getsockname()[1]
    try:
        out = await get(hung_port, "/healthz", timeout=0.05)
    finally:
        hung.close()
        await hung.wait_closed()
    assert out == Outcome(Verdict.FAILURE, f'Get "http://127.0.0.1:{hung_port}/healthz": context deadline '
                                           "exceeded (Client.Timeout exceeded while awaiting headers)")


def test_urls_and_ports() -> None:
    c = {"ports": [{"name": "http", "containerPort": 8080}]}
    assert http_probe.probe_url({"port": "http", "path": "/healthz"}, c, "10.244.0.5") == \
        "http://10.244.0.5:8080/healthz"
    assert http_probe.probe_url({"port": 443, "scheme": "HTTPS", "host": "fd00::1", "path": "x y"}, c, "ip") == \
        "https://[fd00::1]:443/x%20y"
    assert http_probe.probe_url({"port": 80}, c, "10.0.0.1") == "http://10.0.0.1:80"
    assert resolve_port("8081", c) == 8081
    for port, message in (("web", 'strconv.Atoi: parsing "web": invalid syntax'), (0, "invalid port number: 0"),
                          (70000, "invalid port number: 70000")):
        with pytest.raises(PortError) as info:
            resolve_port(port, c)
        assert str(info.value) == message


async def test_tcp() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        assert await tcp_probe.probe("127.0.0.1", port, 1) == Outcome(Verdict.SUCCESS, "")
    finally:
        server.close()
        await server.wait_closed()
    closed = free_port()
    assert await tcp_probe.probe("127.0.0.1", closed, 1) == Outcome(
        Verdict.FAILURE, f"dial tcp 127.0.0.1:{closed}: connect: connection refused")


@pytest.fixture
async def health() -> AsyncIterator[int]:
    async def check(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        service = request[2:].decode()
        if service == "missing":
            await context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        status = {"": 1, "down": 2}.get(service, 3)
        return b"\x08" + bytes([status])

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(check)})
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield port
    await server.stop(None)


async def test_grpc_health(health: int) -> None:
    assert await grpc_probe.probe("127.0.0.1", "", health, 2) == Outcome(Verdict.SUCCESS, "service is serving")
    assert await grpc_probe.probe("127.0.0.1", "down", health, 2) == Outcome(
        Verdict.FAILURE, 'service unhealthy (responded with "NOT_SERVING")')
    assert await grpc_probe.probe("127.0.0.1", "missing", health, 2) == Outcome(
        Verdict.FAILURE, "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service")


async def test_grpc_unimplemented_and_unreachable() -> None:
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        out = await grpc_probe.probe("127.0.0.1", "", port, 2)
    finally:
        await server.stop(None)
    assert out.verdict is Verdict.FAILURE and out.output.startswith(
        "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ")
    closed = free_port()
    assert await grpc_probe.probe("127.0.0.1", "", closed, 0.2) == Outcome(
        Verdict.FAILURE, f'timeout: failed to connect service "127.0.0.1:{closed}" within 200ms: '
                         "context deadline exceeded")
    assert grpc_probe.decode_status(b"\x12\x02ab\x08\x02") == 2 and grpc_probe.encode_request("") == b""


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, str]] = []

    def __call__(self, pod: Obj, type_: str, reason: str, message: str, field_path: str = "") -> None:
        self.seen.append((type_, reason, message, field_path))


POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": {"containers": [{"name": "c"}]}}


async def test_exec_probes_and_event_texts() -> None:
    answers: list[Any] = [ExecSyncResult(b"ok\n", b"", 0),
                          ExecSyncResult(b"", b"cat: can't open '/tmp/healthy': No such file or directory\n", 1),
                          DeadlineExceeded("ExecSync", "DEADLINE_EXCEEDED", "timeout 1s exceeded"),
                          CRIError("ExecSync", "UNKNOWN", 'exec: "nope": executable file not found in $PATH')]
    calls: list[tuple[str, list[str], int]] = []

    async def exec_sync(cid: str, cmd: list[str], timeout: int) -> ExecSyncResult:
        calls.append((cid, cmd, timeout))
        answer = answers[0] if len(answers) == 1 else answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    events = Events()
    prober = Prober(exec_sync, events)
    container = {"name": "c", "env": [{"name": "F", "value": "/tmp/healthy"}],
                 "livenessProbe": {"exec": {"command": ["cat", "$(F)"]}, "timeoutSeconds": 1}}
    assert await prober.probe(ProbeKind.LIVENESS, POD, container, "cid", "ip") == (Result.SUCCESS, False)
    assert calls[0] == ("cid", ["cat", "/tmp/healthy"], 1)
    assert await prober.probe(ProbeKind.LIVENESS, POD, container, "cid", "ip") == (Result.FAILURE, False)
    assert events.seen[-1] == ("Warning", "Unhealthy", "Liveness probe failed: cat: can't open '/tmp/healthy': "
                               "No such file or directory\n", "spec.containers{c}")
    assert await prober.probe(ProbeKind.LIVENESS, POD, container, "cid", "ip") == (Result.FAILURE, False)
    assert events.seen[-1][2] == 'Liveness probe failed: command "cat /tmp/healthy" timed out'
    before = len(calls)
    assert await prober.probe(ProbeKind.LIVENESS, POD, container, "cid", "ip") == (Result.FAILURE, True)
    assert len(calls) - before == 3  # errored runs are retried
    assert events.seen[-1][2] == ("Liveness probe errored and resulted in unknown state: rpc error: code = Unknown "
                                  'desc = exec: "nope": executable file not found in $PATH')


async def test_prober_http_events(server: tuple[int, list[Obj]]) -> None:
    port, _ = server
    events = Events()
    prober = Prober(None, events)
    container = {"name": "c", "readinessProbe": {"httpGet": {"path": "/fail", "port": port}},
                 "livenessProbe": {"httpGet": {"path": "/away", "port": port}},
                 "startupProbe": {"httpGet": {"path": "/", "port": "nope"}}}
    assert await prober.probe(ProbeKind.READINESS, POD, container, "cid", "127.0.0.1") == (Result.FAILURE, False)
    assert events.seen[-1][:3] == ("Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with "
                                   "statuscode: 500")
    assert await prober.probe(ProbeKind.LIVENESS, POD, container, "cid", "127.0.0.1") == (Result.SUCCESS, False)
    assert events.seen[-1][1] == "ProbeWarning" and events.seen[-1][2].startswith("Liveness probe warning: ")
    assert await prober.probe(ProbeKind.STARTUP, POD, container, "cid", "127.0.0.1") == (Result.FAILURE, True)
    assert events.seen[-1][2] == ('Startup probe errored and resulted in unknown state: strconv.Atoi: parsing '
                                  '"nope": invalid syntax')
    assert await prober.probe(ProbeKind.LIVENESS, POD, {"name": "c"}, "cid", "ip") == (Result.SUCCESS, False)
