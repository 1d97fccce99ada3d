"""An in-memory ByteTransport pair for protocol tests."""

from __future__ import annotations

import asyncio


class MemTransport:
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.peer: MemTransport | None = None
        self.closed = False
        self.written: list[bytes] = []

    async def read(self) -> bytes:
        data = await self.inbox.get()
        if not data:
            self.inbox.put_nowait(b"")
        return data

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionResetError("closed")
        self.written.append(data)
        assert self.peer is not None
        self.peer.inbox.put_nowait(data)

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.inbox.put_nowait(b"")
            assert self.peer is not None
            self.peer.inbox.put_nowait(b"")


def pair() -> tuple[MemTransport, MemTransport]:
    a, b = MemTransport(), MemTransport()
    a.peer, b.peer = b, a
    return a, b
