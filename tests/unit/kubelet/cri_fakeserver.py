"""An in-memory CRI v1 server on a unix socket, for unit tests of the CRI client and runtime.

It implements the RuntimeService/ImageService calls pocketkube makes with containerd's observed
semantics where tests rely on them: ImageStatus of a missing image is OK with no image,
RemovePodSandbox is idempotent and removes the sandbox's containers, StopPodSandbox kills
running containers (137), unknown ids are NOT_FOUND, label selectors filter lists. Containers
never run: StartContainer moves them to RUNNING, StopContainer to EXITED (143), and a test can
force an exit with `exit(cid, code, reason)`. Every request is recorded in `calls`; `fail[method]`
makes a method fail with a given status (`fail_once[method]`: its next call only).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from pocketkube.kubelet.runtime.cri_pb import cri_pb2 as pb

METHODS: dict[str, tuple[str, Any, Any]] = {
    "Version": ("RuntimeService", pb.VersionRequest, pb.VersionResponse),
    "Status": ("RuntimeService", pb.StatusRequest, pb.StatusResponse),
    "RunPodSandbox": ("RuntimeService", pb.RunPodSandboxRequest, pb.RunPodSandboxResponse),
    "StopPodSandbox": ("RuntimeService", pb.StopPodSandboxRequest, pb.StopPodSandboxResponse),
    "RemovePodSandbox": ("RuntimeService", pb.RemovePodSandboxRequest, pb.RemovePodSandboxResponse),
    "PodSandboxStatus": ("RuntimeService", pb.PodSandboxStatusRequest, pb.PodSandboxStatusResponse),
    "ListPodSandbox": ("RuntimeService", pb.ListPodSandboxRequest, pb.ListPodSandboxResponse),
    "CreateContainer": ("RuntimeService", pb.CreateContainerRequest, pb.CreateContainerResponse),
    "StartContainer": ("RuntimeService", pb.StartContainerRequest, pb.StartContainerResponse),
    "StopContainer": ("RuntimeService", pb.StopContainerRequest, pb.StopContainerResponse),
    "RemoveContainer": ("RuntimeService", pb.RemoveContainerRequest, pb.RemoveContainerResponse),
    "ListContainers": ("RuntimeService", pb.ListContainersRequest, pb.ListContainersResponse),
    "ContainerStatus": ("RuntimeService", pb.ContainerStatusRequest, pb.ContainerStatusResponse),
    "ExecSync": ("RuntimeService", pb.ExecSyncRequest, pb.ExecSyncResponse),
    "Exec": ("RuntimeService", pb.ExecRequest, pb.ExecResponse),
    "Attach": ("RuntimeService", pb.AttachRequest, pb.AttachResponse),
    "PortForward": ("RuntimeService", pb.PortForwardRequest, pb.PortForwardResponse),
    "ContainerStats": ("RuntimeService", pb.ContainerStatsRequest, pb.ContainerStatsResponse),
    "ListImages": ("ImageService", pb.ListImagesRequest, pb.ListImagesResponse),
    "ImageStatus": ("ImageService", pb.ImageStatusRequest, pb.ImageStatusResponse),
    "PullImage": ("ImageService", pb.PullImageRequest, pb.PullImageResponse),
    "RemoveImage": ("ImageService", pb.RemoveImageRequest, pb.RemoveImageResponse),
}


class Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


def _now() -> int:
    return time.time_ns()


def _matches(labels: Any, selector: Any) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


class FakeCRI:
    def __init__(self) -> None:
        self.sandboxes: dict[str, pb.PodSandboxStatus] = {}
        self.containers: dict[str, pb.ContainerStatus] = {}
        self.container_sandbox: dict[str, str] = {}
        self.images: dict[str, pb.Image] = {}
        self.pullable: set[str] = {"docker.io/library/busybox:latest"}
        self.calls: list[tuple[str, Any]] = []
        self.fail: dict[str, tuple[grpc.StatusCode, str]] = {}
        self.fail_once: dict[str, tuple[grpc.StatusCode, str]] = {}
        self._ids = itertools.count(1)
        self._ips = itertools.count(2)
        self.server: grpc.aio.Server | None = None

    async def start(self, path: Path) -> str:
        self.server = grpc.aio.server()
        for service in ("RuntimeService", "ImageService"):
            handlers = {name: grpc.unary_unary_rpc_method_handler(
                self._handler(name), request_deserializer=req.FromString,
                response_serializer=resp.SerializeToString)
                for name, (svc, req, resp) in METHODS.items() if svc == service}
            self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(f"runtime.v1.{service}",
                                                                                       handlers),))
        self.server.add_insecure_port(f"unix://{path}")
        await self.server.start()
        return f"unix://{path}"

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(None)

    def _handler(self, name: str) -> Callable[[Any, grpc.aio.ServicerContext], Any]:
        method = getattr(self, "do_" + name)

        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            self.calls.append((name, request))
            if name in self.fail:
                await context.abort(*self.fail[name])
            if name in self.fail_once:
                await context.abort(*self.fail_once.pop(name))
            try:
                return method(request)
            except Abort as e:
                await context.abort(e.code, e.details)

        return handle

    def _id(self, kind: str) -> str:
        return f"{kind}{next(self._ids):04d}"

    def _sandbox(self, sid: str) -> pb.PodSandboxStatus:
        if sid not in self.sandboxes:
            raise Abort(grpc.StatusCode.NOT_FOUND, f'an error occurred when try to find sandbox "{sid}": not found')
        return self.sandboxes[sid]

    def _container(self, cid: str) -> pb.ContainerStatus:
        if cid not in self.containers:
            raise Abort(grpc.StatusCode.NOT_FOUND, f'an error occurred when try to find container "{cid}": not found')
        return self.containers[cid]

    def exit(self, cid: str, code: int, reason: str) -> None:
        c = self.containers[cid]
        c.state, c.exit_code, c.reason, c.finished_at = pb.CONTAINER_EXITED, code, reason, _now()

    # ---------------------------------------------------------------- runtime
    def do_Version(self, r: pb.VersionRequest) -> pb.VersionResponse:
        return pb.VersionResponse(version="0.1.0", runtime_name="fakecri", runtime_version="1.0",
                                  runtime_api_version="v1")

    def do_Status(self, r: pb.StatusRequest) -> pb.StatusResponse:
        conds = [pb.RuntimeCondition(type="RuntimeReady", status=True),
                 pb.RuntimeCondition(type="NetworkReady", status=False, reason="NetworkPluginNotReady")]
        return pb.StatusResponse(status=pb.RuntimeStatus(conditions=conds), info={"v": "1"} if r.verbose else {})

    def do_RunPodSandbox(self, r: pb.RunPodSandboxRequest) -> pb.RunPodSandboxResponse:
        m = r.config.metadata
        if any(s.metadata == m for s in self.sandboxes.values()):
            raise Abort(grpc.StatusCode.UNKNOWN, f'failed to reserve sandbox name "{m.name}_{m.namespace}_'
                                                 f'{m.uid}_{m.attempt}": name is reserved')
        sid = self._id("sb")
        self.sandboxes[sid] = pb.PodSandboxStatus(
            id=sid, metadata=r.config.metadata, state=pb.SANDBOX_READY, created_at=_now(),
            network=pb.PodSandboxNetworkStatus(ip=f"10.244.0.{next(self._ips)}"), labels=r.config.labels,
            annotations=r.config.annotations)
        return pb.RunPodSandboxResponse(pod_sandbox_id=sid)

    def do_StopPodSandbox(self, r: pb.StopPodSandboxRequest) -> pb.StopPodSandboxResponse:
        s = self._sandbox(r.pod_sandbox_id)
        s.state, s.network.ip = pb.SANDBOX_NOTREADY, ""
        for cid, sid in self.container_sandbox.items():
            if sid == s.id and self.containers[cid].state == pb.CONTAINER_RUNNING:
                self.exit(cid, 137, "Error")
        return pb.StopPodSandboxResponse()

    def do_RemovePodSandbox(self, r: pb.RemovePodSandboxRequest) -> pb.RemovePodSandboxResponse:
        self.sandboxes.pop(r.pod_sandbox_id, None)
        for cid in [c for c, s in self.container_sandbox.items() if s == r.pod_sandbox_id]:
            self.containers.pop(cid)
            self.container_sandbox.pop(cid)
        return pb.RemovePodSandboxResponse()

    def do_PodSandboxStatus(self, r: pb.PodSandboxStatusRequest) -> pb.PodSandboxStatusResponse:
        return pb.PodSandboxStatusResponse(status=self._sandbox(r.pod_sandbox_id),
                                           info={"info": "{}"} if r.verbose else {})

    def do_ListPodSandbox(self, r: pb.ListPodSandboxRequest) -> pb.ListPodSandboxResponse:
        items = [pb.PodSandbox(id=s.id, metadata=s.metadata, state=s.state, created_at=s.created_at,
                               labels=s.labels, annotations=s.annotations)
                 for s in self.sandboxes.values() if _matches(s.labels, r.filter.label_selector)
                 and (not r.filter.HasField("state") or s.state == r.filter.state.state)]
        return pb.ListPodSandboxResponse(items=items)

    def do_CreateContainer(self, r: pb.CreateContainerRequest) -> pb.CreateContainerResponse:
        self._sandbox(r.pod_sandbox_id)
        cid = self._id("c")
        log_path = str(Path(r.sandbox_config.log_directory) / r.config.log_path) if r.config.log_path else ""
        self.containers[cid] = pb.ContainerStatus(
            id=cid, metadata=r.config.metadata, state=pb.CONTAINER_CREATED, created_at=_now(),
            image=r.config.image, image_ref="sha256:" + "ab" * 32, labels=r.config.labels,
            annotations=r.config.annotations, mounts=r.config.mounts, log_path=log_path,
            resources=pb.ContainerResources(linux=r.config.linux.resources))
        self.container_sandbox[cid] = r.pod_sandbox_id
        return pb.CreateContainerResponse(container_id=cid)

    def do_StartContainer(self, r: pb.StartContainerRequest) -> pb.StartContainerResponse:
        c = self._container(r.container_id)
        c.state, c.started_at = pb.CONTAINER_RUNNING, _now()
        return pb.StartContainerResponse()

    def do_StopContainer(self, r: pb.StopContainerRequest) -> pb.StopContainerResponse:
        c = self._container(r.container_id)
        if c.state == pb.CONTAINER_RUNNING:
            self.exit(c.id, 143, "Error")
        elif c.state == pb.CONTAINER_CREATED:
            c.state = pb.CONTAINER_EXITED
        return pb.StopContainerResponse()

    def do_RemoveContainer(self, r: pb.RemoveContainerRequest) -> pb.RemoveContainerResponse:
        self._container(r.container_id)
        self.containers.pop(r.container_id)
        self.container_sandbox.pop(r.container_id)
        return pb.RemoveContainerResponse()

    def do_ListContainers(self, r: pb.ListContainersRequest) -> pb.ListContainersResponse:
        f = r.filter
        items = [pb.Container(id=c.id, pod_sandbox_id=self.container_sandbox[c.id], metadata=c.metadata,
                              image=c.image, image_ref=c.image_ref, state=c.state, created_at=c.created_at,
                              labels=c.labels, annotations=c.annotations)
                 for c in self.containers.values() if _matches(c.labels, f.label_selector)
                 and (not f.pod_sandbox_id or self.container_sandbox[c.id] == f.pod_sandbox_id)
                 and (not f.HasField("state") or c.state == f.state.state)]
        return pb.ListContainersResponse(containers=items)

    def do_ContainerStatus(self, r: pb.ContainerStatusRequest) -> pb.ContainerStatusResponse:
        return pb.ContainerStatusResponse(status=self._container(r.container_id))

    def do_ExecSync(self, r: pb.ExecSyncRequest) -> pb.ExecSyncResponse:
        self._container(r.container_id)
        if r.cmd[0] == "missing":
            raise Abort(grpc.StatusCode.UNKNOWN, 'exec: "missing": executable file not found in $PATH')
        return pb.ExecSyncResponse(stdout=" ".join(r.cmd).encode(), stderr=b"err", exit_code=3)

    def do_Exec(self, r: pb.ExecRequest) -> pb.ExecResponse:
        self._container(r.container_id)
        return pb.ExecResponse(url="http://127.0.0.1:1234/exec/tok1")

    def do_Attach(self, r: pb.AttachRequest) -> pb.AttachResponse:
        return pb.AttachResponse(url="http://127.0.0.1:1234/attach/tok2")

    def do_PortForward(self, r: pb.PortForwardRequest) -> pb.PortForwardResponse:
        self._sandbox(r.pod_sandbox_id)
        return pb.PortForwardResponse(url="http://127.0.0.1:1234/portforward/tok3")

    def do_ContainerStats(self, r: pb.ContainerStatsRequest) -> pb.ContainerStatsResponse:
        c = self._container(r.container_id)
        stats = pb.ContainerStats(
            attributes=pb.ContainerAttributes(id=c.id, metadata=c.metadata, labels=c.labels),
            cpu=pb.CpuUsage(timestamp=_now(), usage_core_nano_seconds=pb.UInt64Value(value=5)),
            memory=pb.MemoryUsage(timestamp=_now(), working_set_bytes=pb.UInt64Value(value=4096)))
        return pb.ContainerStatsResponse(stats=stats)

    # ---------------------------------------------------------------- images
    def do_ListImages(self, r: pb.ListImagesRequest) -> pb.ListImagesResponse:
        return pb.ListImagesResponse(images=list({i.id: i for i in self.images.values()}.values()))

    def do_ImageStatus(self, r: pb.ImageStatusRequest) -> pb.ImageStatusResponse:
        img = self.images.get(_normalize(r.image.image))
        return pb.ImageStatusResponse(image=img) if img is not None else pb.ImageStatusResponse()

    def do_PullImage(self, r: pb.PullImageRequest) -> pb.PullImageResponse:
        name = _normalize(r.image.image)
        if name not in self.pullable:
            raise Abort(grpc.StatusCode.NOT_FOUND, f'failed to pull and unpack image "{name}": not found')
        image_id = "sha256:" + "cd" * 32
        repo = name.rsplit(":", 1)[0]
        img = pb.Image(id=image_id, repo_tags=[name], repo_digests=[f"{repo}@sha256:{'ef' * 32}"], size=1000)
        self.images[name] = self.images[image_id] = img
        return pb.PullImageResponse(image_ref=image_id)

    def do_RemoveImage(self, r: pb.RemoveImageRequest) -> pb.RemoveImageResponse:
        self.images.pop(_normalize(r.image.image), None)
        return pb.RemoveImageResponse()


def _normalize(image: str) -> str:
    from pocketkube.kubelet import images

    return image if image.startswith("sha256:") else images.normalize(image)
