"""hostPath volumes: the node's own path, checked against the volume's type (upstream checkType).

Theory of operation: the container gets the host path itself (no copy, no mount of our own). The
path must not contain `..` elements. Types: "" (unset: no check), DirectoryOrCreate (created 0755
with parents when missing, then must be a directory), Directory, FileOrCreate (created empty 0644
when missing; its parent must exist), File, Socket, CharDevice, BlockDevice. Symlinks are followed
as stat(2) does. A failed check is a `HostPathError` with upstream's text, e.g.
`hostPath type check failed: /data is not a directory`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]


class HostPathError(ValueError):
    pass


def _mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode
    except OSError:
        return None


def _is(path: str, test: Callable[[int], bool]) -> bool:
    mode = _mode(path)
    return mode is not None and test(mode)


def go_errno(e: OSError) -> str:
    """An errno as Go's syscall.Errno prints it ("no such file or directory")."""
    text = os.strerror(e.errno or 0)
    return text[:1].lower() + text[1:]


def _make_dir(path: str) -> None:
    try:
        os.makedirs(path, 0o755, exist_ok=True)
    except OSError as e:
        raise HostPathError(f"mkdir {path}: {go_errno(e)}") from e


def _make_file(path: str) -> None:
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDONLY, 0o644)
    except OSError as e:
        if os.path.exists(path):
            return
        raise HostPathError(f"open {path}: {go_errno(e)}") from e
    os.close(fd)


_CHECKS: dict[str, tuple[Callable[[int], bool], str]] = {
    "Directory": (stat.S_ISDIR, "a directory"),
    "File": (stat.S_ISREG, "a file"),
    "Socket": (stat.S_ISSOCK, "a socket file"),
    "CharDevice": (stat.S_ISCHR, "a character device"),
    "BlockDevice": (stat.S_ISBLK, "a block device"),
}


def check_type(path: str, path_type: str) -> None:
    """checkTypeInternal; creates the path for the *OrCreate types."""
    if path_type == "":
        return
    if path_type == "DirectoryOrCreate":
        if not os.path.exists(path):
            _make_dir(path)
        path_type = "Directory"
    elif path_type == "FileOrCreate":
        if not os.path.exists(path):
            _make_file(path)
            return
        path_type = "File"
    check = _CHECKS.get(path_type)
    if check is None:
        raise HostPathError(f"{path_type} is an invalid volume type")
    test, what = check
    if not _is(path, test):
        raise HostPathError(f"hostPath type check failed: {path} is not {what}")


def setup(source: Obj) -> str:
    """SetUp of a hostPath volume source: its path, after the backstep and type checks."""
    path = str(source.get("path") or "")
    if ".." in path.split("/"):
        raise HostPathError(f"invalid HostPath `{path}`: must not contain '..'")
    check_type(path, str(source.get("type") or ""))
    return path
