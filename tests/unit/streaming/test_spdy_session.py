"""The asyncio SPDY session: streams both ways, FIN, RST, PING, GOAWAY and flow control."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from memtransport import pair

from pocketkube.apiserver.streamproto import spdy_frames as f
from pocketkube.apiserver.streamproto.spdy_session import SpdySession, SpdyStream, StreamClosed, StreamHandler


async def echo(stream: SpdyStream) -> None:
    while data := await stream.read():
        await stream.write(data.upper())
    await stream.close()


@asynccontextmanager
async def sessions(handler: StreamHandler = echo) -> AsyncIterator[tuple[SpdySession, SpdySession]]:
    a, b = pair()
    client, server = SpdySession(a, client=True), SpdySession(b)
    tasks = [asyncio.ensure_future(server.run(handler)), asyncio.ensure_future(client.run())]
    try:
        yield client, server
    finally:
        await client.close()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)


async def test_stream_round_trip_and_half_close() -> None:
    async with sessions() as (client, server):
        s = await client.open_stream({"streamType": "data", "port": "80"})
        assert s.id == 1
        await s.write(b"hello")
        assert await s.read() == b"HELLO"
        await s.close()
        assert await s.read() == b""  # the server's FIN after our FIN
        s2 = await client.open_stream({"streamType": "data"})
        assert s2.id == 3
        assert server.streams[3].header("streamtype") == "data"


async def test_large_writes_are_chunked() -> None:
    async with sessions() as (client, _):
        s = await client.open_stream({})
        payload = b"x" * 200_000
        await s.write(payload)
        await s.close()
        got = await s.read_all(1 << 21)
        assert got == payload.upper()


async def test_reset_ends_reads_and_writes() -> None:
    seen: list[SpdyStream] = []

    async def hold(stream: SpdyStream) -> None:
        seen.append(stream)
        assert await stream.read() == b""

    async with sessions(hold) as (client, _):
        s = await client.open_stream({})
        await s.reset()
        try:
            await s.write(b"x")
            raise AssertionError("write after reset")
        except StreamClosed:
            pass
        await asyncio.sleep(0)
        assert seen and await asyncio.wait_for(seen[0].read(), 2) == b""


async def test_ping_is_echoed_and_goaway_refuses_streams() -> None:
    a, b = pair()
    server = SpdySession(b)
    task = asyncio.ensure_future(server.run(echo))
    enc, dec = f.FrameEncoder(), f.FrameDecoder()
    await a.write(enc.encode(f.Ping(1)))
    assert dec.feed(await a.read()) == [f.Ping(1)]
    await a.write(enc.encode(f.SynStream(2, {})))  # even id from a client: protocol error
    assert dec.feed(await a.read()) == [f.RstStream(2, f.REFUSED_STREAM)]
    await a.write(enc.encode(f.GoAway(0)) + enc.encode(f.SynStream(1, {})))
    assert dec.feed(await a.read()) == [f.RstStream(1, f.REFUSED_STREAM)]
    await a.close()
    await asyncio.wait_for(task, 5)
    assert server.closed.is_set()


async def test_flow_control_applies_once_the_peer_uses_it() -> None:
    a, b = pair()
    server = SpdySession(b)
    sent: list[SpdyStream] = []

    async def big(stream: SpdyStream) -> None:
        sent.append(stream)
        await stream.write(b"y" * 100_000)
        await stream.close()

    task = asyncio.ensure_future(server.run(big))
    enc, dec = f.FrameEncoder(), f.FrameDecoder()
    await a.write(enc.encode(f.Settings([(0, f.SETTINGS_INITIAL_WINDOW_SIZE, 1000)])))
    await a.write(enc.encode(f.SynStream(1, {})))
    received = 0
    while received < 1000:
        for fr in dec.feed(await a.read()):
            if isinstance(fr, f.DataFrame):
                received += len(fr.data)
    for _ in range(5):
        await asyncio.sleep(0)
    assert received == 1000  # the window is shut
    await a.write(enc.encode(f.WindowUpdate(1, 1_000_000)))  # the session window is still 64 KiB - 1000
    while received < 65536:
        for fr in dec.feed(await a.read()):
            if isinstance(fr, f.DataFrame):
                received += len(fr.data)
    assert received == 65536
    await a.write(enc.encode(f.WindowUpdate(0, 1_000_000)))
    fin = False
    while not fin:
        for fr in dec.feed(await a.read()):
            if isinstance(fr, f.DataFrame):
                received += len(fr.data)
                fin = fin or fr.fin
    assert received == 100_000
    await a.close()
    await asyncio.wait_for(task, 5)


async def test_reader_acknowledges_data_with_window_updates() -> None:
    a, b = pair()
    server = SpdySession(b)
    task = asyncio.ensure_future(server.run(echo))
    enc = f.FrameEncoder()
    await a.write(enc.encode(f.SynStream(1, {})) + enc.encode(f.DataFrame(1, b"z" * 40_000)))
    dec = f.FrameDecoder()
    frames: list[f.Frame] = []
    while not any(isinstance(fr, f.WindowUpdate) and fr.stream_id == 0 for fr in frames):
        frames += dec.feed(await a.read())
    assert f.WindowUpdate(1, 40_000) in frames and f.WindowUpdate(0, 40_000) in frames
    await a.close()
    await asyncio.wait_for(task, 5)
