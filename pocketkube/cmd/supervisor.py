"""The supervisor process of one profile: runs the cluster's parts and keeps them up.

Theory of operation: `pocketkube start` launches this process detached from the
terminal. It starts every part (apiserver first; controller-manager, scheduler
and the node agent join as they exist) as a child process with its log under
the profile's logs/, restarts a part that exits unexpectedly with exponential
backoff (1 s doubling to 30 s, reset after a minute of uptime), and on SIGTERM
or SIGINT stops the parts in reverse order (SIGTERM, then SIGKILL after a grace
period) and exits, leaving no process or listener behind. The profile folder
is on every child's command line, which is how `pocketkube` recognises them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pocketkube.cmd import logs

log = logging.getLogger("pocketkube.supervisor")

STOP_GRACE = 10.0
BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
HEALTHY_UPTIME = 60.0


@dataclass
class Part:
    name: str
    argv: list[str]
    log_file: Path
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    stopping: bool = field(default=False)


def _python(module: str, profile_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", module, "--profile-dir", str(profile_dir), *args]


def _client_flags(profile_dir: Path, config: dict[str, object], identity: str) -> list[str]:
    """Flags for a component that talks to the apiserver with its own client certificate."""
    pki = profile_dir / "pki"
    port = config.get("apiserver_port") or 6443
    return ["--server", f"https://127.0.0.1:{port}", "--certificate-authority", str(pki / "ca.crt"),
            "--client-certificate", str(pki / f"{identity}.crt"), "--client-key", str(pki / f"{identity}.key"),
            "--log-level", str(config.get("log_level") or "info")]


def apiserver_part(profile_dir: Path, config: dict[str, object]) -> list[str]:
    pki = profile_dir / "pki"
    run = profile_dir / "run"
    datastore = str(config.get("datastore") or "sqlite")
    storage = f"sqlite://{profile_dir / 'state.db'}" if datastore == "sqlite" else datastore
    return _python("pocketkube.cmd.apiserver", profile_dir,
                   "--secure-port", str(config.get("apiserver_port") or 6443),
                   "--tls-cert-file", str(pki / "apiserver.crt"), "--tls-private-key-file", str(pki / "apiserver.key"),
                   "--client-ca-file", str(pki / "ca.crt"), "--storage", storage,
                   "--port-file", str(run / "apiserver.port"), "--log-level", str(config.get("log_level") or "info"),
                   "--service-account-key-file", str(pki / "sa.pub"),
                   "--service-account-signing-key-file", str(pki / "sa.key"),
                   "--service-account-issuer", "https://kubernetes.default.svc.cluster.local")


def controller_manager_part(profile_dir: Path, config: dict[str, object]) -> list[str]:
    return _python("pocketkube.cmd.controller_manager", profile_dir,
                   *_client_flags(profile_dir, config, "controller-manager"),
                   "--port-file", str(profile_dir / "run" / "controller-manager.port"))


def scheduler_part(profile_dir: Path, config: dict[str, object]) -> list[str]:
    return _python("pocketkube.cmd.scheduler", profile_dir, *_client_flags(profile_dir, config, "scheduler"),
                   "--port-file", str(profile_dir / "run" / "scheduler.port"))


def node_agent_part(profile_dir: Path, config: dict[str, object]) -> list[str]:
    extra = config.get("extra")
    nodes = extra.get("nodes", 1) if isinstance(extra, dict) else 1
    pki = profile_dir / "pki"
    return _python("pocketkube.cmd.node", profile_dir, *_client_flags(profile_dir, config, "node-agent"),
                   "--bootstrap-nodes", str(nodes), "--bootstrap-name", profile_dir.name,
                   "--tls-cert-file", str(pki / "node-agent-serving.crt"),
                   "--tls-private-key-file", str(pki / "node-agent-serving.key"),
                   "--client-ca-file", str(pki / "ca.crt"))


# Each part is built by its own function; a function returning None leaves that part out.
PARTS: list[tuple[str, Callable[[Path, dict[str, object]], list[str] | None]]] = [
    ("apiserver", apiserver_part),
    ("controller-manager", controller_manager_part),
    ("scheduler", scheduler_part),
    ("node-agent", node_agent_part),
]


def part_commands(profile_dir: Path, config: dict[str, object]) -> list[tuple[str, list[str]]]:
    """The parts of a cluster and their command lines, in start order."""
    out = []
    for name, build in PARTS:
        argv = build(profile_dir, config)
        if argv is not None:
            out.append((name, argv))
    return out


class Supervisor:
    def __init__(self, profile_dir: Path) -> None:
        self.dir = profile_dir
        self.config = json.loads((profile_dir / "config.json").read_text())
        logs = profile_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.parts = [Part(name, argv, logs / f"{name}.log") for name, argv in
                      part_commands(profile_dir, self.config)]
        (profile_dir / "run" / "parts").write_text("\n".join(p.name for p in self.parts) + "\n")
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        async with asyncio.TaskGroup() as tg:
            for i, part in enumerate(self.parts):
                tg.create_task(self.keep_running(part), name=part.name)
                if i == 0:
                    await self.wait_serving()  # the others talk to the apiserver: start them once it serves
            await self.stopping.wait()
            for part in reversed(self.parts):
                await self.stop(part)

    async def wait_serving(self, timeout: float = 60.0) -> None:
        port_file = self.dir / "run" / "apiserver.port"
        deadline = time.monotonic() + timeout
        while not port_file.exists() and time.monotonic() < deadline and not self.stopping.is_set():
            await asyncio.sleep(0.02)

    async def keep_running(self, part: Part) -> None:
        backoff = BACKOFF_START
        while not self.stopping.is_set():
            await self.start(part)
            assert part.proc is not None
            code = await part.proc.wait()
            if self.stopping.is_set() or part.stopping:
                return
            uptime = time.monotonic() - part.started_at
            if uptime > HEALTHY_UPTIME:
                backoff = BACKOFF_START
            part.restarts += 1
            log.warning("%s exited with %s after %.1fs; restarting in %.0fs", part.name, code, uptime, backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def start(self, part: Part) -> None:
        with open(part.log_file, "ab") as out:
            part.proc = await asyncio.create_subprocess_exec(
                *part.argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out)
        part.started_at = time.monotonic()
        (self.dir / "run" / f"{part.name}.pid").write_text(str(part.proc.pid))
        log.info("started %s (pid %d)", part.name, part.proc.pid)

    async def stop(self, part: Part) -> None:
        part.stopping = True
        proc = part.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        (self.dir / "run" / f"{part.name}.pid").unlink(missing_ok=True)
        log.info("stopped %s", part.name)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="pocketkube-supervisor")
    p.add_argument("--profile-dir", required=True)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    profile_dir = Path(args.profile_dir)
    logs.configure("info", os.environ.get("POCKETKUBE_LOG_FORMAT", "text"))
    run_dir = profile_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    pid_file = run_dir / "supervisor.pid"
    pid_file.write_text(str(os.getpid()))
    try:
        asyncio.run(Supervisor(profile_dir).run())
    finally:
        pid_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
