"""A smaller TLS read buffer for asyncio connections: memory per open watch.

Why: asyncio's SSLProtocol gives every TLS connection a zero-filled 256 KiB read buffer
(`SSLProtocol.max_size`), resident from the first byte. A component opens one HTTP/1.1
connection per informer watch (aiohttp has no HTTP/2 to multiplex them as client-go does),
and the controller-manager's garbage collector alone watches every resource: an idle
cluster's components hold ~55 connections, 14 MB of buffers. A TLS record carries at
most 16 KiB of plaintext and the protocol's read loop drains the TLS object until it
would block, so a 64 KiB buffer moves the same bytes in a few more loop turns.
"""

from __future__ import annotations

from asyncio import sslproto

TLS_READ_BUFFER = 64 * 1024


def shrink_tls_read_buffers(size: int = TLS_READ_BUFFER) -> None:
    """Give connections made from now on a `size`-byte TLS read buffer (process-wide)."""
    sslproto.SSLProtocol.max_size = size
