"""profile: state folder layout, settings load/save errors, and process ownership checks."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketkube.cli import profile
from pocketkube.cli.profile import Profile, ProfileError, Settings

SLEEPER = "import sys, time; time.sleep(60)"


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start helper processes; every one is killed (by its pid) and reaped afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        p.kill()
        p.wait(timeout=10)


def start(procs: list[subprocess.Popen[bytes]], *args: str) -> int:
    p = subprocess.Popen([sys.executable, "-c", SLEEPER, *args])
    procs.append(p)
    return p.pid


def test_home(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert profile.home() == isolated_env / "pocketkube"
    monkeypatch.delenv("POCKETKUBE_HOME")
    assert profile.home() == Path(os.environ["HOME"]) / ".pocketkube"


def test_paths(tmp_path: Path) -> None:
    p = Profile("dev", tmp_path)
    assert p.dir == tmp_path / "dev"
    assert p.config_file == tmp_path / "dev" / "config.json"
    assert (p.pki_dir.name, p.logs_dir.name, p.run_dir.name, p.datastore_file.name) == ("pki", "logs", "run",
                                                                                          "state.db")
    assert p.pid_file() == tmp_path / "dev" / "run" / "supervisor.pid"
    assert p.pid_file("apiserver").name == "apiserver.pid"


def test_save_and_load(tmp_path: Path) -> None:
    p = Profile("dev", tmp_path)
    assert not p.exists()
    p.save(Settings(apiserver_port=6444, datastore="etcd://127.0.0.1:2379", extra={"k": "v"}))
    assert p.exists()
    assert stat.S_IMODE(p.dir.stat().st_mode) == 0o700
    assert p.load() == Settings(version=1, apiserver_port=6444, datastore="etcd://127.0.0.1:2379", extra={"k": "v"})
    assert not p.config_file.with_suffix(".tmp").exists()


def test_load_ignores_unknown_keys(tmp_path: Path) -> None:
    p = Profile("dev", tmp_path)
    p.dir.mkdir()
    p.config_file.write_text(json.dumps({"version": 1, "apiserver_port": 7000, "future_setting": True}))
    assert p.load() == Settings(apiserver_port=7000)


def test_missing_profile(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match='profile "ghost" does not exist'):
        Profile("ghost", tmp_path).load()


@pytest.mark.parametrize("content,message", [
    ("{not json", "config.json is unreadable"),
    ("[1, 2]", "config.json has no version"),
    ('{"apiserver_port": 1}', "config.json has no version"),
    ('{"version": "1"}', "config.json has no version"),
    ('{"version": 2}', "was written by a newer pocketkube (format 2 > 1); upgrade pocketkube to use it"),
])
def test_corrupt_or_newer_config(tmp_path: Path, content: str, message: str) -> None:
    p = Profile("dev", tmp_path)
    p.dir.mkdir()
    p.config_file.write_text(content)
    with pytest.raises(ProfileError) as e:
        p.load()
    assert message in str(e.value)
    assert str(p.dir) in str(e.value)
    assert p.config_file.read_text() == content  # never rewritten


def test_unreadable_config(tmp_path: Path) -> None:
    p = Profile("dev", tmp_path)
    p.config_file.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(ProfileError, match="corrupt"):
        p.load()


def test_is_ours_matches_only_processes_naming_the_folder(tmp_path: Path,
                                                          spawn: list[subprocess.Popen[bytes]]) -> None:
    p = Profile("dev", tmp_path)
    ours = start(spawn, "--profile-dir", str(p.dir))
    prefix = start(spawn, "--profile-dir", str(p.dir) + "2")
    inside = start(spawn, "--log", str(p.dir / "logs" / "x.log"))
    joined = start(spawn, f"--profile-dir={p.dir}")
    assert p.is_ours(ours)
    assert not p.is_ours(prefix)
    assert not p.is_ours(inside)
    assert not p.is_ours(joined)
    assert not p.is_ours(os.getpid())
    assert not p.is_ours(2**22 + 12345)  # no such process
    assert not Profile("other", tmp_path).is_ours(ours)


def test_read_pid_and_running(tmp_path: Path, spawn: list[subprocess.Popen[bytes]]) -> None:
    p = Profile("dev", tmp_path)
    assert p.read_pid() is None
    assert not p.running()
    p.run_dir.mkdir(parents=True)
    p.pid_file().write_text("garbage\n")
    assert p.read_pid() is None
    p.pid_file().write_text(f"{os.getpid()}\n")  # alive, but not ours
    assert p.read_pid() is None
    pid = start(spawn, "--profile-dir", str(p.dir))
    p.pid_file().write_text(f"{pid}\n")
    assert p.read_pid() == pid
    assert p.running()


def test_parts(tmp_path: Path) -> None:
    p = Profile("dev", tmp_path)
    assert p.parts() == []
    p.run_dir.mkdir(parents=True)
    (p.run_dir / "parts").write_text("apiserver controller-manager\nscheduler\n")
    assert p.parts() == ["apiserver", "controller-manager", "scheduler"]


def test_list_profiles(isolated_env: Path) -> None:
    assert profile.list_profiles() == []
    root = profile.home()
    Profile("b").save(Settings())
    Profile("a").save(Settings())
    (root / "not-a-profile").mkdir()
    assert [p.name for p in profile.list_profiles()] == ["a", "b"]
