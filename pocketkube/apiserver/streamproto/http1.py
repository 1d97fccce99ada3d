"""A minimal HTTP/1.1 client for upgrade requests (WebSocket or SPDY), plain or TLS.

Theory of operation: an upgrade must own its connection, and aiohttp's client
only knows WebSocket upgrades, so this writes the request head itself, reads
the response head, and then either hands over the raw connection (101) or
reads a bounded body (any other status: Content-Length, chunked, or until
close) so the caller can relay the error. Header names keep their case on the
way out; response headers are returned as an ordered list of pairs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field

from pocketkube.apiserver.streamproto.transport import StreamBytes

MAX_HEAD = 64 * 1024
MAX_ERROR_BODY = 1 << 20


class UpgradeError(ConnectionError):
    """The peer could not be reached or spoke something other than HTTP/1.1."""


@dataclass
class UpgradeResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    conn: StreamBytes | None = None  # set when status == 101

    def header(self, name: str) -> str:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return ""


def request_head(method: str, target: str, host: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_head(head: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise UpgradeError(f"malformed response line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


async def _read_body(reader: asyncio.StreamReader, resp: UpgradeResponse) -> bytes:
    length = resp.header("Content-Length")
    if length.isdigit():
        return await reader.readexactly(min(int(length), MAX_ERROR_BODY))
    if "chunked" in resp.header("Transfer-Encoding").lower():
        out = bytearray()
        while len(out) < MAX_ERROR_BODY:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            out += await reader.readexactly(size)
            await reader.readline()
        return bytes(out)
    return await reader.read(MAX_ERROR_BODY)


async def open_upgrade(host: str, port: int, method: str, target: str, headers: list[tuple[str, str]], *,
                       ssl_context: ssl.SSLContext | None = None, server_hostname: str | None = None,
                       timeout: float = 30.0) -> UpgradeResponse:
    """Send an upgrade request; the connection in the result is open only for a 101."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            host, port, ssl=ssl_context, server_hostname=(server_hostname or host) if ssl_context else None,
            limit=MAX_HEAD), timeout)
    except (OSError, TimeoutError, ssl.SSLError) as e:
        raise UpgradeError(f"dial {host}:{port}: {e}") from None
    conn = StreamBytes(reader, writer)
    try:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        writer.write(request_head(method, target, authority, headers))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status, reason, resp_headers = parse_head(head[:-4])
        resp = UpgradeResponse(status, reason, resp_headers)
        if status == 101:
            resp.conn = conn
            return resp
        resp.body = await asyncio.wait_for(_read_body(reader, resp), timeout)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
        await conn.close()
        raise UpgradeError(f"upgrade request to {host}:{port} failed: {e}") from None
    with contextlib.suppress(OSError):
        await conn.close()
    return resp
