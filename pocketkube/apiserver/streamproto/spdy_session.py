"""An asyncio SPDY/3.1 session: streams, replies, resets, pings, GOAWAY and flow control.

Theory of operation: `run()` reads the transport, decodes frames and
dispatches them; each stream the peer opens is answered with SYN_REPLY at once
(as Kubernetes' SPDY servers do) and handed to `on_stream` in a task the
session owns; when the transport ends every stream sees EOF and the handler
tasks are cancelled. Locally opened streams (`open_stream`, client side, odd
IDs) wait for the peer's SYN_REPLY. Writes are serialized through one lock,
which also keeps the header compressor's state in frame order. PINGs from the
peer are echoed. Flow control: received DATA is acknowledged with stream and
session WINDOW_UPDATEs once the application has read half a window (so a slow
reader pushes back on a flow-controlling peer); outgoing data honours the
peer's windows only once the peer has shown it does flow control (sent a
WINDOW_UPDATE or an initial-window SETTING) — Go's spdystream, which kubectl
and the kubelet use, never sends WINDOW_UPDATE and would stall otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from pocketkube.apiserver.streamproto import spdy_frames as f
from pocketkube.apiserver.streamproto.transport import ByteTransport

log = logging.getLogger("pocketkube.streaming.spdy")

DEFAULT_WINDOW = 65536
MAX_CHUNK = 32768
REPLY_TIMEOUT = 30.0


class StreamClosed(ConnectionError):
    """Writing to a stream that was reset or already half-closed by us."""


class SpdyStream:
    def __init__(self, session: SpdySession, stream_id: int, headers: f.Headers) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self.replied = asyncio.Event()
        self.reset_status = 0
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._remote_closed = False
        self._local_closed = False
        self._unacked = 0
        self.send_window = session.peer_initial_window

    def header(self, name: str, default: str = "") -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else default

    @property
    def is_reset(self) -> bool:
        return self.reset_status != 0

    # -------------------------------------------------------------- peer events
    def _on_data(self, data: bytes, fin: bool) -> None:
        if self._remote_closed:
            return
        if data:
            self._queue.put_nowait(data)
        if fin:
            self._remote_closed = True
            self._queue.put_nowait(b"")
            self.session._maybe_forget(self)

    def _on_reset(self, status: int) -> None:
        self.reset_status = status or f.CANCEL
        self._local_closed = True
        if not self._remote_closed:
            self._remote_closed = True
            self._queue.put_nowait(b"")
        self.replied.set()
        self.session._maybe_forget(self)

    # -------------------------------------------------------------- application
    async def read(self) -> bytes:
        """The next data; b"" once the peer half-closed or reset the stream."""
        data = await self._queue.get()
        if not data:
            self._queue.put_nowait(b"")
            return b""
        self._unacked += len(data)
        if self._unacked >= self.session.local_window // 2:
            n, self._unacked = self._unacked, 0
            await self.session._acknowledge(self, n)
        return data

    async def read_all(self, limit: int = 1 << 20) -> bytes:
        out = bytearray()
        while len(out) < limit and (chunk := await self.read()):
            out += chunk
        return bytes(out)

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._local_closed:
                raise StreamClosed(f"stream {self.id} is closed")
            n = await self.session._reserve(self, min(len(view), MAX_CHUNK))
            await self.session._send(f.DataFrame(self.id, bytes(view[:n])))
            view = view[n:]

    async def close(self) -> None:
        """Half-close: an empty DATA frame with FIN."""
        if self._local_closed:
            return
        self._local_closed = True
        with contextlib.suppress(ConnectionError):
            await self.session._send(f.DataFrame(self.id, b"", f.FLAG_FIN))
        self.session._maybe_forget(self)

    async def reset(self, status: int = f.CANCEL) -> None:
        if self.is_reset:
            return
        self._on_reset(status)
        with contextlib.suppress(ConnectionError):
            await self.session._send(f.RstStream(self.id, status))


StreamHandler = Callable[[SpdyStream], Awaitable[None]]


class SpdySession:
    def __init__(self, transport: ByteTransport, *, client: bool = False) -> None:
        self.transport = transport
        self.client = client
        self.streams: dict[int, SpdyStream] = {}
        self.local_window = DEFAULT_WINDOW
        self.peer_initial_window = DEFAULT_WINDOW
        self.session_send_window = DEFAULT_WINDOW
        self.peer_flow_control = False
        self.closed = asyncio.Event()
        self._encoder = f.FrameEncoder()
        self._decoder = f.FrameDecoder()
        self._write_lock = asyncio.Lock()
        self._window_open = asyncio.Condition()
        self._next_id = 1 if client else 2
        self._last_peer_id = 0
        self._going_away = False
        self._tasks: set[asyncio.Task[None]] = set()

    # -------------------------------------------------------------- reading
    async def run(self, on_stream: StreamHandler | None = None) -> None:
        """Serve the session until the transport ends; then end every stream and handler."""
        try:
            while data := await self.transport.read():
                for frame in self._decoder.feed(data):
                    await self._dispatch(frame, on_stream)
        except f.SpdyError as e:
            log.info("ending SPDY session: %s", e)
            with contextlib.suppress(ConnectionError):
                await self._send(f.GoAway(self._last_peer_id, 1))
        except (ConnectionError, OSError):
            pass
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        self.closed.set()
        for stream in list(self.streams.values()):
            stream._on_reset(f.CANCEL)
        async with self._window_open:
            self._window_open.notify_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            await self.transport.close()

    async def _dispatch(self, frame: f.Frame, on_stream: StreamHandler | None) -> None:
        if isinstance(frame, f.DataFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                stream._on_data(frame.data, frame.fin)
        elif isinstance(frame, f.SynStream):
            await self._on_syn_stream(frame, on_stream)
        elif isinstance(frame, f.SynReply):
            if (stream := self.streams.get(frame.stream_id)) is not None:
                stream.replied.set()
                if frame.flags & f.FLAG_FIN:
                    stream._on_data(b"", True)
        elif isinstance(frame, f.RstStream):
            if (stream := self.streams.get(frame.stream_id)) is not None:
                stream._on_reset(frame.status)
        elif isinstance(frame, f.Ping):
            if (frame.ping_id % 2 == 1) != self.client:  # the peer's ping: echo it
                await self._send(frame)
        elif isinstance(frame, f.WindowUpdate | f.Settings):
            await self._on_window(frame)
        elif isinstance(frame, f.GoAway):
            self._going_away = True

    async def _on_syn_stream(self, frame: f.SynStream, on_stream: StreamHandler | None) -> None:
        sid = frame.stream_id
        if (sid % 2 == 1) == self.client or sid <= self._last_peer_id or self._going_away:
            await self._send(f.RstStream(sid, f.PROTOCOL_ERROR if sid <= self._last_peer_id else f.REFUSED_STREAM))
            return
        self._last_peer_id = sid
        stream = SpdyStream(self, sid, frame.headers)
        stream.replied.set()
        self.streams[sid] = stream
        if frame.flags & f.FLAG_FIN:
            stream._on_data(b"", True)
        await self._send(f.SynReply(sid, {}))
        if on_stream is not None:
            task = asyncio.ensure_future(self._handle(on_stream, stream))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _handle(on_stream: StreamHandler, stream: SpdyStream) -> None:
        try:
            await on_stream(stream)
        except (ConnectionError, OSError):
            pass
        except Exception:
            log.exception("SPDY stream %d handler failed", stream.id)
            await stream.reset(f.INTERNAL_ERROR)

    async def _on_window(self, frame: f.WindowUpdate | f.Settings) -> None:
        async with self._window_open:
            self.peer_flow_control = True
            if isinstance(frame, f.WindowUpdate):
                if frame.stream_id == 0:
                    self.session_send_window += frame.delta
                elif (stream := self.streams.get(frame.stream_id)) is not None:
                    stream.send_window += frame.delta
            else:
                for _, sid, value in frame.entries:
                    if sid == f.SETTINGS_INITIAL_WINDOW_SIZE:
                        delta = value - self.peer_initial_window
                        self.peer_initial_window = value
                        for stream in self.streams.values():
                            stream.send_window += delta
            self._window_open.notify_all()

    # -------------------------------------------------------------- writing
    async def _send(self, frame: f.Frame) -> None:
        if self.closed.is_set() and not isinstance(frame, f.GoAway):
            raise StreamClosed("SPDY session closed")
        async with self._write_lock:
            await self.transport.write(self._encoder.encode(frame))

    async def _reserve(self, stream: SpdyStream, want: int) -> int:
        """How much of want may be sent now (waits while the peer's windows are shut)."""
        async with self._window_open:
            while self.peer_flow_control and min(stream.send_window, self.session_send_window) <= 0:
                if self.closed.is_set() or stream.is_reset:
                    raise StreamClosed(f"stream {stream.id} is closed")
                await self._window_open.wait()
            n = want
            if self.peer_flow_control:
                n = min(want, stream.send_window, self.session_send_window)
            stream.send_window -= n
            self.session_send_window -= n
            return n

    async def _acknowledge(self, stream: SpdyStream, n: int) -> None:
        with contextlib.suppress(ConnectionError):
            if not stream._remote_closed:
                await self._send(f.WindowUpdate(stream.id, n))
            await self._send(f.WindowUpdate(0, n))

    def _maybe_forget(self, stream: SpdyStream) -> None:
        if stream._remote_closed and stream._local_closed:
            self.streams.pop(stream.id, None)

    async def open_stream(self, headers: dict[str, str], *, fin: bool = False) -> SpdyStream:
        """Open a stream (client side) and wait for the peer's SYN_REPLY."""
        if self._going_away or self.closed.is_set():
            raise StreamClosed("SPDY session is going away")
        sid = self._next_id
        self._next_id += 2
        stream = SpdyStream(self, sid, {k.lower(): [v] for k, v in headers.items()})
        self.streams[sid] = stream
        if fin:
            stream._local_closed = True
        await self._send(f.SynStream(sid, stream.headers, f.FLAG_FIN if fin else 0))
        await asyncio.wait_for(stream.replied.wait(), REPLY_TIMEOUT)
        if stream.is_reset:
            raise StreamClosed(f"stream {sid} was refused (status {stream.reset_status})")
        return stream

    async def close(self) -> None:
        """GOAWAY, then close the transport (run() then ends)."""
        if not self.closed.is_set():
            with contextlib.suppress(ConnectionError, OSError):
                await self._send(f.GoAway(self._last_peer_id, 0))
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            await self.transport.close()
