"""hostPath type checks with upstream's error texts."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from pocketkube.kubelet.podinputs.volumes.hostpath import HostPathError, check_type, setup


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, str]:
    d, f, link = tmp_path / "dir", tmp_path / "file", tmp_path / "link-to-dir"
    d.mkdir()
    f.write_text("x")
    link.symlink_to(d)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    sock.close()
    return {"dir": str(d), "file": str(f), "link": str(link), "sock": str(tmp_path / "sock"),
            "missing": str(tmp_path / "missing"), "tmp": str(tmp_path)}


def failure(path: str, kind: str) -> str:
    with pytest.raises(HostPathError) as info:
        check_type(path, kind)
    return str(info.value)


def test_matching_types_pass(paths: dict[str, str]) -> None:
    for path, kind in ((paths["dir"], "Directory"), (paths["link"], "Directory"), (paths["file"], "File"),
                       (paths["sock"], "Socket"), ("/dev/null", "CharDevice"), (paths["missing"], ""),
                       (paths["dir"], "DirectoryOrCreate"), (paths["file"], "FileOrCreate")):
        check_type(path, kind)


def test_mismatches_use_upstream_text(paths: dict[str, str]) -> None:
    assert failure(paths["file"], "Directory") == f"hostPath type check failed: {paths['file']} is not a directory"
    assert failure(paths["missing"], "Directory") == \
        f"hostPath type check failed: {paths['missing']} is not a directory"
    assert failure(paths["dir"], "File") == f"hostPath type check failed: {paths['dir']} is not a file"
    assert failure(paths["file"], "Socket") == f"hostPath type check failed: {paths['file']} is not a socket file"
    assert failure(paths["file"], "CharDevice") == \
        f"hostPath type check failed: {paths['file']} is not a character device"
    assert failure("/dev/null", "BlockDevice") == "hostPath type check failed: /dev/null is not a block device"
    assert failure(paths["dir"], "FileOrCreate") == f"hostPath type check failed: {paths['dir']} is not a file"
    assert failure(paths["file"], "DirectoryOrCreate") == \
        f"hostPath type check failed: {paths['file']} is not a directory"
    assert failure(paths["dir"], "Bogus") == "Bogus is an invalid volume type"


def test_or_create_types_create(paths: dict[str, str]) -> None:
    new_dir = os.path.join(paths["tmp"], "a", "b")
    check_type(new_dir, "DirectoryOrCreate")
    assert os.path.isdir(new_dir) and os.stat(new_dir).st_mode & 0o777 == 0o755 & ~_umask()
    new_file = os.path.join(paths["tmp"], "new.txt")
    check_type(new_file, "FileOrCreate")
    assert os.path.isfile(new_file) and os.path.getsize(new_file) == 0
    orphan = os.path.join(paths["tmp"], "no", "parent.txt")
    assert failure(orphan, "FileOrCreate") == f"open {orphan}: no such file or directory"


def test_setup_refuses_backsteps(paths: dict[str, str]) -> None:
    assert setup({"path": paths["dir"], "type": "Directory"}) == paths["dir"]
    with pytest.raises(HostPathError, match=r"^invalid HostPath `/a/\.\./etc`: must not contain '\.\.'$"):
        setup({"path": "/a/../etc"})


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
