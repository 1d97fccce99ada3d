"""fsGroup ownership of volume contents (upstream volume.SetVolumeOwnership, policy Always).

Theory of operation: when the pod sets securityContext.fsGroup, every file and directory of a
managed volume (emptyDir, configMap, secret, downwardAPI, projected) gets that group, and the group
bits the container needs: read (0440) for read-only volumes, read-write (0660) otherwise;
directories also get the setgid bit and group search (0110), so new files inherit the group.
Symlinks keep their mode (only their group changes).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

RW_MASK, RO_MASK, EXEC_MASK = 0o660, 0o440, 0o110


def fs_group(pod: dict[str, Any]) -> int | None:
    value = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
    return None if value is None else int(value)


def _change(path: str, gid: int, readonly: bool) -> None:
    st = os.lstat(path)
    os.lchown(path, -1, gid)
    if stat.S_ISLNK(st.st_mode):
        return
    mask = RO_MASK if readonly else RW_MASK
    if stat.S_ISDIR(st.st_mode):
        mask |= stat.S_ISGID | EXEC_MASK
    os.chmod(path, stat.S_IMODE(st.st_mode) | mask)


def set_volume_ownership(root: Path, gid: int | None, readonly: bool) -> None:
    if gid is None:
        return
    _change(str(root), gid, readonly)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            _change(os.path.join(dirpath, name), gid, readonly)
