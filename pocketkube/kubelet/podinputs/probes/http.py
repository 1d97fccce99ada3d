"""httpGet probes: one GET with Go's probe client semantics (upstream pkg/probe/http).

Theory of operation: the URL is scheme://host:port + path as upstream's formatURL builds it (host
defaults to the pod IP; the path keeps its query). The request is HTTP/1.1 with `Host` (the URL's
host:port, or the probe's own Host header), `User-Agent: kube-probe/1.32` and `Accept: */*`
unless the probe's headers set them (an empty Accept removes it), the probe's headers, and
`Connection: close` (keep-alives are off); https skips certificate verification. The whole
exchange, redirects included, must finish within timeoutSeconds. Redirects are followed (at most
10) only while they stay on the same host; a redirect elsewhere is answered as it is. Status
200-299 is success, 300-399 a warning ("Probe terminated redirects, Response body: ..."), anything
else failure ("HTTP probe failed with statuscode: 500"). A connection that cannot be made or
answered is a failure whose output is Go's url.Error text, e.g. `Get "http://10.244.0.5:80/":
dial tcp 10.244.0.5:80: connect: connection refused`. At most 10 KiB of the body is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from pocketkube.kubelet.podinputs.probes import goerrors
from pocketkube.kubelet.podinputs.probes.spec import Outcome, Verdict, host_port, resolve_port

USER_AGENT = "kube-probe/1.32"
MAX_BODY = 10 * 1024
MAX_HEADER_BYTES = 1 << 20
MAX_REDIRECTS = 10
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PATH_SAFE = "/?&=:@!$'()*+,;~%#-._"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class _Failed(Exception):
    """The exchange failed; `cause` is Go's error text after the url.Error prefix."""

    def __init__(self, cause: str, url: str = "") -> None:
        super().__init__(cause)
        self.cause, self.url = cause, url


def canonical_header(name: str) -> str:
    """textproto.CanonicalMIMEHeaderKey."""
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


def probe_url(action: Mapping[str, Any], container: Mapping[str, Any], pod_ip: str) -> str:
    """formatURL: scheme://JoinHostPort(host, port) + path (PortError for a bad port)."""
    scheme = str(action.get("scheme") or "HTTP").lower()
    host = str(action.get("host") or pod_ip)
    port = resolve_port(action.get("port"), container)
    path = str(action.get("path") or "")
    if path and not path.startswith("/"):
        path = "/" + path
    return f"{scheme}://{host_port(host, port)}{quote(path, safe=_PATH_SAFE)}"


def request_headers(action: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The probe's headers (canonical names, in order) with User-Agent/Accept defaulted."""
    headers = [(canonical_header(str(h.get("name"))), str(h.get("value") or "")) for h in
               action.get("httpHeaders") or []]
    names = {n for n, _ in headers}
    if "User-Agent" not in names:
        headers.append(("User-Agent", USER_AGENT))
    if "Accept" not in names:
        headers.append(("Accept", "*/*"))
    elif all(v == "" for n, v in headers if n == "Accept"):
        headers = [(n, v) for n, v in headers if n != "Accept"]
    return headers


def _request_bytes(url: str, headers: Sequence[tuple[str, str]]) -> bytes:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = next((v for n, v in headers if n == "Host"), parts.netloc)
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{n}: {v}" for n, v in headers if n != "Host"]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            raise _Failed("EOF" if not e.partial else "unexpected EOF") from e
        except asyncio.LimitOverrunError as e:
            raise _Failed("net/http: server response headers exceeded 1048576 bytes; aborted") from e
        lines = head.decode("latin-1").split("\r\n")
        fields = lines[0].split(" ", 2)
        if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
            raise _Failed(f"net/http: HTTP/1.x transport connection broken: malformed HTTP response {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[canonical_header(name.strip())] = value.strip()
        status = int(fields[1])
        if status != 100:
            return status, headers


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = b""
        while len(body) < MAX_BODY:
            size_line = await reader.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            body += await reader.readexactly(size)
            await reader.readline()
        return body[:MAX_BODY]
    length = headers.get("Content-Length")
    if length is not None and length.isdigit():
        return await reader.readexactly(min(int(length), MAX_BODY))
    return await reader.read(MAX_BODY)


async def _exchange(url: str, headers: Sequence[tuple[str, str]]) -> Response:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    tls = None
    if parts.scheme == "https":
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    addr = host_port(host, port)
    try:
        reader, writer = await asyncio.open_connection(host, port, ssl=tls, limit=MAX_HEADER_BYTES)
    except ssl.SSLError as e:
        raise _Failed(f"remote error: tls: {e.reason or e}") from e
    except OSError as e:
        raise _Failed(goerrors.dial_error(addr, e)) from e
    try:
        writer.write(_request_bytes(url, headers))
        await writer.drain()
        status, got = await _read_head(reader)
        try:
            body = await _read_body(reader, got) if status not in (204, 304) else b""
        except (asyncio.IncompleteReadError, ValueError, OSError):
            body = b""
        return Response(status, got, body)
    except ConnectionError as e:
        sock = writer.get_extra_info("sockname") or ("", 0)
        raise _Failed(goerrors.read_error(host_port(str(sock[0]), int(sock[1])), addr, e)) from e
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _get(url: str, headers: Sequence[tuple[str, str]]) -> Response:
    """GET with same-host redirects (Go's client with followNonLocalRedirects=false)."""
    origin = urlsplit(url).hostname
    current = url
    for hops in range(MAX_REDIRECTS + 1):
        try:
            response = await _exchange(current, headers)
        except _Failed as e:
            e.url = e.url or current
            raise
        location = response.headers.get("Location")
        if response.status not in REDIRECTS or not location:
            return response
        nxt = urljoin(current, location)
        if urlsplit(nxt).hostname != origin:
            return response
        if hops + 1 >= MAX_REDIRECTS:
            raise _Failed("stopped after 10 redirects", nxt)
        current = nxt
        headers = [(n, v) for n, v in headers if n != "Host"]
    raise _Failed("stopped after 10 redirects", current)


def classify(response: Response) -> Outcome:
    body = response.body.decode("utf-8", errors="replace")
    if 200 <= response.status < 400:
        if response.status >= 300:
            return Outcome(Verdict.WARNING, f"Probe terminated redirects, Response body: {body}")
        return Outcome(Verdict.SUCCESS, body)
    return Outcome(Verdict.FAILURE, f"HTTP probe failed with statuscode: {response.status}")


async def probe(url: str, headers: Sequence[tuple[str, str]], timeout: float) -> Outcome:
    try:
        async with asyncio.timeout(timeout):
            response = await _get(url, headers)
    except TimeoutError:
        return Outcome(Verdict.FAILURE, goerrors.url_error("Get", url, goerrors.CLIENT_TIMEOUT_HEADERS))
    except _Failed as e:
        return Outcome(Verdict.FAILURE, goerrors.url_error("Get", e.url or url, e.cause))
    return classify(response)
