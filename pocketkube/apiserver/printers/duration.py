"""Age strings and timestamps as the upstream printers render them.

Theory of operation: every AGE-like cell is `HumanDuration(now - t)` (apimachinery
`pkg/util/duration`), a coarse two-significant-unit rendering whose precision drops as
the duration grows (`59s`, `5m4s`, `34m`, `2h10m`, `5h`, `3d4h`, `12d`, `2y30d`, ...).
Go truncates toward zero at each step; for the non-negative durations that matter the
integer arithmetic below is the same. Durations below -1s print `<invalid>` and
between -1s and 0 print `0s` (clock skew tolerance).

Timestamps arrive as the API serves them: RFC 3339 strings (`metav1.Time`, second
precision) or RFC 3339 with fractions (`metav1.MicroTime`). Parsing is memoised
because a list of thousands of objects repeats the same few creation seconds.
`None`/empty means the Go zero time, which the printers show as `<unknown>`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

UNKNOWN = "<unknown>"


def human_duration(seconds: float) -> str:
    """apimachinery HumanDuration for a duration given in (possibly fractional) seconds."""
    secs = int(seconds)  # truncates toward zero, like Go's int(d.Seconds())
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        rem = secs % 60
        return f"{minutes}m" if rem == 0 else f"{minutes}m{rem}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h" if rem == 0 else f"{hours}h{rem}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d" if rem == 0 else f"{hours // 24}d{rem}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


@lru_cache(maxsize=8192)
def parse_timestamp(ts: str) -> datetime | None:
    """An RFC 3339 (optionally fractional) timestamp as an aware UTC datetime, or None."""
    try:
        parsed = datetime.fromisoformat(ts)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def seconds_between(start: str | None, end: datetime) -> float | None:
    """Seconds from timestamp `start` to `end`, or None when `start` is missing/unparseable."""
    if not start:
        return None
    parsed = parse_timestamp(start)
    if parsed is None:
        return None
    return (end - parsed).total_seconds()


def translate_timestamp_since(ts: str | None, now: datetime) -> str:
    """HumanDuration of `now - ts`, or `<unknown>` for a missing (zero) timestamp."""
    elapsed = seconds_between(ts, now)
    if elapsed is None:
        return UNKNOWN
    return human_duration(elapsed)


def rfc3339_utc(ts: str | None) -> str:
    """A timestamp re-rendered as Go's `t.UTC().Format(time.RFC3339)` (whole seconds, `Z`)."""
    parsed = parse_timestamp(ts) if ts else None
    if parsed is None:
        return "0001-01-01T00:00:00Z"  # the Go zero time
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
