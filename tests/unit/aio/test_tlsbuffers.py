"""The TLS read buffer of asyncio connections shrinks for connections made afterwards."""

from __future__ import annotations

import asyncio
import ssl
from asyncio import sslproto

from pocketkube.aio.tlsbuffers import TLS_READ_BUFFER, shrink_tls_read_buffers


def test_new_connections_get_the_smaller_buffer() -> None:
    before = sslproto.SSLProtocol.max_size
    try:
        shrink_tls_read_buffers()
        assert sslproto.SSLProtocol.max_size == TLS_READ_BUFFER == 64 * 1024

        async def build() -> sslproto.SSLProtocol:
            loop = asyncio.get_running_loop()
            return sslproto.SSLProtocol(loop, asyncio.Protocol(), ssl.create_default_context(), None)

        proto = asyncio.run(build())
        assert len(proto._ssl_buffer) == 64 * 1024
    finally:
        sslproto.SSLProtocol.max_size = before
