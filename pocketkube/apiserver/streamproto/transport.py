"""Byte transports under the streaming protocols, and taking over an aiohttp connection after a 101.

Theory of operation: SPDY and the upgrade proxy only need "read some bytes /
write bytes / close", so three adapters give them that shape: a connection
taken over from aiohttp's server after answering 101 Switching Protocols (for
`Upgrade: SPDY/3.1`, which aiohttp's parser does not know, and for the
apiserver's byte-for-byte proxy), a WebSocket whose binary messages carry the
byte stream (SPDY tunnelled in WebSocket), and a plain asyncio stream pair
(outgoing connections). `take_over` installs a payload sink on aiohttp's
protocol *before* writing the 101, so every byte the client sends afterwards
lands in our queue instead of aiohttp's HTTP parser; reading pauses the socket
when the queue holds more than a high-water mark (backpressure).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Protocol

from aiohttp import WSMsgType, web
from aiohttp.client_ws import ClientWebSocketResponse

HIGH_WATER = 1 << 20


class ByteTransport(Protocol):
    async def read(self) -> bytes:
        """The next bytes available; b"" at end of stream."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class _Sink:
    """What aiohttp's protocol feeds raw bytes to once we own the connection."""

    def __init__(self, owner: HijackedConnection) -> None:
        self.owner = owner

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.owner._feed(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self.owner._feed(b"")


class HijackedConnection:
    """The raw byte stream of an aiohttp server connection after a 101 answer."""

    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        self._request = request
        self.response = response
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._buffered = 0
        self._paused = False
        self._eof = False

    def _feed(self, data: bytes) -> None:
        if self._eof:
            return
        self._eof = not data
        self._buffered += len(data)
        self._queue.put_nowait(data)
        transport = self._request.transport
        if self._buffered > HIGH_WATER and transport is not None and not self._paused:
            self._paused = True
            transport.pause_reading()

    async def read(self) -> bytes:
        data = await self._queue.get()
        if not data:
            self._queue.put_nowait(b"")  # later reads see EOF too
        self._buffered -= len(data)
        transport = self._request.transport
        if self._paused and self._buffered < HIGH_WATER // 2 and transport is not None:
            self._paused = False
            transport.resume_reading()
        return data

    async def write(self, data: bytes) -> None:
        if data:
            await self.response.write(data)

    async def close(self) -> None:
        transport = self._request.transport
        if transport is not None:
            transport.close()
        self._feed(b"")


async def take_over(request: web.Request, headers: Mapping[str, str]) -> HijackedConnection:
    """Answer 101 with headers and return the connection's byte stream."""
    response = web.StreamResponse(status=101, headers=dict(headers))
    response.force_close()
    conn = HijackedConnection(request, response)
    request.protocol.set_parser(_Sink(conn))  # type: ignore[arg-type]
    await response.prepare(request)
    return conn


class WebSocketBytes:
    """A byte stream carried in the binary messages of a WebSocket (either end)."""

    def __init__(self, ws: web.WebSocketResponse | ClientWebSocketResponse) -> None:
        self.ws = ws

    async def read(self) -> bytes:
        while True:
            msg = await self.ws.receive()
            if msg.type == WSMsgType.BINARY:
                if msg.data:
                    return bytes(msg.data)
                continue
            if msg.type == WSMsgType.TEXT:
                continue
            return b""  # CLOSE, CLOSING, CLOSED, ERROR

    async def write(self, data: bytes) -> None:
        if data and not self.ws.closed:
            await self.ws.send_bytes(data)

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close()


class StreamBytes:
    """An asyncio stream pair as a ByteTransport."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read(self) -> bytes:
        try:
            return await self.reader.read(65536)
        except (ConnectionError, OSError):
            return b""

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close_write(self) -> None:
        if self.writer.can_write_eof() and not self.writer.is_closing():
            with contextlib.suppress(ConnectionError, OSError):
                self.writer.write_eof()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


async def pipe(src: ByteTransport, dst: ByteTransport) -> None:
    """Copy src to dst until src ends; then close dst."""
    try:
        while data := await src.read():
            await dst.write(data)
    except (ConnectionError, OSError, RuntimeError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            await dst.close()


async def splice(a: ByteTransport, b: ByteTransport) -> None:
    """Copy both ways until either side ends, then close both."""
    tasks = [asyncio.ensure_future(pipe(a, b)), asyncio.ensure_future(pipe(b, a))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for side in (a, b):
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                await side.close()
