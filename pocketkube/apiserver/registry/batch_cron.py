"""Cron schedule parsing as CronJob validation does it (robfig/cron v3 ParseStandard).

Theory of operation: a schedule is either a descriptor (@hourly, @daily,
@every 1h30m, ...) or exactly five whitespace-separated fields (minute, hour,
day of month, month, day of week), optionally prefixed by TZ=<zone> or
CRON_TZ=<zone>. Each field is a comma list of `*`/`?`, `n`, `a-b`, optionally
`/step`; months and weekdays accept three-letter names. `parse` returns one
bitset per field (bit n set when n matches) or raises `CronError` whose text is
robfig's error text, which the API shows after the schedule value.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

from pocketkube.apiserver.registry.govalue import quote


class CronError(ValueError):
    """The schedule does not parse; str() is robfig's message."""


@dataclass(frozen=True)
class Bounds:
    low: int
    high: int
    names: dict[str, int]


MINUTES = Bounds(0, 59, {})
HOURS = Bounds(0, 23, {})
DOM = Bounds(1, 31, {})
MONTHS = Bounds(1, 12, {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))})
DOW = Bounds(0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))})
FIELDS = (MINUTES, HOURS, DOM, MONTHS, DOW)

DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class Schedule:
    """Either five field bitsets or an @every interval (seconds)."""

    fields: tuple[int, ...] = ()
    every_seconds: float | None = None
    location: str = ""


def _atoi(expr: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", expr):
        raise CronError(f"failed to parse int from {expr}: strconv.Atoi: parsing {quote(expr)}: invalid syntax")
    n = int(expr)
    if not -(2**63) <= n < 2**63:
        raise CronError(f"failed to parse int from {expr}: strconv.Atoi: parsing {quote(expr)}: value out of range")
    if n < 0:
        raise CronError(f"negative number ({n}) not allowed: {expr}")
    return n


def _int_or_name(expr: str, b: Bounds) -> int:
    if expr.lower() in b.names:
        return b.names[expr.lower()]
    return _atoi(expr)


def _range(expr: str, b: Bounds) -> int:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    if low_high[0] in ("*", "?"):
        start, end = b.low, b.high
    else:
        start = _int_or_name(low_high[0], b)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], b)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if len(low_high) == 1:
            end = b.high
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < b.low:
        raise CronError(f"beginning of range ({start}) below minimum ({b.low}): {expr}")
    if end > b.high:
        raise CronError(f"end of range ({end}) above maximum ({b.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return sum(1 << i for i in range(start, end + 1, step))


def _field(text: str, b: Bounds) -> int:
    bits = 0
    for part in (p for p in text.split(",") if p):
        bits |= _range(part, b)
    return bits


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(s: str) -> float:
    """time.ParseDuration, in seconds; raises CronError with Go's message."""
    orig, rest = s, s
    sign = -1.0 if rest.startswith("-") else 1.0
    if rest[:1] in ("+", "-"):
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise CronError(f"time: invalid duration {quote(orig)}")
    total = 0.0
    for m in re.finditer(r"([0-9]*\.?[0-9]*)([^0-9.]*)", rest):
        num, unit = m.groups()
        if not num and not unit:
            continue
        if not num or num == ".":
            raise CronError(f"time: invalid duration {quote(orig)}")
        if not unit:
            raise CronError(f"time: missing unit in duration {quote(orig)}")
        if unit not in _UNITS:
            raise CronError(f"time: unknown unit {quote(unit)} in duration {quote(orig)}")
        total += float(num) * _UNITS[unit]
    return sign * total


def _location(spec: str) -> tuple[str, str]:
    """Split a TZ=/CRON_TZ= prefix off; returns (zone, rest)."""
    if not (spec.startswith("TZ=") or spec.startswith("CRON_TZ=")):
        return "", spec
    i = spec.find(" ")
    eq = spec.find("=")
    zone = spec[eq + 1:i] if i >= 0 else spec[eq + 1:]
    err = load_location_error(zone)
    if err or i < 0:
        raise CronError(f"provided bad location {zone}: {err or 'unknown time zone ' + zone}")
    return zone, spec[i:].strip()


def load_location_error(zone: str) -> str:
    """time.LoadLocation's error text for `zone`, or "" if it loads."""
    if zone in ("", "UTC", "Local"):
        return ""
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, IsADirectoryError, OSError):
        return f"unknown time zone {zone}"
    return ""


def parse(spec: str) -> Schedule:
    """Parse a standard (5-field or descriptor) schedule; raises CronError."""
    if not spec:
        raise CronError("empty spec string")
    zone, spec = _location(spec)
    if spec.startswith("@"):
        if spec in DESCRIPTORS:
            return Schedule(tuple(_field(f, b) for f, b in zip(DESCRIPTORS[spec].split(), FIELDS, strict=True)),
                            location=zone)
        if spec.startswith("@every "):
            try:
                return Schedule(every_seconds=go_duration(spec[len("@every "):]), location=zone)
            except CronError as e:
                raise CronError(f"failed to parse duration {spec}: {e}") from None
        raise CronError(f"unrecognized descriptor: {spec}")
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    return Schedule(tuple(_field(f, b) for f, b in zip(fields, FIELDS, strict=True)), location=zone)
