"""Atomic projection of a set of files into a directory (upstream's AtomicWriter).

Theory of operation: the real files live in a hidden timestamped directory
`..YYYY_MM_DD_HH_MM_SS.<random>`; `..data` is a symlink to it; every user-visible top-level
name is a symlink through it (`key -> ..data/key`, `dir -> ..data/dir`). An update writes the
whole payload into a *new* timestamped directory, points a `..data_tmp` symlink at it and
renames that over `..data` (rename(2) is atomic), so a reader opening `key` sees either the old
or the new set of files, never a mix. Then new top-level names get their symlinks, names no
longer in the payload lose theirs, and the old timestamped directory is removed. A write whose
payload equals what is on disk (same bytes, same modes, no removals) changes nothing. Paths in
a payload must be relative, without `..` elements, not starting with `..`, at most 4096
characters with names of at most 255 (the `..` names are the writer's own). Modes are applied
exactly (umask does not apply); directories are 0755. `set_perms(dir)` runs on the new directory
before the swap (fsGroup ownership). Not thread-safe: the caller serialises writes per target.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = "..data"
NEW_DATA_DIR = "..data_tmp"
MAX_FILE_NAME = 255
MAX_PATH = 4096


@dataclass(frozen=True, slots=True)
class FileProjection:
    data: bytes
    mode: int = 0o644
    uid: int | None = None


class PayloadError(ValueError):
    """An invalid path in a payload (upstream's text)."""


def validate_path(path: str) -> None:
    if path == "":
        raise PayloadError(f'invalid path: must not be empty: "{path}"')
    if os.path.isabs(path):
        raise PayloadError(f"invalid path: must be relative path: {path}")
    if len(path) > MAX_PATH:
        raise PayloadError(f"invalid path: must be less than or equal to {MAX_PATH} characters")
    items = path.split("/")
    for item in items:
        if item == "..":
            raise PayloadError(f"invalid path: must not contain '..': {path}")
        if len(item) > MAX_FILE_NAME:
            raise PayloadError(f"invalid path: filenames must be less than or equal to {MAX_FILE_NAME} characters")
    if items[0].startswith("..") and len(items[0]) > 2:
        raise PayloadError(f"invalid path: must not start with '..': {path}")


def clean_payload(payload: Mapping[str, FileProjection]) -> dict[str, FileProjection]:
    out = {}
    for path, content in payload.items():
        validate_path(path)
        out[os.path.normpath(path)] = content
    return out


def _make_dirs(root: Path, parent: Path) -> None:
    """Create the directories from `root` down to `parent`, each 0755."""
    d = root
    for part in parent.relative_to(root).parts:
        d = d / part
        if not d.is_dir():
            os.mkdir(d)
            os.chmod(d, 0o755)


class AtomicWriter:
    def __init__(self, target_dir: str | Path) -> None:
        self.target = Path(target_dir)
        if not self.target.is_dir():
            raise FileNotFoundError(f"stat {self.target}: no such file or directory")

    def current_dir(self) -> Path | None:
        """The timestamped directory ..data points at, if any."""
        try:
            return self.target / os.readlink(self.target / DATA_DIR)
        except FileNotFoundError:
            return None

    def write(self, payload: Mapping[str, FileProjection],
              set_perms: Callable[[Path], None] | None = None) -> bool:
        """Project `payload`; returns whether anything changed on disk."""
        clean = clean_payload(payload)
        old = self.current_dir()
        to_remove: set[str] = set()
        if old is not None:
            to_remove = self._paths_to_remove(clean, old)
            if not to_remove and not self._differs(clean, old):
                self._create_user_visible(clean)
                return False
        ts_dir = self._new_timestamp_dir()
        try:
            self._write_payload(clean, ts_dir)
            if set_perms is not None:
                set_perms(ts_dir)
            tmp_link = self.target / NEW_DATA_DIR
            if tmp_link.is_symlink():
                tmp_link.unlink()
            os.symlink(ts_dir.name, tmp_link)
            os.rename(tmp_link, self.target / DATA_DIR)
        except BaseException:
            shutil.rmtree(ts_dir, ignore_errors=True)
            (self.target / NEW_DATA_DIR).unlink(missing_ok=True)
            raise
        self._create_user_visible(clean)
        self._remove_user_visible(to_remove)
        if old is not None and old.name != ts_dir.name:
            shutil.rmtree(old, ignore_errors=True)
        return True

    def _new_timestamp_dir(self) -> Path:
        """os.MkdirTemp(target, "..2006_01_02_15_04_05."): the UTC time and random digits."""
        prefix = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
        for _ in range(10000):
            path = self.target / f"{prefix}{secrets.randbelow(1 << 32)}"
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                continue
            os.chmod(path, 0o755)
            return path
        raise FileExistsError(f"no free timestamped directory name in {self.target}")

    @staticmethod
    def _write_payload(payload: Mapping[str, FileProjection], root: Path) -> None:
        for rel, content in payload.items():
            full = root / rel
            _make_dirs(root, full.parent)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, content.mode & 0o7777)
            try:
                os.write(fd, content.data)
                os.fchmod(fd, content.mode & 0o7777)
                if content.uid is not None:
                    os.fchown(fd, content.uid, -1)
            finally:
                os.close(fd)

    @staticmethod
    def _differs(payload: Mapping[str, FileProjection], old: Path) -> bool:
        for rel, content in payload.items():
            path = old / rel
            try:
                st = os.lstat(path)
                with open(path, "rb") as f:
                    if f.read() != content.data:
                        return True
            except OSError:
                return True
            if st.st_mode & 0o7777 != content.mode & 0o7777:
                return True
        return False

    @staticmethod
    def _paths_to_remove(payload: Mapping[str, FileProjection], old: Path) -> set[str]:
        """Paths in the old version that no file of the new payload (or its parents) keeps."""
        current: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(old):
            for name in dirnames + filenames:
                current.add(os.path.relpath(os.path.join(dirpath, name), old))
        keep: set[str] = set()
        for rel in payload:
            sub = rel
            while sub:
                keep.add(sub)
                sub = os.path.dirname(sub)
        return current - keep

    def _create_user_visible(self, payload: Mapping[str, FileProjection]) -> None:
        for rel in payload:
            top = rel.split("/", 1)[0]
            link = self.target / top
            if not link.is_symlink():
                os.symlink(os.path.join(DATA_DIR, top), link)

    def _remove_user_visible(self, paths: set[str]) -> None:
        for rel in paths:
            if "/" in rel:
                continue
            (self.target / rel).unlink(missing_ok=True)
