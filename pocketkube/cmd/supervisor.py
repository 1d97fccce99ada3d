"""The supervisor process of one profile: runs the cluster's parts and keeps them up.

Theory of operation: `pocketkube start` launches this process detached from the
terminal. It starts every part as a child process with its output under the
profile's logs/ — all at once: the others wait for the apiserver's /readyz
themselves, so their start-up overlaps the apiserver's — restarts a
part that exits unexpectedly with exponential backoff (1 s doubling to 30 s,
reset after a minute of uptime), and on SIGTERM or SIGINT stops the parts in
reverse order (SIGTERM, then SIGKILL after a grace period) and exits, leaving
no process or listener behind. The profile folder is on every child's command
line, which is how `pocketkube` recognises them.

Parts and components: the components (apiserver, controller-manager,
scheduler, node-agent) are grouped into parts (processes). By default the
apiserver is one part and the controller-manager, the scheduler and a
simulated node agent share a second one (pocketkube/cmd/components.py), which
keeps a laptop cluster's memory small; `"separate_processes": true` in the
profile's settings gives every component its own process, and a node agent
that manages real containers always has its own. run/<component>.pid names the
process hosting each component; run/parts lists the components.

The supervisor itself is plain blocking code (subprocess + sigtimedwait): it
must stay small and must not depend on the event loop of anything it runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import subprocess
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
SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


@dataclass
class Part:
    name: str
    argv: list[str]
    log_file: Path
    components: tuple[str, ...]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    backoff: float = BACKOFF_START
    due: float = 0.0  # when a stopped part may start again
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
                   "--port-file", str(profile_dir / "run" / "controller-manager.port"),
                   *shlex.split(str(_extra(config).get("controller_manager_flags", ""))))


def scheduler_part(profile_dir: Path, config: dict[str, object]) -> list[str]:
    return _python("pocketkube.cmd.scheduler", profile_dir, *_client_flags(profile_dir, config, "scheduler"),
                   "--port-file", str(profile_dir / "run" / "scheduler.port"))


def node_agent_part(profile_dir: Path, config: dict[str, object]) -> list[str]:
    extra = config.get("extra")
    nodes = extra.get("nodes", 1) if isinstance(extra, dict) else 1
    pki = profile_dir / "pki"
    runtime = str(_extra(config).get("node_runtime") or "simulated")
    return _python("pocketkube.cmd.node", profile_dir, *_client_flags(profile_dir, config, "node-agent"),
                   "--bootstrap-nodes", str(nodes), "--bootstrap-name", profile_dir.name,
                   "--tls-cert-file", str(pki / "node-agent-serving.crt"),
                   "--tls-private-key-file", str(pki / "node-agent-serving.key"),
                   "--client-ca-file", str(pki / "ca.crt"), "--node-runtime", runtime)


# Each component is built by its own function; a function returning None leaves that component out.
COMPONENTS: list[tuple[str, Callable[[Path, dict[str, object]], list[str] | None]]] = [
    ("apiserver", apiserver_part),
    ("controller-manager", controller_manager_part),
    ("scheduler", scheduler_part),
    ("node-agent", node_agent_part),
]
# Components that may share the `controllers` process (their argv's module name follows "-m").
SHAREABLE = {"controller-manager": "pocketkube.cmd.controller_manager", "scheduler": "pocketkube.cmd.scheduler",
             "node-agent": "pocketkube.cmd.node"}


def _extra(config: dict[str, object]) -> dict[str, object]:
    extra = config.get("extra")
    return extra if isinstance(extra, dict) else {}


def _shareable(name: str, config: dict[str, object]) -> bool:
    if name not in SHAREABLE or _extra(config).get("separate_processes"):
        return False
    return not (name == "node-agent" and _extra(config).get("node_runtime", "simulated") != "simulated")


def part_commands(profile_dir: Path, config: dict[str, object]) -> list[tuple[str, list[str], tuple[str, ...]]]:
    """The parts (processes) of a cluster: (name, argv, components hosted), in start order."""
    parts: list[tuple[str, list[str], tuple[str, ...]]] = []
    shared: list[tuple[str, list[str]]] = []
    for name, build in COMPONENTS:
        argv = build(profile_dir, config)
        if argv is None:
            continue
        if _shareable(name, config):
            shared.append((name, argv[argv.index(SHAREABLE[name]) + 1:]))
        else:
            parts.append((name, argv, (name,)))
    if len(shared) == 1:
        name = shared[0][0]
        parts.append((name, [sys.executable, "-m", SHAREABLE[name], *shared[0][1]], (name,)))
    elif shared:
        argv = _python("pocketkube.cmd.components", profile_dir)
        for name, args in shared:
            argv += [f"@{name}", *args]
        parts.append(("controllers", argv, tuple(n for n, _ in shared)))
    return parts


class Supervisor:
    def __init__(self, profile_dir: Path) -> None:
        self.dir = profile_dir
        self.run_dir = profile_dir / "run"
        self.config = json.loads((profile_dir / "config.json").read_text())
        logs_dir = profile_dir / "logs"
        logs_dir.mkdir(parents=True, exist_ok=True)
        self.parts = [Part(name, argv, logs_dir / f"{name}.log", components)
                      for name, argv, components in part_commands(profile_dir, self.config)]
        components = [c for p in self.parts for c in p.components]
        (self.run_dir / "parts").write_text("\n".join(components) + "\n")
        self.stopping = False

    def run(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        for part in self.parts:  # together: the others import and set up while the apiserver starts,
            self.start(part)     # then wait for its /readyz themselves (RESTClient.wait_ready)
        while not self.stopping:
            self.reap_and_restart()
            self.wait_signal(self.next_due())
        for part in reversed(self.parts):
            self.stop(part)

    def next_due(self) -> float:
        waiting = [p.due for p in self.parts if p.proc is None and not p.stopping]
        return max(0.05, min(5.0, min(waiting) - time.monotonic())) if waiting else 5.0

    def wait_signal(self, timeout: float) -> None:
        info = signal.sigtimedwait(SIGNALS, timeout)
        if info is not None and info.si_signo in (signal.SIGTERM, signal.SIGINT):
            self.stopping = True

    def reap_and_restart(self) -> None:
        now = time.monotonic()
        for part in self.parts:
            if part.proc is not None and part.proc.poll() is not None:
                uptime = now - part.started_at
                if uptime > HEALTHY_UPTIME:
                    part.backoff = BACKOFF_START
                part.restarts += 1
                log.warning("%s exited with %s after %.1fs; restarting in %.0fs", part.name,
                            part.proc.returncode, uptime, part.backoff)
                part.proc, part.due = None, now + part.backoff
                part.backoff = min(part.backoff * 2, BACKOFF_MAX)
            if part.proc is None and not self.stopping and now >= part.due:
                self.start(part)

    def start(self, part: Part) -> None:
        with open(part.log_file, "ab") as out:
            part.proc = subprocess.Popen(part.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                         close_fds=True, preexec_fn=_unblock_signals)
        part.started_at = time.monotonic()
        for name in {part.name, *part.components}:
            (self.run_dir / f"{name}.pid").write_text(str(part.proc.pid))
        log.info("started %s (pid %d)", part.name, part.proc.pid)

    def stop(self, part: Part) -> None:
        part.stopping = True
        proc = part.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for name in {part.name, *part.components}:
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
        if proc is not None:
            log.info("stopped %s", part.name)


def _unblock_signals() -> None:
    """Children must not inherit the supervisor's blocked signal mask."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


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
        Supervisor(profile_dir).run()
    finally:
        pid_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
