"""Linux mounts for volumes: tmpfs and bind mounts through libc, and what is mounted where.

Theory of operation: the node agent runs as root, so it calls mount(2)/umount2(2) itself (ctypes,
no `mount` binary): `mount_tmpfs(path, size)` for Memory emptyDirs and the tmpfs that backs secret
and projected volumes, `bind_mount(source, target)` for safe subPaths. `mount_points(under)`
reads /proc/self/mountinfo (octal escapes decoded) so setup is idempotent (an existing tmpfs is
kept) and teardown finds every mount below a pod's folder; `unmount(path)` detaches lazily when a
plain unmount finds the mount busy. Errors are `MountError` with the errno text.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import shutil
from pathlib import Path

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_BIND = 4096
MS_REC = 16384
MNT_DETACH = 2
_OCTAL = re.compile(r"\\([0-7]{3})")
_libc: ctypes.CDLL | None = None


class MountError(OSError):
    pass


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise MountError(err, f"{what}: {os.strerror(err)}")


def mount(source: str, target: str | Path, fstype: str, flags: int = 0, data: str = "") -> None:
    rc = _lib().mount(source.encode(), str(target).encode(), fstype.encode() if fstype else None,
                      ctypes.c_ulong(flags), data.encode() if data else None)
    _check(rc, f"mount {source} on {target} ({fstype or 'bind'} {data})")


def mount_tmpfs(target: str | Path, size: int = 0) -> None:
    """tmpfs on `target` (size in bytes; 0 = the kernel default)."""
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size}" if size > 0 else "")


def bind_mount(source: str | Path, target: str | Path) -> None:
    mount(str(source), target, "", MS_BIND)


def unmount(target: str | Path) -> None:
    rc = _lib().umount2(str(target).encode(), 0)
    if rc != 0 and ctypes.get_errno() == errno.EBUSY:
        rc = _lib().umount2(str(target).encode(), MNT_DETACH)
    if rc != 0 and ctypes.get_errno() in (errno.EINVAL, errno.ENOENT):
        return  # not a mount point (any more)
    _check(rc, f"unmount {target}")


def _unescape(field: str) -> str:
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def mount_points(under: str | Path | None = None) -> list[tuple[str, str]]:
    """(mount point, fs type) of every mount, or of those at or below `under`, deepest first."""
    prefix = str(under).rstrip("/") if under is not None else None
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        sep = fields.index("-")
        point, fstype = _unescape(fields[4]), fields[sep + 1]
        if prefix is None or point == prefix or point.startswith(prefix + "/"):
            found.append((point, fstype))
    found.sort(key=lambda p: p[0].count("/"), reverse=True)
    return found


def fs_type(path: str | Path) -> str | None:
    """The fs type mounted exactly at `path`, or None."""
    p = str(path).rstrip("/")
    for point, fstype in mount_points(p):
        if point == p:
            return fstype
    return None


def unmount_all(under: str | Path) -> None:
    """Unmount every mount at or below `under`, deepest first."""
    for point, _ in mount_points(under):
        unmount(point)


def remove_tree(path: str | Path) -> None:
    """Unmount what is mounted below `path`, then delete it; refuses (MountError) while anything is
    still mounted there, so a bind mount can never make rmtree delete the files it shows."""
    if not os.path.lexists(path):
        return
    unmount_all(path)
    left = mount_points(path)
    if left:
        raise MountError(errno.EBUSY, f"still mounted below {path}: {', '.join(p for p, _ in left)}")
    shutil.rmtree(path, ignore_errors=True)
