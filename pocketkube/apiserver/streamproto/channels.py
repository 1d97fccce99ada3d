"""The Kubernetes remote-command channel protocol: channel numbers, messages, Status, resize.

Theory of operation: over WebSocket every binary message is one channel byte
followed by payload (0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize).
v5.channel.k8s.io adds the close signal: the message [255, ch] half-closes
channel ch (kubectl sends [255, 0] at stdin EOF). v4 has no such signal. Over
SPDY the same streams are separate SPDY streams named by a `streamType`
header. The exit of the process is reported once on the error channel as a
metav1.Status JSON (v4 and later); NonZeroExitCode carries the code in
details.causes[ExitCode]. Resize messages are JSON objects
`{"Width":W,"Height":H}` (kubectl appends a newline). Everything here is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE_SIGNAL = 255

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V2 = "v2.channel.k8s.io"
V1 = "channel.k8s.io"
PORT_FORWARD_SPDY = "portforward.k8s.io"
PORT_FORWARD_TUNNEL = "SPDY/3.1+portforward.k8s.io"
SPDY_UPGRADE = "SPDY/3.1"

# WebSocket subprotocols the node agent serves for exec/attach, best first.
WEBSOCKET_PROTOCOLS = (V5, V4)
# Protocols served over SPDY (v5 is WebSocket-only upstream; SPDY has real half-close).
SPDY_PROTOCOLS = (V4,)
STREAM_TYPES = {"stdin": STDIN, "stdout": STDOUT, "stderr": STDERR, "error": ERROR, "resize": RESIZE}


def frame(channel: int, payload: bytes = b"") -> bytes:
    """One WebSocket message for channel."""
    return bytes((channel,)) + payload


def close_frame(channel: int) -> bytes:
    """v5's half-close of channel."""
    return bytes((CLOSE_SIGNAL, channel))


@dataclass(frozen=True)
class Message:
    """A decoded client message: data on a channel, or (closed=True) the close signal for it."""

    channel: int
    data: bytes = b""
    closed: bool = False


def parse_message(raw: bytes, protocol: str) -> Message | None:
    """Decode one binary WebSocket message; None for an empty message."""
    if not raw:
        return None
    channel = raw[0]
    if channel == CLOSE_SIGNAL and protocol == V5:
        if len(raw) < 2:
            return None
        return Message(raw[1], closed=True)
    return Message(channel, bytes(raw[1:]))


def negotiate(offered: list[str], supported: tuple[str, ...]) -> str | None:
    """The first of supported (server preference) the client offered."""
    wanted = {p.strip() for p in offered}
    for proto in supported:
        if proto in wanted:
            return proto
    return None


def split_header_list(values: list[str]) -> list[str]:
    """Header values that may be repeated and/or comma-separated, flattened."""
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


# ------------------------------------------------------------------ Status objects
def success_status() -> bytes:
    return orjson.dumps({"metadata": {}, "status": "Success"})


def exit_status(code: int, command: list[str] | None = None) -> bytes:
    """The Status for a finished process: Success for 0, NonZeroExitCode otherwise."""
    if code == 0:
        return success_status()
    what = f"error executing command [{' '.join(command or [])}], exit code {code}"
    return orjson.dumps({
        "metadata": {}, "status": "Failure",
        "message": f"command terminated with non-zero exit code: {what}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}})


def error_status(message: str) -> bytes:
    """A Failure Status that is not an exit code (kubectl prints the message and exits 1)."""
    return orjson.dumps({"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
                         "details": {"causes": [{"message": message}]}, "code": 500})


class RemoteError(Exception):
    """A Failure Status that did not carry an exit code."""


def exit_code_of(status_bytes: bytes) -> int:
    """The exit code a Status reports (0 for Success); RemoteError for other failures.

    Before v4 the error channel carried plain text, which is an error message.
    """
    text = status_bytes.strip()
    if not text:
        return 0
    try:
        status: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise RemoteError(text.decode(errors="replace")) from None
    if not isinstance(status, dict) or status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message", ""))
                except ValueError:
                    break
    raise RemoteError(str(status.get("message") or "unknown error"))


def parse_resizes(payload: bytes) -> list[tuple[int, int]]:
    """(width, height) of every resize JSON object in payload (one or several, newline-separated or not)."""
    out: list[tuple[int, int]] = []
    text = payload.decode(errors="replace")
    pos = 0
    while True:
        start = text.find("{", pos)
        if start < 0:
            return out
        end = text.find("}", start)
        if end < 0:
            return out
        try:
            obj = orjson.loads(text[start:end + 1])
            out.append((int(obj.get("Width", 0)), int(obj.get("Height", 0))))
        except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError):
            pass
        pos = end + 1
