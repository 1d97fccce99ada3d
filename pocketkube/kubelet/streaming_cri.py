"""The CRI streaming backend: exec, attach and port-forward bridged to containerd's streaming server.

Theory of operation: CRI's Exec/Attach/PortForward calls return single-use
URLs of the runtime's own streaming server, which speaks v4.channel.k8s.io and
portforward.k8s.io (SPDY or WebSocket) but not kubectl's v5. The node agent's
server (kubelet/server.py) terminates kubectl's protocol; this backend asks
CRI for a URL per request and drives it as a SPDY client
(apiserver/streamproto/remote.py): v5's close signal becomes a FIN on the
stdin stream (v4 WebSocket has no way to say "stdin EOF", SPDY does), the
Status read from the error stream becomes the exit code. Port-forward asks
for one URL per forwarded connection. Where pods, containers, sandboxes and
log files are is the node agent's knowledge, given as a `PodLocator`; the CRI
client only needs the three URL methods (runtime/cri_client.CRIClient has
them).
"""

from __future__ import annotations

from typing import Protocol

from pocketkube.apiserver.streamproto.http1 import UpgradeError
from pocketkube.apiserver.streamproto.remote import dial_port_over_spdy, exec_over_spdy
from pocketkube.apiserver.streamproto.remotecommand import StreamSpec
from pocketkube.kubelet.streaming_backend import (
    ExecSession,
    LogTarget,
    Obj,
    PortConnection,
    StreamingError,
    StreamOptions,
)


class CRIStreamingClient(Protocol):
    async def exec_url(self, container_id: str, cmd: list[str], *, tty: bool = False, stdin: bool = False,
                       stdout: bool = True, stderr: bool = True) -> str: ...

    async def attach_url(self, container_id: str, *, tty: bool = False, stdin: bool = False,
                         stdout: bool = True, stderr: bool = True) -> str: ...

    async def port_forward_url(self, sandbox_id: str, ports: list[int]) -> str: ...


class PodLocator(Protocol):
    """The node agent's knowledge of its pods (raise StreamingError for unknown/not running ones)."""

    async def pod_status(self, namespace: str, pod: str) -> Obj | None: ...

    async def log_target(self, namespace: str, pod: str, container: str, previous: bool) -> LogTarget: ...

    async def container_id(self, namespace: str, pod: str, container: str) -> str:
        """The CRI id of the running instance of the container."""
        ...

    async def sandbox_id(self, namespace: str, pod: str) -> str: ...


class CRIStreaming:
    """A StreamingBackend over a CRI runtime."""

    def __init__(self, cri: CRIStreamingClient, pods: PodLocator) -> None:
        self.cri = cri
        self.pods = pods

    async def pod_status(self, namespace: str, pod: str) -> Obj | None:
        return await self.pods.pod_status(namespace, pod)

    async def log_path(self, namespace: str, pod: str, container: str, previous: bool) -> LogTarget:
        return await self.pods.log_target(namespace, pod, container, previous)

    async def exec(self, namespace: str, pod: str, container: str, command: list[str],
                   opts: StreamOptions) -> ExecSession:
        cid = await self.pods.container_id(namespace, pod, container)
        try:
            url = await self.cri.exec_url(cid, command, tty=opts.tty, stdin=opts.stdin, stdout=opts.stdout,
                                          stderr=opts.stderr)
        except Exception as e:
            raise StreamingError(f"error executing command in container: {e}", 500) from None
        return await self._open(url, opts.spec(command))

    async def attach(self, namespace: str, pod: str, container: str, opts: StreamOptions) -> ExecSession:
        cid = await self.pods.container_id(namespace, pod, container)
        try:
            url = await self.cri.attach_url(cid, tty=opts.tty, stdin=opts.stdin, stdout=opts.stdout,
                                            stderr=opts.stderr)
        except Exception as e:
            raise StreamingError(f"error attaching to container: {e}", 500) from None
        return await self._open(url, opts.spec())

    @staticmethod
    async def _open(url: str, spec: StreamSpec) -> ExecSession:
        try:
            return await exec_over_spdy(url, spec)
        except (UpgradeError, ConnectionError, TimeoutError) as e:
            raise StreamingError(f"error connecting to the runtime's streaming server: {e}", 500) from None

    async def port_forward(self, namespace: str, pod: str, port: int) -> PortConnection:
        sid = await self.pods.sandbox_id(namespace, pod)
        try:
            url = await self.cri.port_forward_url(sid, [port])
            return await dial_port_over_spdy(url, port)
        except StreamingError:
            raise
        except Exception as e:
            raise StreamingError(f"error forwarding port {port} to pod {namespace}/{pod}: {e}", 500) from None
