"""The node agent's streaming HTTP server (upstream kubelet server API: logs, exec, attach, port-forward).

Theory of operation: an aiohttp app over TLS that only trusted clients reach:
the context from `server_ssl_context` requires a client certificate signed by
the cluster CA, and `authorize` (default: user kube-apiserver-kubelet-client /
kube-apiserver or group system:masters) checks its subject. Routes, as the
upstream kubelet serves them to the apiserver:

  GET  /containerLogs/NS/POD/CONTAINER?follow&previous&tailLines&...  text/plain, chunked
  GET|POST /exec/NS/POD/CONTAINER?command=..&stdin&stdout&stderr&tty
  GET|POST /attach/NS/POD/CONTAINER?stdin&stdout&stderr&tty
  GET|POST /portForward/NS/POD

exec/attach: WebSocket (v5.channel.k8s.io, v4.channel.k8s.io) or
`Upgrade: SPDY/3.1` with X-Stream-Protocol-Version v4. Port-forward: SPDY
tunnelled in WebSocket (`SPDY/3.1+portforward.k8s.io`), raw SPDY
(`portforward.k8s.io`), or WebSocket v4 channels with `?port=` (what the
Python client uses). Errors before an upgrade are plain text for logs (the
apiserver turns a 400 into BadRequest with that message) and Status JSON for
the upgrade paths (kubectl prints its message). The runtime is a
`StreamingBackend` (kubelet/streaming_backend.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from pocketkube.apiserver.auth import peer_subject
from pocketkube.apiserver.streamproto import channels as ch
from pocketkube.apiserver.streamproto import portforward_ws
from pocketkube.apiserver.streamproto.portforward import PortForwardServer
from pocketkube.apiserver.streamproto.remotecommand import (
    SpdyEndpoint,
    StreamSpec,
    run_process,
    serve_websocket,
)
from pocketkube.apiserver.streamproto.spdy_session import SpdySession
from pocketkube.apiserver.streamproto.transport import ByteTransport, WebSocketBytes, take_over
from pocketkube.kubelet import logs
from pocketkube.kubelet.streaming_backend import ExecSession, StreamingBackend, StreamingError, StreamOptions

log = logging.getLogger("pocketkube.kubelet.server")

Identity = tuple[str, tuple[str, ...]]  # (common name, organizations)
ALLOWED_USERS = frozenset({"kube-apiserver-kubelet-client", "kube-apiserver"})
ALLOWED_GROUPS = frozenset({"system:masters"})


def default_authorize(identity: Identity | None) -> bool:
    if identity is None:
        return False
    user, groups = identity
    return user in ALLOWED_USERS or bool(ALLOWED_GROUPS.intersection(groups))


def peer_identity(request: web.Request) -> Identity | None:
    subject = peer_subject(request)
    return None if subject is None else (subject[0], tuple(subject[1]))


def server_ssl_context(cert_file: str, key_file: str, client_ca_file: str) -> ssl.SSLContext:
    """TLS for the node's streaming server: serving cert, client certs required and checked against the CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    ctx.load_verify_locations(client_ca_file)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _flag(query: Any, name: str) -> bool:
    return str(query.get(name, "")) in ("1", "t", "T", "true", "TRUE", "True")  # Go's strconv.ParseBool


def _status_response(message: str, code: int) -> web.Response:
    reason = {400: "BadRequest", 403: "Forbidden", 404: "NotFound"}.get(code, "InternalError")
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    return web.Response(status=code, body=orjson.dumps(body), content_type="application/json")


def _wants(request: web.Request, upgrade: str) -> bool:
    return request.headers.get("Upgrade", "").lower() == upgrade.lower()


class StreamingServer:
    def __init__(self, backend: StreamingBackend,
                 authorize: Callable[[Identity | None], bool] | None = None) -> None:
        self.backend = backend
        self.authorize = authorize

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self.container_logs)
        for verb in ("exec", "attach"):
            app.router.add_route("*", f"/{verb}/{{ns}}/{{pod}}/{{container}}", self.remote_command)
        app.router.add_route("*", "/portForward/{ns}/{pod}", self.port_forward)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        if self.authorize is not None and not self.authorize(peer_identity(request)):
            who = peer_identity(request)
            return web.Response(status=403, text=f"Forbidden (user={who[0] if who else 'anonymous'}, "
                                                 f"verb={request.method.lower()}, path={request.path})")
        try:
            resp: web.StreamResponse = await handler(request)
            return resp
        except StreamingError as e:
            if request.path.startswith("/containerLogs/"):
                return web.Response(status=e.code, text=e.message)
            return _status_response(e.message, e.code)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    # ------------------------------------------------------------------ logs
    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        ns, pod, container = (request.match_info[k] for k in ("ns", "pod", "container"))
        opts = logs.parse_options(request.query, time.time_ns())
        status = await self.backend.pod_status(ns, pod)
        if status is None:
            raise StreamingError(f'pod "{ns}/{pod}" cannot be found - no logs available', 404)
        problem = logs.container_log_error(pod, container, status, opts.previous)
        if problem:
            raise StreamingError(problem)
        target = await self.backend.log_path(ns, pod, container, opts.previous)
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)

        async def out(data: bytes) -> None:
            await resp.write(data)
        with contextlib.suppress(ConnectionError):
            await logs.stream_logs(target, opts, out)
            await resp.write_eof()
        return resp

    # ------------------------------------------------------------------ exec / attach
    async def remote_command(self, request: web.Request) -> web.StreamResponse:
        ns, pod, container = (request.match_info[k] for k in ("ns", "pod", "container"))
        q = request.query
        opts = StreamOptions(stdin=_flag(q, "stdin"), stdout=_flag(q, "stdout"), stderr=_flag(q, "stderr"),
                             tty=_flag(q, "tty"))
        command = q.getall("command", [])
        is_exec = request.path.startswith("/exec/")
        if is_exec and not command:
            raise StreamingError("you must specify at least 1 command", 400)
        if not (opts.stdin or opts.stdout or opts.stderr):
            raise StreamingError("you must specify at least 1 of stdin, stdout, stderr", 400)
        spec = opts.spec(command)
        if _wants(request, "websocket"):
            offered = ch.split_header_list(request.headers.getall("Sec-WebSocket-Protocol", []))
            proto = ch.negotiate(offered, ch.WEBSOCKET_PROTOCOLS)
            if proto is None:
                raise StreamingError(f"no supported WebSocket subprotocol in {offered}; use one of "
                                     f"{list(ch.WEBSOCKET_PROTOCOLS)}", 400)
            proc = await self._start(is_exec, ns, pod, container, command, opts)
            ws = web.WebSocketResponse(protocols=[proto], autoping=True, max_msg_size=0, compress=False)
            try:
                await ws.prepare(request)
                await serve_websocket(ws, proc, spec)
            finally:
                await proc.cancel()
            return ws
        if _wants(request, ch.SPDY_UPGRADE):
            return await self._remote_command_spdy(request, spec, is_exec, (ns, pod, container), opts)
        raise StreamingError("Upgrade request required", 400)

    async def _start(self, is_exec: bool, ns: str, pod: str, container: str, command: list[str],
                     opts: StreamOptions) -> ExecSession:
        if is_exec:
            return await self.backend.exec(ns, pod, container, list(command), opts)
        return await self.backend.attach(ns, pod, container, opts)

    async def _remote_command_spdy(self, request: web.Request, spec: StreamSpec, is_exec: bool,
                                   where: tuple[str, str, str], opts: StreamOptions) -> web.StreamResponse:
        offered = ch.split_header_list(request.headers.getall("X-Stream-Protocol-Version", []))
        proto = ch.negotiate(offered, ch.SPDY_PROTOCOLS)
        if proto is None:
            return web.Response(status=403, text=f"unable to upgrade: unable to negotiate protocol: client "
                                                 f"supports {offered}, server supports {list(ch.SPDY_PROTOCOLS)}",
                                headers={"X-Accepted-Stream-Protocol-Versions": ", ".join(ch.SPDY_PROTOCOLS)})
        proc = await self._start(is_exec, *where, spec.command, opts)
        try:
            conn = await take_over(request, {"Connection": "Upgrade", "Upgrade": ch.SPDY_UPGRADE,
                                             "X-Stream-Protocol-Version": proto})
        except BaseException:
            await proc.cancel()
            raise
        session = SpdySession(conn)
        ep = SpdyEndpoint(session, spec)
        runner = asyncio.ensure_future(session.run(ep.on_stream))
        try:
            if await ep.collect():
                await run_process(ep, proc, spec)
        finally:
            await proc.cancel()
            await session.close()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        return conn.response

    # ------------------------------------------------------------------ port-forward
    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        ns, pod = request.match_info["ns"], request.match_info["pod"]
        if await self.backend.pod_status(ns, pod) is None:
            raise StreamingError("pod does not exist", 404)

        async def dial(port: int) -> Any:
            return await self.backend.port_forward(ns, pod, port)
        if _wants(request, "websocket"):
            offered = ch.split_header_list(request.headers.getall("Sec-WebSocket-Protocol", []))
            proto = ch.negotiate(offered, (ch.PORT_FORWARD_TUNNEL, ch.V4))
            if proto is None:
                raise StreamingError(f"no supported port-forward subprotocol in {offered}", 400)
            ws = web.WebSocketResponse(protocols=[proto], autoping=True, max_msg_size=0, compress=False)
            if proto == ch.PORT_FORWARD_TUNNEL:
                await ws.prepare(request)
                await self._serve_spdy_portforward(WebSocketBytes(ws), dial, f"{ns}/{pod}")
            else:
                try:
                    ports = portforward_ws.parse_ports(request.query.getall("port", []))
                except ValueError as e:
                    raise StreamingError(str(e), 400) from None
                await ws.prepare(request)
                await portforward_ws.serve(ws, ports, dial)
            return ws
        if _wants(request, ch.SPDY_UPGRADE):
            offered = ch.split_header_list(request.headers.getall("X-Stream-Protocol-Version", []))
            if ch.PORT_FORWARD_SPDY not in offered:
                return web.Response(status=403, text=f"unable to upgrade: unable to negotiate protocol: client "
                                                     f"supports {offered}, server supports "
                                                     f"[{ch.PORT_FORWARD_SPDY}]")
            conn = await take_over(request, {"Connection": "Upgrade", "Upgrade": ch.SPDY_UPGRADE,
                                             "X-Stream-Protocol-Version": ch.PORT_FORWARD_SPDY})
            await self._serve_spdy_portforward(conn, dial, f"{ns}/{pod}")
            return conn.response
        raise StreamingError("Upgrade request required", 400)

    @staticmethod
    async def _serve_spdy_portforward(transport: ByteTransport, dial: Any, describe: str) -> None:
        server = PortForwardServer(dial, describe)
        await SpdySession(transport).run(server.on_stream)


async def serve(backend: StreamingBackend, host: str, port: int, ssl_context: ssl.SSLContext | None,
                authorize: Callable[[Identity | None], bool] | None = default_authorize
                ) -> tuple[web.AppRunner, int]:
    """Start the streaming server; the caller owns the runner (`await runner.cleanup()` stops it).

    Without TLS (tests only) pass authorize=None: there is no client identity to check.
    """
    server = StreamingServer(backend, authorize if ssl_context is not None else None)
    runner = web.AppRunner(server.app(), handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    bound = port
    server_obj: Any = getattr(site, "_server", None)
    for sock in getattr(server_obj, "sockets", None) or []:
        bound = int(sock.getsockname()[1])
        break
    return runner, bound
