"""grpc.aio client of CRI v1 (runtime.v1 RuntimeService and ImageService), typed.

Theory of operation: one `grpc.aio` channel to the runtime's unix socket; each RPC is a
`channel.unary_unary` stub on its path (`/runtime.v1.RuntimeService/<Method>`), built on first
use from the checked-in messages (cri_pb/cri_pb2.py; no generated _pb2_grpc module). Each method
converts its arguments to a request (cri_convert), applies a deadline like the kubelet's
--runtime-request-timeout (2 min; StopContainer and ExecSync add their own timeout on top;
PullImage has none, as upstream) and converts the reply into cri_types dataclasses. A gRPC
failure becomes a `CRIError` subclass naming the method and the status code. The client holds no
state about pods: after an agent restart a new client sees everything containerd kept.
Semantics worth knowing (measured, docs reference containerd-cri.md): ImageStatus of a missing
image is OK with no image (-> None); RemovePodSandbox is idempotent; StopPodSandbox SIGKILLs
running containers, so stop them first with a grace period.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import grpc

from pocketkube.kubelet.runtime import cri_convert as cv
from pocketkube.kubelet.runtime.cri_pb import cri_pb2 as pb
from pocketkube.kubelet.runtime.cri_types import (
    AuthConfig,
    ContainerSpec,
    ContainerStats,
    CRIContainer,
    CRIContainerState,
    CRIContainerStatus,
    CRIImage,
    CRIPodSandbox,
    ExecSyncResult,
    FilesystemUsage,
    LinuxResources,
    PodSandboxSpec,
    RuntimeCondition,
    RuntimeStatus,
    RuntimeVersion,
    cri_error,
)

RUNTIME = "runtime.v1.RuntimeService"
IMAGES = "runtime.v1.ImageService"
DEFAULT_TIMEOUT = 120.0
MAX_MESSAGE = 16 * 1024 * 1024
_NO_DEADLINE = -1.0


class CRIClient:
    """Typed CRI v1 calls over one grpc.aio channel (create it inside the running event loop)."""

    def __init__(self, endpoint: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint if "://" in endpoint else f"unix://{endpoint}"
        self.timeout = timeout
        self._channel = grpc.aio.insecure_channel(self.endpoint, options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE),
            # reconnect quickly after a containerd restart (gRPC's default backoff grows to 120 s)
            ("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 3000)])
        self._stubs: dict[str, Callable[..., Any]] = {}

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> CRIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, service: str, method: str, request: Any, reply: Any, timeout: float | None = None) -> Any:
        path = f"/{service}/{method}"
        stub = self._stubs.get(path)
        if stub is None:
            stub = self._channel.unary_unary(path, request_serializer=type(request).SerializeToString,
                                             response_deserializer=reply.FromString)
            self._stubs[path] = stub
        deadline = self.timeout if timeout is None else timeout
        try:
            return await stub(request, timeout=None if deadline == _NO_DEADLINE else deadline)
        except grpc.aio.AioRpcError as e:
            raise cri_error(method, e.code().name, e.details() or "") from None

    # ---------------------------------------------------------------- runtime
    async def version(self) -> RuntimeVersion:
        r = await self._call(RUNTIME, "Version", pb.VersionRequest(version="v1"), pb.VersionResponse)
        return RuntimeVersion(r.version, r.runtime_name, r.runtime_version, r.runtime_api_version)

    async def status(self, verbose: bool = False) -> RuntimeStatus:
        r = await self._call(RUNTIME, "Status", pb.StatusRequest(verbose=verbose), pb.StatusResponse)
        return RuntimeStatus(tuple(RuntimeCondition(c.type, c.status, c.reason, c.message)
                                   for c in r.status.conditions), dict(r.info))

    # ---------------------------------------------------------------- sandboxes
    async def run_pod_sandbox(self, spec: PodSandboxSpec) -> str:
        req = pb.RunPodSandboxRequest(config=cv.sandbox_config(spec), runtime_handler=spec.runtime_handler)
        r = await self._call(RUNTIME, "RunPodSandbox", req, pb.RunPodSandboxResponse)
        return str(r.pod_sandbox_id)

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        await self._call(RUNTIME, "StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=sandbox_id),
                         pb.StopPodSandboxResponse)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        await self._call(RUNTIME, "RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id),
                         pb.RemovePodSandboxResponse)

    async def pod_sandbox_status(self, sandbox_id: str, verbose: bool = False) -> CRIPodSandbox:
        req = pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=verbose)
        r = await self._call(RUNTIME, "PodSandboxStatus", req, pb.PodSandboxStatusResponse)
        return cv.sandbox_from_pb(r.status, r.info)

    async def list_pod_sandboxes(self, labels: Mapping[str, str] | None = None,
                                 ready: bool | None = None) -> list[CRIPodSandbox]:
        filt = pb.PodSandboxFilter(label_selector=dict(labels or {}))
        if ready is not None:
            filt.state.CopyFrom(pb.PodSandboxStateValue(state=pb.SANDBOX_READY if ready else pb.SANDBOX_NOTREADY))
        r = await self._call(RUNTIME, "ListPodSandbox", pb.ListPodSandboxRequest(filter=filt),
                             pb.ListPodSandboxResponse)
        return [cv.sandbox_from_pb(s) for s in r.items]

    # ---------------------------------------------------------------- containers
    async def create_container(self, sandbox_id: str, spec: ContainerSpec, sandbox: PodSandboxSpec) -> str:
        req = pb.CreateContainerRequest(pod_sandbox_id=sandbox_id, config=cv.container_config(spec),
                                        sandbox_config=cv.sandbox_config(sandbox))
        r = await self._call(RUNTIME, "CreateContainer", req, pb.CreateContainerResponse)
        return str(r.container_id)

    async def start_container(self, container_id: str) -> None:
        await self._call(RUNTIME, "StartContainer", pb.StartContainerRequest(container_id=container_id),
                         pb.StartContainerResponse)

    async def stop_container(self, container_id: str, timeout: int) -> None:
        """SIGTERM (or the image's stop signal), SIGKILL after `timeout` s; returns once it exited."""
        req = pb.StopContainerRequest(container_id=container_id, timeout=int(timeout))
        await self._call(RUNTIME, "StopContainer", req, pb.StopContainerResponse, self.timeout + max(timeout, 0))

    async def remove_container(self, container_id: str) -> None:
        await self._call(RUNTIME, "RemoveContainer", pb.RemoveContainerRequest(container_id=container_id),
                         pb.RemoveContainerResponse)

    async def list_containers(self, sandbox_id: str = "", labels: Mapping[str, str] | None = None,
                              state: CRIContainerState | None = None) -> list[CRIContainer]:
        filt = pb.ContainerFilter(pod_sandbox_id=sandbox_id, label_selector=dict(labels or {}))
        if state is not None:
            filt.state.CopyFrom(pb.ContainerStateValue(state="CONTAINER_" + state.name))
        r = await self._call(RUNTIME, "ListContainers", pb.ListContainersRequest(filter=filt),
                             pb.ListContainersResponse)
        return [cv.container_from_pb(c) for c in r.containers]

    async def container_status(self, container_id: str, verbose: bool = False) -> CRIContainerStatus:
        req = pb.ContainerStatusRequest(container_id=container_id, verbose=verbose)
        r = await self._call(RUNTIME, "ContainerStatus", req, pb.ContainerStatusResponse)
        return cv.container_status_from_pb(r.status, r.info)

    async def update_container_resources(self, container_id: str, resources: LinuxResources) -> None:
        req = pb.UpdateContainerResourcesRequest(container_id=container_id, linux=cv.linux_resources(resources))
        await self._call(RUNTIME, "UpdateContainerResources", req, pb.UpdateContainerResourcesResponse)

    async def reopen_container_log(self, container_id: str) -> None:
        await self._call(RUNTIME, "ReopenContainerLog", pb.ReopenContainerLogRequest(container_id=container_id),
                         pb.ReopenContainerLogResponse)

    # ---------------------------------------------------------------- exec / attach / port-forward
    async def exec_sync(self, container_id: str, cmd: list[str], timeout: int = 0) -> ExecSyncResult:
        """Run `cmd` to completion; timeout 0 = none. A missing binary is a CRIError (UNKNOWN),
        an expired timeout a DeadlineExceeded, not exit codes."""
        req = pb.ExecSyncRequest(container_id=container_id, cmd=cmd, timeout=int(timeout))
        deadline = self.timeout + timeout if timeout > 0 else _NO_DEADLINE
        r = await self._call(RUNTIME, "ExecSync", req, pb.ExecSyncResponse, deadline)
        return ExecSyncResult(bytes(r.stdout), bytes(r.stderr), int(r.exit_code))

    async def exec_url(self, container_id: str, cmd: list[str], *, tty: bool = False, stdin: bool = False,
                       stdout: bool = True, stderr: bool = True) -> str:
        """Single-use streaming URL (http://127.0.0.1:<port>/exec/<token>; SPDY or WebSocket v4)."""
        req = pb.ExecRequest(container_id=container_id, cmd=cmd, tty=tty, stdin=stdin, stdout=stdout,
                             stderr=stderr and not tty)
        return str((await self._call(RUNTIME, "Exec", req, pb.ExecResponse)).url)

    async def attach_url(self, container_id: str, *, tty: bool = False, stdin: bool = False,
                         stdout: bool = True, stderr: bool = True) -> str:
        req = pb.AttachRequest(container_id=container_id, stdin=stdin, tty=tty, stdout=stdout,
                               stderr=stderr and not tty)
        return str((await self._call(RUNTIME, "Attach", req, pb.AttachResponse)).url)

    async def port_forward_url(self, sandbox_id: str, ports: list[int]) -> str:
        req = pb.PortForwardRequest(pod_sandbox_id=sandbox_id, port=ports)
        return str((await self._call(RUNTIME, "PortForward", req, pb.PortForwardResponse)).url)

    # ---------------------------------------------------------------- stats
    async def container_stats(self, container_id: str) -> ContainerStats:
        r = await self._call(RUNTIME, "ContainerStats", pb.ContainerStatsRequest(container_id=container_id),
                             pb.ContainerStatsResponse)
        return cv.stats_from_pb(r.stats)

    async def list_container_stats(self, sandbox_id: str = "") -> list[ContainerStats]:
        req = pb.ListContainerStatsRequest(filter=pb.ContainerStatsFilter(pod_sandbox_id=sandbox_id))
        r = await self._call(RUNTIME, "ListContainerStats", req, pb.ListContainerStatsResponse)
        return [cv.stats_from_pb(s) for s in r.stats]

    # ---------------------------------------------------------------- images
    async def list_images(self, image: str = "") -> list[CRIImage]:
        req = pb.ListImagesRequest(filter=pb.ImageFilter(image=pb.ImageSpec(image=image)) if image else None)
        r = await self._call(IMAGES, "ListImages", req, pb.ListImagesResponse)
        return [cv.image_from_pb(i) for i in r.images]

    async def image_status(self, image: str) -> CRIImage | None:
        r = await self._call(IMAGES, "ImageStatus", pb.ImageStatusRequest(image=pb.ImageSpec(image=image)),
                             pb.ImageStatusResponse)
        return cv.image_from_pb(r.image) if r.HasField("image") and r.image.id else None

    async def pull_image(self, image: str, auth: AuthConfig | None = None,
                         sandbox: PodSandboxSpec | None = None) -> str:
        """Pull `image` (with registry credentials if given); returns the image ref (its id)."""
        req = pb.PullImageRequest(image=cv.image_spec(image))
        if auth is not None:
            req.auth.CopyFrom(pb.AuthConfig(username=auth.username, password=auth.password, auth=auth.auth,
                                            server_address=auth.server_address,
                                            identity_token=auth.identity_token,
                                            registry_token=auth.registry_token))
        if sandbox is not None:
            req.sandbox_config.CopyFrom(cv.sandbox_config(sandbox))
        r = await self._call(IMAGES, "PullImage", req, pb.PullImageResponse, _NO_DEADLINE)
        return str(r.image_ref)

    async def remove_image(self, image: str) -> None:
        await self._call(IMAGES, "RemoveImage", pb.RemoveImageRequest(image=pb.ImageSpec(image=image)),
                         pb.RemoveImageResponse)

    async def image_fs_info(self) -> list[FilesystemUsage]:
        r = await self._call(IMAGES, "ImageFsInfo", pb.ImageFsInfoRequest(), pb.ImageFsInfoResponse)
        return [cv.fs_usage_from_pb(f) for f in r.image_filesystems]
