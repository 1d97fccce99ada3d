"""Serving exec/attach: a process session over WebSocket channels (v4/v5) or SPDY streams (v4).

Theory of operation: both transports are reduced to an `Endpoint` (send on a
channel, receive stdin/close/resize messages, finish with a Status), and one
core, `run_process`, drives the `Process` the node agent started: client
messages go to stdin (v5's [255,0] or a SPDY FIN on the stdin stream becomes
stdin EOF) and resize; stdout/stderr are pumped to their channels until the
process closes them; then the exit code (or failure) becomes the Status on the
error channel and the connection is closed. If the client goes away first the
process is cancelled. Over WebSocket the server first sends an empty message on
every channel it will write, as upstream does; in TTY mode channel 2 is never
used. Over SPDY the client opens one stream per channel (header `streamType`);
`SpdyEndpoint.collect` waits for the streams the options call for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import WSCloseCode, WSMsgType, web

from pocketkube.apiserver.streamproto import channels as ch
from pocketkube.apiserver.streamproto.spdy_session import SpdySession, SpdyStream

STREAM_WAIT = 30.0


class Process(Protocol):
    """What a node agent's runtime gives for an exec or attach (kubelet/streaming_backend calls it ExecSession)."""

    async def write_stdin(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    def stdout(self) -> AsyncIterator[bytes]: ...

    def stderr(self) -> AsyncIterator[bytes]: ...

    async def resize(self, width: int, height: int) -> None: ...

    async def wait(self) -> int: ...

    async def cancel(self) -> None: ...


@dataclass(frozen=True)
class StreamOptions:
    """Which streams a session has (the request's stdin/stdout/stderr/tty); node agents take these."""

    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    tty: bool = False

    def spec(self, command: list[str] | None = None) -> StreamSpec:
        """These options with `command` (none for attach)."""
        return StreamSpec(self.stdin, self.stdout, self.stderr, self.tty, list(command or []))


@dataclass(frozen=True)
class StreamSpec(StreamOptions):
    command: list[str] = field(default_factory=list)

    @property
    def channels_out(self) -> list[int]:
        out = [ch.STDOUT] if self.stdout else []
        if self.stderr and not self.tty:
            out.append(ch.STDERR)
        return out


class Endpoint(Protocol):
    async def send(self, channel: int, data: bytes) -> None: ...

    def incoming(self) -> AsyncIterator[ch.Message]: ...

    async def finish(self, status: bytes) -> None: ...


# ------------------------------------------------------------------ the core
async def run_process(ep: Endpoint, proc: Process, spec: StreamSpec) -> None:
    client_gone = asyncio.Event()

    async def from_client() -> None:
        stdin_open = True
        async for msg in ep.incoming():
            if msg.channel == ch.STDIN and stdin_open:
                if msg.closed:
                    stdin_open = False
                    await proc.close_stdin()
                elif msg.data:
                    await proc.write_stdin(msg.data)
            elif msg.channel == ch.RESIZE and not msg.closed:
                for w, h in ch.parse_resizes(msg.data):
                    await proc.resize(w, h)
        client_gone.set()
        await proc.cancel()

    async def pump(channel: int, source: AsyncIterator[bytes]) -> None:
        async for chunk in source:
            if chunk:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ep.send(channel, chunk)

    reader = asyncio.ensure_future(from_client())
    try:
        pumps = [pump(ch.STDOUT, proc.stdout())] if spec.stdout else []
        if spec.stderr and not spec.tty:
            pumps.append(pump(ch.STDERR, proc.stderr()))
        await asyncio.gather(*pumps)
        try:
            status = ch.exit_status(await proc.wait(), spec.command)
        except Exception as e:  # the runtime's failure becomes the Status message
            status = ch.error_status(str(e) or type(e).__name__)
        if not client_gone.is_set():
            await ep.finish(status)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


# ------------------------------------------------------------------ WebSocket
class WebSocketEndpoint:
    def __init__(self, ws: web.WebSocketResponse, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self._lock = asyncio.Lock()

    async def open(self, spec: StreamSpec) -> None:
        for channel in [*spec.channels_out, ch.ERROR]:
            await self.send(channel, b"")

    async def send(self, channel: int, data: bytes) -> None:
        async with self._lock:
            if not self.ws.closed:
                await self.ws.send_bytes(ch.frame(channel, data))

    async def incoming(self) -> AsyncIterator[ch.Message]:
        async for msg in self.ws:
            if msg.type == WSMsgType.BINARY:
                parsed = ch.parse_message(msg.data, self.protocol)
                if parsed is not None:
                    yield parsed
            elif msg.type == WSMsgType.TEXT and msg.data:
                parsed = ch.parse_message(msg.data.encode(), self.protocol)
                if parsed is not None:
                    yield parsed

    async def finish(self, status: bytes) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(ch.ERROR, status)
            await self.ws.close(code=WSCloseCode.OK)


async def serve_websocket(ws: web.WebSocketResponse, proc: Process, spec: StreamSpec) -> None:
    ep = WebSocketEndpoint(ws, ws.ws_protocol or ch.V4)
    await ep.open(spec)
    await run_process(ep, proc, spec)


# ------------------------------------------------------------------ SPDY
class SpdyEndpoint:
    """Channels as SPDY streams; collects the client's streams as they open."""

    def __init__(self, session: SpdySession, spec: StreamSpec) -> None:
        self.session = session
        self.spec = spec
        self.streams: dict[int, SpdyStream] = {}
        self._complete = asyncio.Event()

    def expected(self) -> set[int]:
        want = {ch.ERROR, *self.spec.channels_out}
        if self.spec.stdin:
            want.add(ch.STDIN)
        if self.spec.tty:
            want.add(ch.RESIZE)
        return want

    async def on_stream(self, stream: SpdyStream) -> None:
        channel = ch.STREAM_TYPES.get(stream.header("streamtype"))
        if channel is None:
            await stream.reset()
            return
        self.streams[channel] = stream
        if self.expected() <= set(self.streams):
            self._complete.set()

    async def collect(self) -> bool:
        try:
            await asyncio.wait_for(self._complete.wait(), STREAM_WAIT)
            return True
        except TimeoutError:
            return False

    async def send(self, channel: int, data: bytes) -> None:
        stream = self.streams.get(channel)
        if stream is not None:
            await stream.write(data)

    async def incoming(self) -> AsyncIterator[ch.Message]:
        queue: asyncio.Queue[ch.Message | None] = asyncio.Queue()

        async def drain(channel: int, stream: SpdyStream) -> None:
            while data := await stream.read():
                queue.put_nowait(ch.Message(channel, data))
            queue.put_nowait(ch.Message(channel, closed=True))

        readers = [asyncio.ensure_future(drain(c, s)) for c, s in self.streams.items() if c in (ch.STDIN, ch.RESIZE)]
        closed_watch = asyncio.ensure_future(self.session.closed.wait())
        closed_watch.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (msg := await queue.get()) is not None:
                yield msg
        finally:
            for t in [*readers, closed_watch]:
                t.cancel()
            await asyncio.gather(*readers, closed_watch, return_exceptions=True)

    async def finish(self, status: bytes) -> None:
        with contextlib.suppress(ConnectionError):
            await self.send(ch.ERROR, status)
            for stream in self.streams.values():
                await stream.close()
        await self.session.close()
