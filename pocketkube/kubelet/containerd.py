"""Running a private containerd for the node agent: start, readiness, adoption, stop.

Theory of operation: `ContainerdManager(layout, settings)` owns one containerd whose every path
lives under `layout.base` (containerd_config.py renders its files). `prepare()` writes
config.toml, the CNI conflist and the folders; `start()` spawns `containerd --config ...` as a
child in its own session (so signals aimed at the agent's process group miss it), logs to
containerd.log, records the PID in containerd.pid and returns once CRI answers `Version` and
`Status` reports RuntimeReady. A containerd left running by a previous agent (pid file whose
process's command line names our config, and whose socket answers) is adopted instead of
started twice: two daemons on one root would hang on the bolt database. `stop()` sends SIGTERM
and waits for the exit (1-2 s measured), escalating to SIGKILL after `timeout`; a child is
reaped with wait(), an adopted process is polled in /proc (zombies count as gone, since this
sandbox's PID 1 reaps orphans late). Pods survive a stop: their shims are separate processes.

`write_mirror_hosts()` points registry hosts at the local registry (certs.d/<host>/hosts.toml is
re-read on every pull, so no restart is needed), and `ctr_run_rm()` measures the raw cost of
`ctr run --rm` of an image on this instance: the limit the pod-startup benchmark compares with.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import grpc

from pocketkube.kubelet.containerd_config import (
    K8S_NAMESPACE,
    WELL_KNOWN_REGISTRIES,
    ContainerdLayout,
    ContainerdSettings,
    hosts_toml,
    render_cni_conflist,
    render_config,
    upstream_server,
)
from pocketkube.kubelet.hostcleanup import remove_cgroup
from pocketkube.kubelet.runtime.cri_pb import cri_pb2 as pb

CTR_BIN = "/usr/bin/ctr"


class ContainerdError(Exception):
    """containerd could not be started, did not become ready, or could not be stopped."""


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def process_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (kill -0 alone lies about unreaped zombies)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


async def probe_cri(endpoint: str, timeout: float = 1.0) -> tuple[bool, str]:
    """(runtime ready, why not) from one Version + Status round trip."""
    try:
        async with grpc.aio.insecure_channel(endpoint) as ch:
            version = ch.unary_unary("/runtime.v1.RuntimeService/Version",
                                     request_serializer=pb.VersionRequest.SerializeToString,
                                     response_deserializer=pb.VersionResponse.FromString)
            status = ch.unary_unary("/runtime.v1.RuntimeService/Status",
                                    request_serializer=pb.StatusRequest.SerializeToString,
                                    response_deserializer=pb.StatusResponse.FromString)
            await version(pb.VersionRequest(version="v1"), timeout=timeout)
            reply = await status(pb.StatusRequest(), timeout=timeout)
    except grpc.aio.AioRpcError as e:
        return False, f"{e.code().name}: {e.details()}"
    for cond in reply.status.conditions:
        if cond.type == "RuntimeReady" and not cond.status:
            return False, f"RuntimeReady=false {cond.reason}: {cond.message}"
    return True, ""


class ContainerdManager:
    def __init__(self, layout: ContainerdLayout, settings: ContainerdSettings | None = None) -> None:
        self.layout = layout
        self.settings = settings or ContainerdSettings()
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None

    @property
    def endpoint(self) -> str:
        return self.layout.endpoint

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def adopted(self) -> bool:
        return self._pid is not None and self._proc is None

    def prepare(self) -> None:
        """Create the folders and write config.toml and the CNI conflist (idempotent)."""
        lay = self.layout
        for d in (lay.base, lay.root, lay.state, lay.opt, lay.runc_root, lay.cni_conf_dir,
                  lay.cni_ipam_dir, lay.certs_dir):
            d.mkdir(parents=True, exist_ok=True)
        _write_if_changed(lay.config, render_config(lay, self.settings))
        _write_if_changed(lay.cni_conf_dir / "10-pocketkube.conflist", render_cni_conflist(lay, self.settings))

    def running(self) -> bool:
        return self._pid is not None and process_alive(self._pid)

    def died(self) -> bool:
        """containerd was started or adopted and is no longer running."""
        return self._pid is not None and not process_alive(self._pid)

    async def revive(self, timeout: float = 30.0) -> None:
        """Start containerd again after it died (its pods live on in their shims and are recovered)."""
        self._reap()
        self._proc, self._pid = None, None
        await self.start(timeout)

    async def start(self, timeout: float = 30.0) -> None:
        """Start (or adopt) containerd and wait until CRI reports RuntimeReady."""
        self.prepare()
        if self.running():
            return
        if await self._adopt():
            await self.wait_ready(timeout)
            return
        self.layout.socket.unlink(missing_ok=True)
        log = open(self.layout.log_file, "ab")  # noqa: SIM115 - handed to the child
        try:
            self._proc = subprocess.Popen(
                [self.settings.containerd_bin, "--config", str(self.layout.config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        self._pid = self._proc.pid
        self.layout.pid_file.write_text(f"{self._pid}\n")
        await self.wait_ready(timeout)

    async def _adopt(self) -> bool:
        pid = _read_pid(self.layout.pid_file)
        if pid is None or not process_alive(pid) or str(self.layout.config) not in _cmdline(pid):
            return False
        self._pid, self._proc = pid, None
        return True

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        why = "not started"
        while time.monotonic() < deadline:
            if self._pid is None or not process_alive(self._pid):
                self._reap()
                raise ContainerdError(f"containerd exited during startup: {self.log_tail()}")
            if self.layout.socket.exists():
                ready, why = await probe_cri(self.endpoint)
                if ready:
                    return
            await asyncio.sleep(0.02)
        raise ContainerdError(f"containerd not ready after {timeout:.0f}s ({why}); {self.log_tail()}")

    async def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait for the exit (SIGKILL after `timeout`); returns the exit code if known."""
        if self._pid is None:
            return None
        self._signal(signal.SIGTERM)
        if not await self._wait_exit(timeout):
            self._signal(signal.SIGKILL)
            await self._wait_exit(10.0)
        return self._finish()

    async def kill(self) -> int | None:
        """SIGKILL and wait (tests: a crash of containerd)."""
        if self._pid is None:
            return None
        self._signal(signal.SIGKILL)
        await self._wait_exit(10.0)
        return self._finish()

    def _signal(self, sig: int) -> None:
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, sig)

    async def _wait_exit(self, timeout: float) -> bool:
        if self._proc is not None:
            try:
                await asyncio.to_thread(self._proc.wait, timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while self._pid is not None and process_alive(self._pid):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def _reap(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1)

    def _finish(self) -> int | None:
        code = self._proc.returncode if self._proc is not None else None
        self._proc, self._pid = None, None
        self.layout.pid_file.unlink(missing_ok=True)
        return code

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.layout.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return "no log"
        return " | ".join(text[-lines:])

    def write_mirror_hosts(self, mirror_url: str, hosts: Iterable[str] = (),
                           upstream_fallback: bool = False) -> None:
        write_mirror_hosts(self.layout.certs_dir, mirror_url, hosts, upstream_fallback)

    async def ctr_run_rm(self, image: str, args: Iterable[str] = ("true",)) -> float:
        return await ctr_run_rm(self.layout, self.settings, image, args)


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_mirror_hosts(certs_dir: Path, mirror_url: str, hosts: Iterable[str] = (),
                       upstream_fallback: bool = False) -> list[Path]:
    """hosts.toml for `_default`, the well-known registries and `hosts`, all via `mirror_url`."""
    written = []
    for host in sorted({"_default", *WELL_KNOWN_REGISTRIES, *hosts}):
        upstream = None
        if upstream_fallback and host != "_default":
            upstream = upstream_server(host)
        path = certs_dir / host / "hosts.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_if_changed(path, hosts_toml(mirror_url, upstream))
        written.append(path)
    return written


async def ctr_run_rm(layout: ContainerdLayout, settings: ContainerdSettings, image: str,
                     args: Iterable[str] = ("true",)) -> float:
    """Seconds `ctr run --rm IMAGE ID ARGS` takes on this containerd (create+start+wait+delete)."""
    cid = f"pk-ctr-{uuid.uuid4().hex[:12]}"
    cgroup = f"/pocketkube-ctr/{cid}"
    cmd = [CTR_BIN, "--address", str(layout.socket), "--namespace", K8S_NAMESPACE, "run", "--rm",
           "--null-io", "--runc-binary", settings.runc_bin, "--runc-root", str(layout.runc_root),
           "--fifo-dir", str(layout.base / "ctr-fifo"), "--cgroup", cgroup, image, cid, *args]
    begin = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    elapsed = time.monotonic() - begin
    remove_cgroup("/pocketkube-ctr")
    if proc.returncode != 0:
        raise ContainerdError(f"ctr run failed ({proc.returncode}): {(err or out).decode().strip()}")
    return elapsed

