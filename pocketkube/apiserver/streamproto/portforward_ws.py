"""Port-forward over WebSocket channels (v4.channel.k8s.io with `?port=`), as the Python client uses it.

Theory of operation: the request names the ports (`port=80&port=443`, or
comma-separated); port i gets data channel 2i and error channel 2i+1. The
server first sends each port number as a little-endian uint16 on both of its
channels, dials every port, then copies: client messages on a data channel go
to that port's connection, the connection's bytes come back on the data
channel, and a dial failure is sent as text on the error channel. The
WebSocket closes when every connection has ended or the client leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from pocketkube.apiserver.streamproto import channels as ch


def parse_ports(values: list[str]) -> list[int]:
    ports = []
    for value in values:
        for part in value.split(","):
            port = int(part)
            if not 0 < port < 65536:
                raise ValueError(f"invalid port {part}")
            ports.append(port)
    if not ports:
        raise ValueError("query parameter \"port\" is required")
    return ports


async def serve(ws: web.WebSocketResponse, ports: list[int], dial: Callable[[int], Awaitable[Any]]) -> None:
    lock = asyncio.Lock()

    async def send(channel: int, data: bytes) -> None:
        async with lock:
            if not ws.closed:
                await ws.send_bytes(ch.frame(channel, data))

    conns: dict[int, Any] = {}
    for i, port in enumerate(ports):
        for channel in (2 * i, 2 * i + 1):
            await send(channel, struct.pack("<H", port))
        try:
            conns[i] = await dial(port)
        except Exception as e:
            await send(2 * i + 1, str(e).encode())

    async def from_pod(i: int, conn: Any) -> None:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            while data := await conn.read():
                await send(2 * i, data)

    readers = [asyncio.ensure_future(from_pod(i, c)) for i, c in conns.items()]

    async def close_when_done() -> None:
        await asyncio.gather(*readers, return_exceptions=True)
        await ws.close(code=WSCloseCode.OK)
    closer = asyncio.ensure_future(close_when_done())
    try:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or len(msg.data) < 1:
                continue
            channel, data = msg.data[0], bytes(msg.data[1:])
            conn = conns.get(channel // 2)
            if channel % 2 == 0 and conn is not None and data:
                with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                    await conn.write(data)
    finally:
        for t in [*readers, closer]:
            t.cancel()
        await asyncio.gather(*readers, closer, return_exceptions=True)
        for conn in conns.values():
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                await conn.close()
