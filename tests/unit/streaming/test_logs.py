"""The container log reader: CRI records, options, upstream errors, follow and rotation."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pocketkube.kubelet import logs
from pocketkube.kubelet.streaming_backend import LogTarget

T0 = logs.parse_time("2026-11-22T00:53:43.365438418Z")


def test_times() -> None:
    assert T0 % 1_000_000_000 == 365438418
    assert logs.format_time(T0) == "2026-11-22T00:53:43.365438418Z"
    assert logs.format_time(T0 - 365438418 + 500_000_000) == "2026-11-22T00:53:43.5Z"
    assert logs.format_time(T0 - 365438418) == "2026-11-22T00:53:43Z"
    assert logs.parse_time("2026-11-22T01:53:43+01:00") == T0 - 365438418
    assert logs.parse_time("2026-11-22T00:53:43Z") == T0 - 365438418


def test_records() -> None:
    rec = logs.parse_record(b"2026-11-22T00:53:43.365438418Z stderr F [::1]:5 GET / ")
    assert rec == logs.Record(T0, "stderr", False, b"[::1]:5 GET / ")
    assert logs.parse_record(b"2026-11-22T00:53:43Z stdout P part") == logs.Record(T0 - 365438418, "stdout", True,
                                                                                    b"part")
    assert logs.parse_record(b"garbage") is None
    assert logs.parse_record(logs.encode_record(T0, "stdout", b"x")[:-1]) == logs.Record(T0, "stdout", False, b"x")
    records, rest = logs.split_records(logs.encode_record(T0, "stdout", b"a") + b"2026-11-22T00:53")
    assert [r.content for r in records] == [b"a"] and rest == b"2026-11-22T00:53"


def _records(*specs: tuple[int, bool, bytes]) -> list[logs.Record]:
    return [logs.Record(T0 + dt, "stdout", partial, content) for dt, partial, content in specs]


async def _render(records: list[logs.Record], opts: logs.LogOptions) -> bytes:
    out = bytearray()

    async def write(data: bytes) -> None:
        out.extend(data)
    w = logs.LogWriter(opts, write)
    for r in records[logs.tail_start(records, opts.tail_lines):]:
        await w.write(r)
    return bytes(out)


async def test_partial_lines_tail_since_limit_and_timestamps() -> None:
    recs = _records((0, False, b"one"), (1, True, b"lo"), (2, True, b"n"), (3, False, b"g"), (4, False, b"last"))
    assert await _render(recs, logs.LogOptions()) == b"one\nlong\nlast\n"
    assert await _render(recs, logs.LogOptions(tail_lines=2)) == b"long\nlast\n"
    assert await _render(recs, logs.LogOptions(tail_lines=0)) == b""
    assert await _render(recs, logs.LogOptions(tail_lines=99)) == b"one\nlong\nlast\n"
    assert await _render(recs, logs.LogOptions(limit_bytes=6)) == b"one\nlo"
    assert await _render(recs, logs.LogOptions(since_ns=T0 + 4)) == b"last\n"
    stamped = await _render(recs[:4], logs.LogOptions(timestamps=True))
    ts0, ts1 = logs.format_time(T0).encode(), logs.format_time(T0 + 1).encode()
    assert stamped == ts0 + b" one\n" + ts1 + b" long\n"


def test_upstream_errors() -> None:
    def status(**cs: object) -> dict[str, object]:
        return {"containerStatuses": [{"name": "c", **cs}]}
    err = logs.container_log_error
    assert err("p", "c", status(state={"running": {}}), False) is None
    assert err("p", "c", status(state={"waiting": {"reason": "ContainerCreating"}}), False) == (
        'container "c" in pod "p" is waiting to start: ContainerCreating')
    assert err("p", "c", status(state={"waiting": {"reason": "ErrImagePull"}}), False) == (
        'container "c" in pod "p" is waiting to start: image can\'t be pulled')
    assert err("p", "c", status(state={"waiting": {"reason": "ImagePullBackOff"}}), False) == (
        'container "c" in pod "p" is waiting to start: trying and failing to pull image')
    assert err("p", "c", status(state={"running": {}}), True) == 'previous terminated container "c" in pod "p" not found'
    crashed = status(state={"waiting": {"reason": "CrashLoopBackOff"}},
                     lastState={"terminated": {"exitCode": 1, "containerID": "containerd://x"}})
    assert err("p", "c", crashed, True) is None
    assert err("p", "c", crashed, False) is None  # the last instance's log
    assert err("p", "c", status(), False) == 'container "c" in pod "p" is waiting to start - no logs yet'
    assert err("p", "other", status(), False) == 'container "other" in pod "p" is not available'
    assert err("p", "c", {"initContainerStatuses": [{"name": "c", "state": {"running": {}}}]}, False) is None


class Running:
    def __init__(self) -> None:
        self.value = True

    async def __call__(self) -> bool:
        return self.value


async def test_follow_reads_new_lines_rotation_and_ends_when_stopped(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(logs.encode_record(T0, "stdout", b"first"))
    running = Running()
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def out(data: bytes) -> None:
        got.put_nowait(data)
    task = asyncio.ensure_future(logs.stream_logs(LogTarget(path, running), logs.LogOptions(follow=True), out,
                                                  poll=0.005))
    assert await asyncio.wait_for(got.get(), 5) == b"first\n"
    with open(path, "ab") as f:
        f.write(logs.encode_record(T0, "stdout", b"sec"))
        f.write(logs.encode_record(T0, "stdout", b"ond", partial=True)[:-1])  # not yet a complete record
    assert await asyncio.wait_for(got.get(), 5) == b"sec\n"
    with open(path, "ab") as f:
        f.write(b"\n")
    assert await asyncio.wait_for(got.get(), 5) == b"ond"
    os.rename(path, tmp_path / "0.log.20261122-005343")  # rotation: a new file appears under the name
    path.write_bytes(logs.encode_record(T0, "stdout", b"after rotation"))
    assert await asyncio.wait_for(got.get(), 5) == b"after rotation\n"
    with open(path, "ab") as f:
        f.write(logs.encode_record(T0, "stdout", b"last words"))
    running.value = False
    await asyncio.wait_for(task, 5)
    rest = b""
    while not got.empty():
        rest += got.get_nowait()
    assert rest == b"last words\n"


async def test_missing_file_is_empty(tmp_path: Path) -> None:
    out: list[bytes] = []

    async def write(data: bytes) -> None:
        out.append(data)
    await logs.stream_logs(LogTarget(tmp_path / "none.log", Running()), logs.LogOptions(), write)
    assert out == []


def test_parse_options() -> None:
    opts = logs.parse_options({"follow": "true", "tailLines": "3", "sinceSeconds": "10", "timestamps": "1"}, 10**12)
    assert opts == logs.LogOptions(follow=True, timestamps=True, tail_lines=3, since_ns=10**12 - 10 * 10**9)
    assert logs.parse_options({"sinceTime": "2026-11-22T00:53:43Z"}, 0).since_ns == T0 - 365438418
