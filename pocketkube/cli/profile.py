"""A profile's state folder: paths, persisted settings, and its running processes.

Theory of operation: all state of profile NAME lives under
$POCKETKUBE_HOME/NAME (default ~/.pocketkube/NAME): config.json (settings chosen
at first start, with a format version so a newer layout is refused, not
damaged), pki/, the SQLite datastore, logs/ and run/ (pid and port files of the
supervisor). A process is considered ours only if its pid file exists and the
process's command line names this profile folder, so a stale pid reused by an
unrelated process is never signalled.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_VERSION = 1
DEFAULT_PROFILE = "pocketkube"


class ProfileError(Exception):
    pass


def home() -> Path:
    return Path(os.environ.get("POCKETKUBE_HOME") or Path.home() / ".pocketkube").expanduser()


@dataclass
class Settings:
    version: int = STATE_VERSION
    apiserver_port: int = 0
    datastore: str = "sqlite"
    extra: dict[str, Any] = field(default_factory=dict)


class Profile:
    def __init__(self, name: str, root: Path | None = None) -> None:
        self.name = name
        self.dir = (root or home()) / name

    @property
    def config_file(self) -> Path:
        return self.dir / "config.json"

    @property
    def pki_dir(self) -> Path:
        return self.dir / "pki"

    @property
    def logs_dir(self) -> Path:
        return self.dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.dir / "run"

    @property
    def datastore_file(self) -> Path:
        return self.dir / "state.db"

    def exists(self) -> bool:
        return self.config_file.exists()

    def load(self) -> Settings:
        try:
            data = json.loads(self.config_file.read_text())
        except FileNotFoundError:
            raise ProfileError(f'profile "{self.name}" does not exist') from None
        except (ValueError, OSError) as e:
            raise ProfileError(f"state folder {self.dir} is corrupt: config.json is unreadable ({e})") from None
        if not isinstance(data, dict) or not isinstance(data.get("version"), int):
            raise ProfileError(f"state folder {self.dir} is corrupt: config.json has no version")
        if data["version"] > STATE_VERSION:
            raise ProfileError(f"state folder {self.dir} was written by a newer pocketkube (format "
                               f"{data['version']} > {STATE_VERSION}); upgrade pocketkube to use it")
        known = {k: v for k, v in data.items() if k in Settings.__dataclass_fields__}
        return Settings(**known)

    def save(self, settings: Settings) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        tmp = self.config_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(settings), indent=2) + "\n")
        os.replace(tmp, self.config_file)

    # ------------------------------------------------------------------ processes
    def pid_file(self, component: str = "supervisor") -> Path:
        return self.run_dir / f"{component}.pid"

    def read_pid(self, component: str = "supervisor") -> int | None:
        try:
            pid = int(self.pid_file(component).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self.is_ours(pid) else None

    def is_ours(self, pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return str(self.dir).encode() in cmdline

    def running(self) -> bool:
        return self.read_pid() is not None

    def parts(self) -> list[str]:
        """The components the supervisor runs for this profile (written at its start)."""
        try:
            return [p for p in (self.run_dir / "parts").read_text().split() if p]
        except OSError:
            return []


def list_profiles() -> list[Profile]:
    root = home()
    if not root.is_dir():
        return []
    return [Profile(p.name, root) for p in sorted(root.iterdir()) if (p / "config.json").exists()]
