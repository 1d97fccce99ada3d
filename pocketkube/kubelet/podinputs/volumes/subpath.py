"""subPath mounts without symlink escapes (upstream's subpath.PrepareSafeSubpath on Linux).

Theory of operation: a container mounting `subPath: a/b` of a volume must get that path *inside*
the volume even if another container (sharing the volume) turned `a` into a symlink to `/`. So:
1. a missing subPath is created first as directories with the volume root's mode (SafeMakeDir:
   the existing part is resolved and must stay inside the volume; new parts are made one by one
   with mkdirat relative to an O_NOFOLLOW directory fd);
2. the path is resolved (symlinks evaluated) and must lie within the volume (`subpath "x" not
   within volume path "y"`);
3. the resolved path is opened component by component with O_PATH|O_NOFOLLOW (a symlink swapped
   in between 2 and 3 fails the open) and that descriptor is bind-mounted
   (/proc/self/fd/N) onto pods/<uid>/volume-subpaths/<volume>/<container>/<mount index>, an empty
   file or directory as the source is; this bind mount is what the runtime mounts. An existing
   bind mount there is reused (containers restarting keep their subPath, as upstream).
Like upstream, a subPath mount of a configMap/secret key does not see later updates (the bind is
of the file the key pointed at when the container started). `cleanup(pod_dir)` unmounts and removes
every subPath bind of the pod. Errors are `SubpathError` (detail for the log; the caller shows
upstream's terse message).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pocketkube.kubelet.podinputs.volumes import mounts

SUBPATHS_DIR = "volume-subpaths"


class SubpathError(OSError):
    pass


def _within(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def _open_nofollow(base: str, rel: str) -> int:
    """An O_PATH fd of base/rel opened one component at a time, refusing symlinks."""
    fd = os.open(base, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in [p for p in rel.split("/") if p and p != "."]:
            nxt = os.open(part, os.O_PATH | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                raise SubpathError(f"subpath component {part!r} is a symlink")
    except BaseException:
        os.close(fd)
        raise
    return fd


def safe_make_dir(volume: str, sub: str, mode: int) -> None:
    """Create volume/sub (and missing parents) without leaving the volume."""
    base = os.path.realpath(volume)
    parts = [p for p in os.path.normpath(sub).split("/") if p and p != "."]
    existing = 0
    while existing < len(parts) and os.path.lexists(os.path.join(base, *parts[:existing + 1])):
        existing += 1
    resolved = os.path.realpath(os.path.join(base, *parts[:existing]))
    if not _within(resolved, base):
        raise SubpathError(f"path {os.path.join(volume, sub)} is outside of allowed base {volume}")
    fd = _open_nofollow(base, os.path.relpath(resolved, base))
    try:
        for part in parts[existing:]:
            os.mkdir(part, mode, dir_fd=fd)
            nxt = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
            os.chmod(f"/proc/self/fd/{fd}", mode)
    finally:
        os.close(fd)


def prepare(volume: str, sub: str, pod_dir: Path, volume_name: str, container: str, index: int) -> str:
    """A bind mount of volume/sub that the runtime can mount safely; returns its path."""
    target = pod_dir / SUBPATHS_DIR / volume_name / container / str(index)
    if mounts.fs_type(target) is not None:
        return str(target)
    base = os.path.realpath(volume)
    resolved = os.path.realpath(os.path.join(base, sub))
    if not _within(resolved, base):
        raise SubpathError(f'subpath "{resolved}" not within volume path "{base}"')
    fd = _open_nofollow(base, os.path.relpath(resolved, base))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            target.mkdir(exist_ok=True)
        elif not target.exists():
            target.touch(mode=0o640)
        mounts.bind_mount(f"/proc/self/fd/{fd}", target)
    finally:
        os.close(fd)
    return str(target)


def cleanup(pod_dir: Path) -> None:
    mounts.remove_tree(pod_dir / SUBPATHS_DIR)
