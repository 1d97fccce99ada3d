"""The AtomicWriter: timestamped directory, ..data swap, user-visible symlinks, removals, modes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pocketkube.kubelet.podinputs.volumes.atomic_writer import (
    DATA_DIR,
    AtomicWriter,
    FileProjection,
    PayloadError,
    validate_path,
)

TS = re.compile(r"^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$")


def visible(root: Path) -> dict[str, str]:
    """Every file reachable through the user-visible names, with its content."""
    out = {}
    for name in os.listdir(root):
        if name.startswith(".."):
            continue
        path = root / name
        if path.is_dir():
            for dirpath, _, files in os.walk(path):
                for f in files:
                    full = Path(dirpath) / f
                    out[str(full.relative_to(root))] = full.read_text()
        else:
            out[name] = path.read_text()
    return out


def test_first_write_lays_out_data_dir_and_symlinks(tmp_path: Path) -> None:
    w = AtomicWriter(tmp_path)
    assert w.write({"podName": FileProjection(b"web"), "user/labels": FileProjection(b"a=b", 0o600),
                    "k8s/deep/annotations": FileProjection(b"x", 0o400)})
    ts = os.readlink(tmp_path / DATA_DIR)
    assert TS.match(ts) and (tmp_path / ts).is_dir() and os.stat(tmp_path / ts).st_mode & 0o777 == 0o755
    assert os.readlink(tmp_path / "podName") == "..data/podName"
    assert os.readlink(tmp_path / "user") == "..data/user" and os.readlink(tmp_path / "k8s") == "..data/k8s"
    assert visible(tmp_path) == {"podName": "web", "user/labels": "a=b", "k8s/deep/annotations": "x"}
    assert os.stat(tmp_path / "user/labels").st_mode & 0o7777 == 0o600
    assert os.stat(tmp_path / ts / "k8s" / "deep").st_mode & 0o777 == 0o755
    assert sorted(os.listdir(tmp_path)) == sorted([DATA_DIR, ts, "podName", "user", "k8s"])


def test_update_swaps_atomically_and_removes_old_paths(tmp_path: Path) -> None:
    w = AtomicWriter(tmp_path)
    w.write({"a": FileProjection(b"1"), "b": FileProjection(b"2"), "dir/c": FileProjection(b"3")})
    old = os.readlink(tmp_path / DATA_DIR)
    with open(tmp_path / "a") as held:  # a reader that opened before the update keeps the old content
        assert w.write({"a": FileProjection(b"10"), "dir/d": FileProjection(b"4")})
        assert held.read() == "1"
    new = os.readlink(tmp_path / DATA_DIR)
    assert new != old and not (tmp_path / old).exists()
    assert visible(tmp_path) == {"a": "10", "dir/d": "4"}
    assert not os.path.lexists(tmp_path / "b")
    assert not (tmp_path / "..data_tmp").exists()


def test_unchanged_payload_touches_nothing_but_mode_changes_rewrite(tmp_path: Path) -> None:
    w = AtomicWriter(tmp_path)
    w.write({"a": FileProjection(b"1")})
    first = os.readlink(tmp_path / DATA_DIR)
    assert not w.write({"a": FileProjection(b"1")})
    assert os.readlink(tmp_path / DATA_DIR) == first
    (tmp_path / "a").unlink()  # a user-visible link removed by hand is restored
    assert not w.write({"a": FileProjection(b"1")}) and (tmp_path / "a").read_text() == "1"
    assert w.write({"a": FileProjection(b"1", 0o400)})
    assert os.stat(tmp_path / "a").st_mode & 0o777 == 0o400


def test_empty_payload_still_makes_a_data_dir(tmp_path: Path) -> None:
    AtomicWriter(tmp_path).write({})
    assert (tmp_path / DATA_DIR).is_dir() and visible(tmp_path) == {}


def test_set_perms_runs_on_the_new_directory_before_the_swap(tmp_path: Path) -> None:
    seen = []

    def perms(d: Path) -> None:
        seen.append((d.name, os.path.lexists(tmp_path / DATA_DIR)))

    AtomicWriter(tmp_path).write({"a": FileProjection(b"1")}, perms)
    assert seen and TS.match(seen[0][0]) and seen[0][1] is False


@pytest.mark.parametrize(("path", "message"), [
    ("", 'invalid path: must not be empty: ""'),
    ("/etc/passwd", "invalid path: must be relative path: /etc/passwd"),
    ("a/../b", "invalid path: must not contain '..': a/../b"),
    ("..data", "invalid path: must not start with '..': ..data"),
    ("x" * 256, "invalid path: filenames must be less than or equal to 255 characters"),
    ("a/" * 2049, "invalid path: must be less than or equal to 4096 characters"),
])
def test_invalid_paths(path: str, message: str) -> None:
    with pytest.raises(PayloadError) as info:
        validate_path(path)
    assert str(info.value) == message


def test_valid_odd_paths() -> None:
    for p in (".a", "a..b", "a/b..c", "..", "./a"):
        if p == "..":
            with pytest.raises(PayloadError):
                validate_path(p)
        else:
            validate_path(p)
