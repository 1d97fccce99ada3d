"""Container logs as the kubelet serves them: CRI log files, options, upstream errors, follow and rotation.

Theory of operation: the runtime writes one file per container instance, one
record per line: `<RFC3339Nano> <stdout|stderr> <F|P> <content>`; a long line
is split into P(artial) records closed by an F(ull) one. The reader joins them
back: the content of a P record is written without a newline, an F record's
with one, and with `timestamps` only the first record of a logical line gets
the `<RFC3339Nano> ` prefix (Go's format: fraction without trailing zeros).
Options are applied in upstream's order: tailLines picks the last N logical
lines of the file, then records older than sinceTime/sinceSeconds are
dropped, and limitBytes truncates the output. With follow, at end of file the
reader polls: new bytes are read as they come; a rotation (the path now names
another file, or the file shrank) switches to the new file from its start
after the old one is drained; when the container instance stops, a last read
drains what it wrote and the stream ends. Like upstream, only the current
file is read (rotated `.log.N` / timestamped files are not replayed).
`container_log_error` turns a pod status into upstream's 400 messages.
A plain text log (`LogTarget.plain`: a control-plane component's klog-style
or JSON lines) is read line by line as stdout records, each stamped with the
time its klog header (`I1122 03:04:05.123456`, year of the file's last
change) or JSON `ts` gives, else the time of the previous line.
"""

from __future__ import annotations

import asyncio
import datetime
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pocketkube.kubelet.streaming_backend import LogTarget, StreamingError

POLL_INTERVAL = 0.1


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    limit_bytes: int | None = None
    since_ns: int | None = None  # unix nanoseconds


@dataclass(frozen=True)
class Record:
    ts_ns: int
    stream: str
    partial: bool
    content: bytes


def _flag(query: Any, name: str) -> bool:
    return str(query.get(name, "")).lower() in ("true", "1")


def _int(query: Any, name: str) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise StreamingError(f'invalid {name} "{raw}"') from None


def parse_options(query: Any, now_ns: int) -> LogOptions:
    """Options from a /containerLogs query (the apiserver already validated ranges)."""
    since: int | None = None
    if (seconds := _int(query, "sinceSeconds")) is not None:
        since = now_ns - seconds * 1_000_000_000
    elif query.get("sinceTime"):
        try:
            since = parse_time(str(query["sinceTime"]))
        except ValueError:
            raise StreamingError(f'invalid sinceTime "{query["sinceTime"]}"') from None
    return LogOptions(follow=_flag(query, "follow"), previous=_flag(query, "previous"),
                      timestamps=_flag(query, "timestamps"), tail_lines=_int(query, "tailLines"),
                      limit_bytes=_int(query, "limitBytes"), since_ns=since)


# ------------------------------------------------------------------ time
def parse_time(text: str) -> int:
    """RFC3339 / RFC3339Nano -> unix nanoseconds (ValueError if malformed)."""
    main, frac, rest = text, "", ""
    if "." in text:
        main, tail = text.split(".", 1)
        digits = len(tail) - len(tail.lstrip("0123456789"))
        frac, rest = tail[:digits], tail[digits:]
    else:
        for i in range(len(text) - 1, 9, -1):
            if text[i] in "Z+-":
                main, rest = text[:i], text[i:]
                break
    zone = datetime.UTC if rest in ("Z", "z", "") else datetime.datetime.strptime(rest, "%z").tzinfo
    dt = datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=zone)
    nanos = int((frac + "000000000")[:9]) if frac else 0
    return int(dt.timestamp()) * 1_000_000_000 + nanos


def format_time(ts_ns: int) -> str:
    """Go's time.RFC3339Nano in UTC: no trailing zeros in the fraction, none at all for whole seconds."""
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    base = datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{nanos:09d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


# ------------------------------------------------------------------ records
def parse_record(line: bytes) -> Record | None:
    """One CRI log line without its newline; None if malformed."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    try:
        ts = parse_time(parts[0].decode())
    except (ValueError, UnicodeDecodeError):
        return None
    tag = parts[2].split(b":")[0]
    content = parts[3] if len(parts) > 3 else b""
    return Record(ts, parts[1].decode(errors="replace"), tag == b"P", content)


def encode_record(ts_ns: int, stream: str, content: bytes, partial: bool = False) -> bytes:
    """A CRI log line (what containerd writes), for simulated runtimes and tests."""
    return f"{format_time(ts_ns)} {stream} {'P' if partial else 'F'} ".encode() + content + b"\n"


def split_records(data: bytes, plain: PlainClock | None = None) -> tuple[list[Record], bytes]:
    """Complete records in data and the unterminated rest (plain: lines of a plain text log)."""
    lines = data.split(b"\n")
    rest = lines.pop()
    if plain is not None:
        return [plain.record(line) for line in lines], rest
    return [r for r in map(parse_record, lines) if r is not None], rest


class PlainClock:
    """Timestamps for the lines of a plain text log (see the module docstring)."""

    def __init__(self, year: int, fallback_ns: int) -> None:
        self.year = year
        self.last = fallback_ns

    def record(self, line: bytes) -> Record:
        ts = _klog_time(line, self.year) or _json_time(line)
        if ts is not None:
            self.last = ts
        return Record(self.last, "stdout", False, line)


def _klog_time(line: bytes, year: int) -> int | None:
    if len(line) < 21 or chr(line[0]) not in "IWEF" or line[5:6] != b" ":
        return None
    try:
        dt = datetime.datetime.strptime(f"{year}{line[1:21].decode()}", "%Y%m%d %H:%M:%S.%f")
    except (ValueError, UnicodeDecodeError):
        return None
    return int(dt.replace(tzinfo=datetime.UTC).timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def _json_time(line: bytes) -> int | None:
    if not line.startswith(b'{"ts": "'):
        return None
    try:
        return parse_time(line[8:line.index(b'"', 8)].decode())
    except (ValueError, UnicodeDecodeError):
        return None


def _plain_clock(target: LogTarget, fd: int) -> PlainClock | None:
    if not target.plain:
        return None
    mtime = os.fstat(fd).st_mtime
    return PlainClock(datetime.datetime.fromtimestamp(mtime, datetime.UTC).year, int(mtime * 1e9))


def tail_start(records: list[Record], tail: int | None) -> int:
    """Index of the first record of the last `tail` logical lines."""
    if tail is None:
        return 0
    if tail <= 0:
        return len(records)
    seen = 0
    for i in range(len(records) - 1, -1, -1):
        if not records[i].partial:
            seen += 1
            if seen > tail:
                return i + 1
    return 0


class LogWriter:
    """Renders records with timestamps and the byte limit; `done` once the limit is reached."""

    def __init__(self, opts: LogOptions, out: Callable[[bytes], Awaitable[None]]) -> None:
        self.opts = opts
        self.out = out
        self.remaining = opts.limit_bytes
        self.at_line_start = True

    @property
    def done(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    async def write(self, rec: Record) -> None:
        if self.done or (self.opts.since_ns is not None and rec.ts_ns < self.opts.since_ns):
            return
        data = rec.content if rec.partial else rec.content + b"\n"
        if self.opts.timestamps and self.at_line_start:
            data = format_time(rec.ts_ns).encode() + b" " + data
        self.at_line_start = not rec.partial
        if self.remaining is not None:
            data = data[:self.remaining]
            self.remaining -= len(data)
        if data:
            await self.out(data)


# ------------------------------------------------------------------ errors
def _find_status(status: dict[str, Any], container: str) -> dict[str, Any] | None:
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(key) or []:
            if cs.get("name") == container:
                return dict(cs)
    return None


def container_log_error(pod: str, container: str, status: dict[str, Any] | None, previous: bool) -> str | None:
    """Upstream's reason why there are no logs for this container (None when there are)."""
    cs = _find_status(status or {}, container)
    if cs is None:
        return f'container "{container}" in pod "{pod}" is not available'
    state = cs.get("state") or {}
    last = (cs.get("lastState") or {}).get("terminated")
    if previous:
        if not last or not last.get("containerID"):
            return f'previous terminated container "{container}" in pod "{pod}" not found'
        return None
    if "running" in state:
        return None
    if "terminated" in state:
        if state["terminated"].get("containerID") or (last and last.get("containerID")):
            return None
        return f'container "{container}" in pod "{pod}" is terminated'
    if last:
        return None if last.get("containerID") else f'container "{container}" in pod "{pod}" is terminated'
    if "waiting" in state:
        reason = (state["waiting"] or {}).get("reason", "")
        if reason == "ErrImagePull":
            reason = "image can't be pulled"
        elif reason == "ImagePullBackOff":
            reason = "trying and failing to pull image"
        return f'container "{container}" in pod "{pod}" is waiting to start: {reason}'
    return f'container "{container}" in pod "{pod}" is waiting to start - no logs yet'


# ------------------------------------------------------------------ reading
def _identity(path: os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


async def stream_logs(target: LogTarget, opts: LogOptions, out: Callable[[bytes], Awaitable[None]],
                      poll: float = POLL_INTERVAL) -> None:
    """Write the container's log to out according to opts (returns when done or the container stopped)."""
    writer = LogWriter(opts, out)
    try:
        f = open(target.path, "rb")  # noqa: SIM115 - kept open across rotations below
    except FileNotFoundError:
        return
    try:
        plain = _plain_clock(target, f.fileno())
        records, rest = split_records(f.read(), plain)
        for rec in records[tail_start(records, opts.tail_lines):]:
            await writer.write(rec)
        if opts.follow and not writer.done:
            f = await _follow(f, rest, target, writer, poll, plain)
    finally:
        f.close()


async def _follow(f: Any, rest: bytes, target: LogTarget, writer: LogWriter, poll: float,
                  plain: PlainClock | None = None) -> Any:
    ident = os.fstat(f.fileno())
    while not writer.done:
        chunk = f.read()
        if chunk:
            records, rest = split_records(rest + chunk, plain)
            for rec in records:
                await writer.write(rec)
            continue
        current = _identity(target.path)
        rotated = current is not None and current != (ident.st_dev, ident.st_ino)
        if rotated or os.fstat(f.fileno()).st_size < f.tell():
            f.close()
            f = open(target.path, "rb")  # noqa: SIM115
            ident, rest = os.fstat(f.fileno()), b""
            continue
        if not await target.running():
            records, _ = split_records(rest + f.read(), plain)
            for rec in records:
                await writer.write(rec)
            return f
        await asyncio.sleep(poll)
    return f
