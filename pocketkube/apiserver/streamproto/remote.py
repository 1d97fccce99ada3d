"""Client side of the streaming protocols: exec/attach and port-forward against a SPDY streaming server.

Theory of operation: containerd's CRI streaming server hands out single-use
URLs and speaks v4.channel.k8s.io (SPDY or WebSocket) and portforward.k8s.io
(SPDY), never v5. kubectl's v5 close signal means "stdin EOF", which v4 over
WebSocket cannot express, but SPDY can (FIN on the stdin stream); so the node
agent bridges to the CRI server over SPDY. `exec_over_spdy` upgrades, opens
the streams the options call for (error first, as client-go does) and returns
a `RemoteProcess` with the node agent's process shape; its `wait()` reads the
Status from the error stream. `dial_port_over_spdy` opens one error/data pair
for one connection and closes the whole session with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import orjson

from pocketkube.apiserver.streamproto import channels as ch
from pocketkube.apiserver.streamproto.http1 import UpgradeError, open_upgrade
from pocketkube.apiserver.streamproto.portforward import PortForwarder, SpdyStreamBytes
from pocketkube.apiserver.streamproto.remotecommand import StreamSpec
from pocketkube.apiserver.streamproto.spdy_session import SpdySession, SpdyStream

EXEC_PROTOCOLS = (ch.V4, ch.V3, ch.V2, ch.V1)


async def _spdy_session(url: str, protocols: tuple[str, ...],
                        ssl_context: ssl.SSLContext | None) -> tuple[SpdySession, asyncio.Future[None]]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = [("Connection", "Upgrade"), ("Upgrade", ch.SPDY_UPGRADE), ("Content-Length", "0")]
    headers += [("X-Stream-Protocol-Version", p) for p in protocols]
    resp = await open_upgrade(host, port, "POST", target, headers,
                              ssl_context=ssl_context if parts.scheme == "https" else None)
    if resp.status != 101 or resp.conn is None:
        text = resp.body.decode(errors="replace").strip()
        raise UpgradeError(f"streaming server answered {resp.status}: {text}")
    session = SpdySession(resp.conn, client=True)
    return session, asyncio.ensure_future(session.run())


class RemoteProcess:
    """A process behind a SPDY v4 remote-command connection."""

    def __init__(self, session: SpdySession, runner: asyncio.Future[None],
                 streams: dict[int, SpdyStream]) -> None:
        self.session = session
        self.runner = runner
        self.streams = streams

    async def write_stdin(self, data: bytes) -> None:
        if (s := self.streams.get(ch.STDIN)) is not None:
            await s.write(data)

    async def close_stdin(self) -> None:
        if (s := self.streams.get(ch.STDIN)) is not None:
            await s.close()

    async def _read(self, channel: int) -> AsyncIterator[bytes]:
        stream = self.streams.get(channel)
        if stream is None:
            return
        while chunk := await stream.read():
            yield chunk

    def stdout(self) -> AsyncIterator[bytes]:
        return self._read(ch.STDOUT)

    def stderr(self) -> AsyncIterator[bytes]:
        return self._read(ch.STDERR)

    async def resize(self, width: int, height: int) -> None:
        if (s := self.streams.get(ch.RESIZE)) is not None:
            await s.write(orjson.dumps({"Width": width, "Height": height}))

    async def wait(self) -> int:
        try:
            status = await self.streams[ch.ERROR].read_all(65536)
            return ch.exit_code_of(status)
        finally:
            await self.cancel()

    async def cancel(self) -> None:
        await self.session.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.runner, 5.0)


async def exec_over_spdy(url: str, spec: StreamSpec, ssl_context: ssl.SSLContext | None = None) -> RemoteProcess:
    session, runner = await _spdy_session(url, EXEC_PROTOCOLS, ssl_context)
    wanted = [("error", ch.ERROR)]
    wanted += [("stdin", ch.STDIN)] if spec.stdin else []
    wanted += [("stdout", ch.STDOUT)] if spec.stdout else []
    wanted += [("stderr", ch.STDERR)] if spec.stderr and not spec.tty else []
    wanted += [("resize", ch.RESIZE)] if spec.tty else []
    streams: dict[int, SpdyStream] = {}
    try:
        for name, channel in wanted:
            streams[channel] = await session.open_stream({"streamType": name})
    except BaseException:
        await session.close()
        runner.cancel()
        raise
    return RemoteProcess(session, runner, streams)


class _SessionConnection(SpdyStreamBytes):
    def __init__(self, inner: SpdyStreamBytes, session: SpdySession, runner: asyncio.Future[None]) -> None:
        super().__init__(inner.data, inner.error)
        self.session = session
        self.runner = runner

    async def close(self) -> None:
        await self.session.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.runner, 5.0)


async def dial_port_over_spdy(url: str, port: int, ssl_context: ssl.SSLContext | None = None) -> SpdyStreamBytes:
    session, runner = await _spdy_session(url, (ch.PORT_FORWARD_SPDY,), ssl_context)
    try:
        inner = await PortForwarder(session).connect(port)
    except BaseException:
        await session.close()
        runner.cancel()
        raise
    return _SessionConnection(inner, session, runner)
