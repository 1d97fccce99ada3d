"""Reading a profile's component logs (`pocketkube logs`).

Theory of operation: every part writes logs/<component>.log under the profile;
`show` prints the last N lines of one or all of them (all: each under a
`==> component <==` header, like tail), and `follow` keeps printing what is
appended, reopening a file that was rotated or recreated, until interrupted.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path


def components(logs_dir: Path) -> list[str]:
    return sorted(p.stem for p in logs_dir.glob("*.log")) if logs_dir.is_dir() else []


def tail_lines(path: Path, n: int) -> list[str]:
    if n <= 0:
        return path.read_text(errors="replace").splitlines()
    with path.open(errors="replace") as f:
        return list(deque((line.rstrip("\n") for line in f), maxlen=n))


def show(logs_dir: Path, component: str | None, tail: int, emit: Callable[[str], None]) -> None:
    names = [component] if component else components(logs_dir)
    for name in names:
        path = logs_dir / f"{name}.log"
        if not path.exists():
            raise FileNotFoundError(f'no log for component "{name}" (have: {", ".join(components(logs_dir))})')
        if component is None:
            emit(f"==> {name} <==")
        for line in tail_lines(path, tail):
            emit(line)


def follow(logs_dir: Path, component: str | None, emit: Callable[[str], None], *, interval: float = 0.25,
           stop: Callable[[], bool] = lambda: False) -> None:
    """Print lines appended to the log(s) from now on."""
    names = [component] if component else components(logs_dir)
    offsets = {n: _size(logs_dir / f"{n}.log") for n in names}
    inodes = {n: _inode(logs_dir / f"{n}.log") for n in names}
    while not stop():
        for name in names:
            path = logs_dir / f"{name}.log"
            if _inode(path) != inodes[name] or _size(path) < offsets[name]:
                inodes[name], offsets[name] = _inode(path), 0  # rotated or recreated
            if _size(path) > offsets[name]:
                with path.open("rb") as f:
                    f.seek(offsets[name])
                    chunk = f.read()
                offsets[name] += len(chunk)
                for line in chunk.decode(errors="replace").splitlines():
                    emit(line if component else f"[{name}] {line}")
        time.sleep(interval)


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _inode(path: Path) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return 0
