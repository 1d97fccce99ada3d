"""Port-forward over SPDY (portforward.k8s.io): pairing error/data streams and forwarding them.

Theory of operation (server side): for every local TCP connection kubectl
opens two streams with the same `requestID` and `port` headers, first
`streamType=error` (which it half-closes at once) and then `streamType=data`.
When both halves of a pair are there, `dial(port)` connects to the pod's port;
bytes are copied both ways; the client's FIN on the data stream half-closes
the pod connection; when the pod closes, the data stream and then the error
stream are half-closed, which ends kubectl's wait for that connection. A dial
failure is written as text on the error stream (kubectl prints
`an error occurred forwarding L -> R: <text>`). The client side (`PortForwarder`)
opens such pairs on a session to a CRI streaming server and presents the data
stream as a byte connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from typing import Protocol

from pocketkube.apiserver.streamproto.spdy_session import SpdySession, SpdyStream


class PodConnection(Protocol):
    async def read(self) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    async def close_write(self) -> None: ...

    async def close(self) -> None: ...


Dialer = Callable[[int], Awaitable[PodConnection]]


class PortForwardServer:
    def __init__(self, dial: Dialer, describe: str) -> None:
        self.dial = dial
        self.describe = describe  # e.g. "default/web-1" for error messages
        self._pending: dict[str, dict[str, SpdyStream]] = {}

    async def on_stream(self, stream: SpdyStream) -> None:
        kind = stream.header("streamtype")
        if kind not in ("error", "data"):
            await stream.reset()
            return
        key = stream.header("requestid") or f"port-{stream.header('port')}"
        pair = self._pending.setdefault(key, {})
        pair[kind] = stream
        if len(pair) == 2:
            del self._pending[key]
            await self.forward(pair["error"], pair["data"])

    async def forward(self, error: SpdyStream, data: SpdyStream) -> None:
        port_text = data.header("port")
        try:
            port = int(port_text)
            if not 0 < port < 65536:
                raise ValueError(port_text)
        except ValueError:
            await self._fail(error, data, f'invalid port header "{port_text}"')
            return
        try:
            conn = await self.dial(port)
        except Exception as e:
            await self._fail(error, data, f"error forwarding port {port} to pod {self.describe}: {e}")
            return
        try:
            await _copy_both(data, conn)
        finally:
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                await conn.close()
            await data.close()
            await error.close()

    @staticmethod
    async def _fail(error: SpdyStream, data: SpdyStream, message: str) -> None:
        with contextlib.suppress(ConnectionError):
            await error.write(message.encode())
        await error.close()
        await data.close()


async def _copy_both(stream: SpdyStream, conn: PodConnection) -> None:
    async def to_pod() -> None:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            while chunk := await stream.read():
                await conn.write(chunk)
            await conn.close_write()

    async def from_pod() -> None:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            while chunk := await conn.read():
                await stream.write(chunk)

    up = asyncio.ensure_future(to_pod())
    try:
        await from_pod()
    finally:
        if stream.is_reset or not up.done():
            up.cancel()
        await asyncio.gather(up, return_exceptions=True)


class SpdyStreamBytes:
    """A SPDY data stream as a PodConnection (client side); error text is raised on read."""

    def __init__(self, data: SpdyStream, error: SpdyStream) -> None:
        self.data = data
        self.error = error

    async def read(self) -> bytes:
        chunk = await self.data.read()
        if not chunk and not self.error.is_reset:
            message = await asyncio.wait_for(self.error.read_all(65536), 5.0)
            if message:
                raise ConnectionError(message.decode(errors="replace"))
        return chunk

    async def write(self, data: bytes) -> None:
        await self.data.write(data)

    async def close_write(self) -> None:
        await self.data.close()

    async def close(self) -> None:
        await self.data.reset()
        await self.error.reset()


class PortForwarder:
    """Client side: opens error/data pairs on a session (to a CRI streaming server)."""

    def __init__(self, session: SpdySession) -> None:
        self.session = session
        self._ids = itertools.count()

    async def connect(self, port: int) -> SpdyStreamBytes:
        rid = str(next(self._ids))
        error = await self.session.open_stream({"streamType": "error", "port": str(port), "requestID": rid})
        await error.close()
        data = await self.session.open_stream({"streamType": "data", "port": str(port), "requestID": rid})
        return SpdyStreamBytes(data, error)
