"""A real pocketkube cluster for integration tests, driven through its CLI and real kubectl.

`Cluster` starts a profile with `pocketkube start` in a private POCKETKUBE_HOME,
KUBECONFIG, HOME and KUBECACHEDIR, runs the real /usr/bin/kubectl against it and
builds official `kubernetes` Python clients. `close()` runs `pocketkube delete`
and checks that the supervisor process is gone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KUBECTL = "/usr/bin/kubectl"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout


class Cluster:
    def __init__(self, profile: str = "itest") -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pocketkube-itest-"))
        self.home = self.tmp / "home"
        self.home.mkdir()
        self.profile = profile
        self.env = dict(os.environ)
        self.env.update({
            "POCKETKUBE_HOME": str(self.tmp / "state"),
            "KUBECONFIG": str(self.home / ".kube" / "config"),
            "KUBECACHEDIR": str(self.home / ".kube" / "cache"),
            "HOME": str(self.home),
            # Integration tests run on simulated nodes; tests/e2e start containerd nodes explicitly.
            "POCKETKUBE_NODE_RUNTIME": "simulated",
        })
        self.env.pop("KUBECTL_EXTERNAL_DIFF", None)

    @property
    def kubeconfig(self) -> str:
        return self.env["KUBECONFIG"]

    def pocketkube(self, *args: str, check: bool = True, timeout: float = 120) -> Result:
        proc = subprocess.run([sys.executable, "-m", "pocketkube.cli.main", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"pocketkube {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return result

    def start(self, *extra: str) -> Result:
        return self.pocketkube("start", "--profile", self.profile, *extra)

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60,
                env: dict[str, str] | None = None) -> Result:
        run_env = dict(self.env)
        run_env.update(env or {})
        proc = subprocess.run([KUBECTL, *args], env=run_env, input=input, capture_output=True, text=True,
                              timeout=timeout)
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return result

    def fresh_cache(self) -> None:
        shutil.rmtree(self.home / ".kube" / "cache", ignore_errors=True)

    def namespace(self, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.kubectl("create", "namespace", name)
        return name

    def api_client(self) -> Any:
        from kubernetes import client, config

        cfg = client.Configuration()
        config.load_kube_config(config_file=self.kubeconfig, client_configuration=cfg)
        return client.ApiClient(cfg)

    def wait_for(self, predicate: Any, timeout: float = 20.0, interval: float = 0.1) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(interval)

    def supervisor_pid(self) -> int | None:
        try:
            return int((self.tmp / "state" / self.profile / "run" / "supervisor.pid").read_text())
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        pid = self.supervisor_pid()
        try:
            self.pocketkube("delete", "--profile", self.profile, check=False)
        finally:
            if pid is not None:
                _wait_gone(pid)
            shutil.rmtree(self.tmp, ignore_errors=True)


def _wait_gone(pid: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if "State:\tZ" in Path(f"/proc/{pid}/status").read_text():
                return  # exited; only init's reaping is pending
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still running after delete")
