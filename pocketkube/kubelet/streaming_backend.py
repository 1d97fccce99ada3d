"""What the node agent's streaming server needs from a container runtime: the `StreamingBackend` protocol.

Theory of operation: the streaming server (kubelet/server.py) is
runtime-agnostic. It validates requests, speaks every wire protocol, and asks
the backend only for runtime facts and byte streams:

- `pod_status(ns, pod)`: the pod's status as the node agent last computed it
  (API JSON: containerStatuses, initContainerStatuses...), or None when the pod
  is not on this node; log requests are validated against it with upstream's
  messages (kubelet/logs.py).
- `log_path(ns, pod, container, previous)`: the CRI-format log file of the
  current (or previous) instance, plus a coroutine telling whether that
  instance still runs (`kubectl logs -f` ends when it stops); `plain` marks a
  plain text log (the mirror pods of control-plane processes).
- `exec(...)` / `attach(...)`: an `ExecSession` (stdin writes and EOF,
  stdout/stderr async iterators that end when the process closes them, resize,
  `wait()` for the exit code, `cancel()` when the client goes away) -- the
  `Process` protocol that apiserver/streamproto/remotecommand.py serves over
  every wire protocol, under the name the node agent uses. A failure that is
  not an exit code is raised from `wait()` and reported as a Failure Status
  with its message. `StreamOptions` are remotecommand's too: `spec(command)`
  is the `StreamSpec` those wire protocols take.
- `port_forward(ns, pod, port)`: a byte connection to the pod's port.

Backends raise `StreamingError` (HTTP status + message) for requests they
cannot serve (unknown pod or container, container not running). Two
implementations: kubelet/streaming_sim.py (simulated pods, simshell) and
kubelet/streaming_cri.py (bridges to containerd's CRI streaming server).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pocketkube.apiserver.streamproto.remotecommand import Process, StreamOptions

Obj = dict[str, Any]
ExecSession = Process
__all__ = ["ExecSession", "LogTarget", "Obj", "PortConnection", "StreamOptions", "StreamingBackend", "StreamingError",
           "container_not_found", "pod_not_found"]


class StreamingError(Exception):
    """A request the backend cannot serve; `code` is the HTTP status the node agent answers with."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def container_not_found(container: str) -> StreamingError:
    return StreamingError(f'container not found ("{container}")', 404)


def pod_not_found(namespace: str, pod: str) -> StreamingError:
    return StreamingError(f'pod "{namespace}/{pod}" does not exist on this node', 404)


@dataclass(frozen=True)
class LogTarget:
    path: Path
    running: Callable[[], Awaitable[bool]]
    plain: bool = False  # a plain text log (a control-plane component's), not CRI records


class PortConnection(Protocol):
    async def read(self) -> bytes:
        """b"" when the pod closed its side."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def close_write(self) -> None: ...

    async def close(self) -> None: ...


class StreamingBackend(Protocol):
    async def pod_status(self, namespace: str, pod: str) -> Obj | None: ...

    async def log_path(self, namespace: str, pod: str, container: str, previous: bool) -> LogTarget: ...

    async def exec(self, namespace: str, pod: str, container: str, command: list[str],
                   opts: StreamOptions) -> ExecSession: ...

    async def attach(self, namespace: str, pod: str, container: str, opts: StreamOptions) -> ExecSession: ...

    async def port_forward(self, namespace: str, pod: str, port: int) -> PortConnection: ...
