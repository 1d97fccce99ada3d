"""The API's time formats, as pure functions of epoch seconds.

Theory of operation: the agent keeps time as float epoch seconds (wall clock,
because the API speaks wall-clock timestamps) and formats only at the edge of
an object: `Time` fields are RFC 3339 with second precision
("2025-01-02T03:04:05Z"), `MicroTime` fields (Lease.renewTime) carry
microseconds, and event messages print durations the way Go's
`time.Duration.String` does after truncation to milliseconds ("512ms",
"8.916s", "5m0s"), which is what the kubelet's messages contain.
"""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(t: float) -> str:
    """metav1.Time: seconds precision, UTC, 'Z' suffix."""
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(t: float) -> str:
    """metav1.MicroTime: microseconds precision, UTC, 'Z' suffix."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp, or None."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def go_duration(seconds: float) -> str:
    """Go's Duration.String of `seconds` truncated to milliseconds."""
    ms = int(seconds * 1000)
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, frac = divmod(rest, 1000)
    text = f"{secs}" + (f".{frac:03d}".rstrip("0") if frac else "") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text
