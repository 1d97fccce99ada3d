"""The simulated streaming backend: logs, exec, attach and port-forward for pods that run no processes.

Theory of operation: every simulated container is a `SimContainer` record:
its state (waiting/running/terminated, restart count, last exit), an in-memory
filesystem and environment for the simulated shell (kubelet/simshell.py), and
a console. `emit()` writes output as the runtime would: CRI log records
appended to `<log_dir>/<ns>_<pod>/<container>/<restartCount>.log` (a trailing
piece without newline becomes a P record) and the same bytes to every attached
client. `kubectl exec` runs the shell in a task owned by its `SimProcess`;
`kubectl attach` subscribes to the console (stdin is echoed back when the
container was added with `echo_stdin`, and closes the container when it was
added with `stdin_once`; a container whose command is just a shell and that
has stdin gets an interactive simulated shell per attach, so
`kubectl run -it --rm x --image=busybox -- sh` works). Port-forward dials a TCP address from `dial`
(default: 127.0.0.1 and the same port), so tests can put an echo server behind
a pod port. The node agent keeps the records in step with its pods by calling
`sync_pod(pod)` whenever it computes a pod's status (containers appear with
their spec's env; restarts move to a new log file; `pod_status` then answers
with that status) and `forget_pod` when the pod is gone; `status_source`
overrides where statuses come from.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from pocketkube.apiserver.streamproto.transport import StreamBytes
from pocketkube.kubelet import logs
from pocketkube.kubelet.simshell import ExitScript, ShellIO, SimFS, SimShell
from pocketkube.kubelet.streaming_backend import (
    ExecSession,
    LogTarget,
    Obj,
    PortConnection,
    StreamingError,
    StreamOptions,
    container_not_found,
    pod_not_found,
)

Dial = Callable[[str, str, int], Awaitable[tuple[str, int]]]
StatusSource = Callable[[str, str], Awaitable[Obj | None]]


class SimProcess:
    """A running simulated command: queues between the shell task and the client."""

    def __init__(self, tty: bool, stdin: bool) -> None:
        self.tty = tty
        self.stdin_enabled = stdin
        self._stdin: asyncio.Queue[bytes] = asyncio.Queue()
        self._out: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._err: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._task: asyncio.Future[int] | None = None
        if not stdin:
            self._stdin.put_nowait(b"")

    def start(self, main: Callable[[ShellIO], Awaitable[int]]) -> None:
        async def run() -> int:
            sio = ShellIO(self._read, self._emit_out, self._emit_out if self.tty else self._emit_err, self.tty)
            try:
                return await main(sio)
            except ExitScript as e:
                return e.code
            finally:
                self._out.put_nowait(None)
                self._err.put_nowait(None)
        self._task = asyncio.ensure_future(run())

    async def _read(self) -> bytes:
        data = await self._stdin.get()
        if not data:
            self._stdin.put_nowait(b"")
        return data

    async def _emit_out(self, data: bytes) -> None:
        self._out.put_nowait(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") if self.tty else data)

    async def _emit_err(self, data: bytes) -> None:
        self._err.put_nowait(data)

    async def write_stdin(self, data: bytes) -> None:
        if self.stdin_enabled:
            self._stdin.put_nowait(data)

    async def close_stdin(self) -> None:
        self._stdin.put_nowait(b"")

    @staticmethod
    async def _drain(queue: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
        while (chunk := await queue.get()) is not None:
            yield chunk
        queue.put_nowait(None)

    def stdout(self) -> AsyncIterator[bytes]:
        return self._drain(self._out)

    def stderr(self) -> AsyncIterator[bytes]:
        return self._drain(self._err)

    async def resize(self, width: int, height: int) -> None:
        return None

    async def wait(self) -> int:
        assert self._task is not None
        return await self._task

    async def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class SimContainer:
    namespace: str
    pod: str
    name: str
    log_dir: Path
    fs: SimFS = field(default_factory=SimFS)
    env: dict[str, str] = field(default_factory=dict)
    state: str = "running"  # running | waiting | terminated
    waiting_reason: str = "ContainerCreating"
    restart_count: int = 0
    exit_code: int = 0
    last_exit_code: int | None = None
    echo_stdin: bool = False
    stdin_once: bool = False
    shell_console: bool = False  # the main process is an interactive shell (`kubectl run -it ... -- sh`)
    attached: list[SimProcess] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def log_file(self, attempt: int | None = None) -> Path:
        n = self.restart_count if attempt is None else attempt
        return self.log_dir / f"{self.namespace}_{self.pod}" / self.name / f"{n}.log"

    def emit(self, data: bytes, stream: str = "stdout") -> None:
        path = self.log_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        now = time.time_ns()
        pieces = data.split(b"\n")
        tail = pieces.pop()
        records = [logs.encode_record(now, stream, p) for p in pieces]
        if tail:
            records.append(logs.encode_record(now, stream, tail, partial=True))
        with open(path, "ab") as f:
            f.write(b"".join(records))
        for proc in self.attached:
            proc._out.put_nowait(data) if stream == "stdout" or proc.tty else proc._err.put_nowait(data)

    def stop(self, exit_code: int = 0) -> None:
        self.state, self.exit_code = "terminated", exit_code
        for proc in self.attached:
            proc._out.put_nowait(None)
            proc._err.put_nowait(None)
        self.attached.clear()
        self.changed.set()

    def restart(self) -> None:
        """A new instance: the current one becomes lastState."""
        self.last_exit_code = self.exit_code if self.state == "terminated" else 137
        self.restart_count += 1
        self.state, self.exit_code = "running", 0

    def status(self) -> Obj:
        cid = f"sim://{self.namespace}_{self.pod}_{self.name}_{self.restart_count}"
        state: Obj = {"running": {}} if self.state == "running" else (
            {"waiting": {"reason": self.waiting_reason}} if self.state == "waiting" else
            {"terminated": {"exitCode": self.exit_code, "containerID": cid}})
        out: Obj = {"name": self.name, "state": state, "restartCount": self.restart_count, "lastState": {}}
        if self.last_exit_code is not None:
            prev = f"sim://{self.namespace}_{self.pod}_{self.name}_{self.restart_count - 1}"
            out["lastState"] = {"terminated": {"exitCode": self.last_exit_code, "containerID": prev}}
        return out


def _is_shell(argv: list[str]) -> bool:
    return len(argv) == 1 and argv[0].rsplit("/", 1)[-1] in ("sh", "bash", "ash")


async def _loopback(namespace: str, pod: str, port: int) -> tuple[str, int]:
    return "127.0.0.1", port


class SimulatedStreaming:
    """A StreamingBackend over SimContainer records."""

    def __init__(self, log_dir: Path, dial: Dial = _loopback, status_source: StatusSource | None = None) -> None:
        self.log_dir = log_dir
        self.dial = dial
        self.status_source = status_source
        self.containers: dict[tuple[str, str, str], SimContainer] = {}
        self.statuses: dict[tuple[str, str], Obj] = {}

    def sync_pod(self, pod: Obj) -> None:
        """Mirror an API pod (spec + status, as the node agent computed it): containers, states, restarts."""
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        ns, name = meta.get("namespace", ""), meta["name"]
        reported = {cs.get("name"): cs for key in ("initContainerStatuses", "containerStatuses")
                    for cs in status.get(key) or []}
        for ctr in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            c = self.containers.get((ns, name, ctr["name"])) or self.add_container(
                ns, name, ctr["name"], env={e["name"]: str(e["value"]) for e in ctr.get("env") or [] if "value" in e},
                echo_stdin=bool(ctr.get("stdin")), stdin_once=bool(ctr.get("stdinOnce")),
                shell_console=bool(ctr.get("stdin")) and _is_shell([*(ctr.get("command") or []),
                                                                    *(ctr.get("args") or [])]))
            cs = reported.get(ctr["name"]) or {}
            while c.restart_count < int(cs.get("restartCount") or 0):
                c.restart()
            last = (cs.get("lastState") or {}).get("terminated")
            if last and c.restart_count:
                c.last_exit_code = int(last.get("exitCode") or 0)
            state = cs.get("state") or {}
            if "running" in state:
                c.state = "running"
            elif "terminated" in state and c.state != "terminated":
                c.stop(int(state["terminated"].get("exitCode") or 0))
            elif "waiting" in state:
                c.state, c.waiting_reason = "waiting", str((state["waiting"] or {}).get("reason", ""))
        self.statuses[(ns, name)] = status

    def forget_pod(self, namespace: str, pod: str) -> None:
        for key in [k for k in self.containers if k[:2] == (namespace, pod)]:
            self.containers.pop(key).stop(137)
        self.statuses.pop((namespace, pod), None)

    def add_container(self, namespace: str, pod: str, name: str, **fields: object) -> SimContainer:
        c = SimContainer(namespace, pod, name, self.log_dir, **fields)  # type: ignore[arg-type]
        c.fs.write("/etc/hostname", f"{pod}\n".encode())
        c.fs.write("/etc/hosts", f"127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t{pod}\n".encode())
        c.env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME": pod,
                 "HOME": "/root", **c.env}
        self.containers[(namespace, pod, name)] = c
        return c

    def container(self, namespace: str, pod: str, name: str) -> SimContainer:
        c = self.containers.get((namespace, pod, name))
        if c is None:
            if not any(k[:2] == (namespace, pod) for k in self.containers):
                raise pod_not_found(namespace, pod)
            raise container_not_found(name)
        return c

    def _running(self, namespace: str, pod: str, name: str) -> SimContainer:
        c = self.container(namespace, pod, name)
        if c.state != "running":
            raise StreamingError(f'container not running ("{name}")', 500)
        return c

    async def pod_status(self, namespace: str, pod: str) -> Obj | None:
        if self.status_source is not None:
            return await self.status_source(namespace, pod)
        if (namespace, pod) in self.statuses:
            return self.statuses[(namespace, pod)]
        mine = [c for k, c in self.containers.items() if k[:2] == (namespace, pod)]
        return {"containerStatuses": [c.status() for c in mine]} if mine else None

    async def log_path(self, namespace: str, pod: str, container: str, previous: bool) -> LogTarget:
        c = self.container(namespace, pod, container)
        attempt = c.restart_count - 1 if previous else c.restart_count

        async def running() -> bool:
            return c.state == "running" and c.restart_count == attempt
        return LogTarget(c.log_file(attempt), running)

    async def exec(self, namespace: str, pod: str, container: str, command: list[str],
                   opts: StreamOptions) -> ExecSession:
        c = self._running(namespace, pod, container)
        shell = SimShell(c.fs, dict(c.env), pod)
        proc = SimProcess(opts.tty, opts.stdin)
        if not command or not shell.knows(command[0]):
            # like containerd: the exec fails after the stream is up, as a Failure Status
            message = ("Internal error occurred: error executing command in container: failed to exec in container: "
                       f'failed to start exec "{c.name}": OCI runtime exec failed: exec failed: unable to start '
                       f'container process: exec: "{command[0] if command else ""}": executable file not found in '
                       "$PATH: unknown")

            async def fail(sio: ShellIO) -> int:
                raise RuntimeError(message)
            proc.start(fail)
            return proc
        proc.start(lambda sio: shell.run(command, sio))
        return proc

    async def attach(self, namespace: str, pod: str, container: str, opts: StreamOptions) -> ExecSession:
        c = self._running(namespace, pod, container)
        proc = SimProcess(opts.tty, opts.stdin)
        c.attached.append(proc)

        async def console(sio: ShellIO) -> int:
            if c.shell_console and opts.stdin:
                code = await SimShell(c.fs, dict(c.env), pod).interactive(sio)
                if c.stdin_once:
                    c.stop(code)
                return 0  # an attach reports Success; the exit code is the container's
            while data := await sio.read():
                if c.echo_stdin:
                    c.emit(data)
            if c.stdin_once and opts.stdin:
                c.stop(0)
            await c.changed.wait()
            return 0
        proc.start(console)
        return proc

    async def port_forward(self, namespace: str, pod: str, port: int) -> PortConnection:
        self.container_any(namespace, pod)
        host, target = await self.dial(namespace, pod, port)
        try:
            reader, writer = await asyncio.open_connection(host, target)
        except OSError as e:
            raise StreamingError(f"failed to connect to localhost:{port} inside namespace of pod "
                                 f'"{namespace}/{pod}": {e}', 500) from None
        return StreamBytes(reader, writer)

    def container_any(self, namespace: str, pod: str) -> None:
        if not any(k[:2] == (namespace, pod) for k in self.containers):
            raise pod_not_found(namespace, pod)
