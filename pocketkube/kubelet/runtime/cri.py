"""The CRI runtime: the node agent's `Runtime` seam implemented on containerd over CRI v1.

Theory of operation: `CRIRuntime` keeps no pod state of its own that matters: a pod is found in
the runtime by the label io.kubernetes.pod.uid that the kubelet puts on every sandbox and
container (as upstream's GetPodStatus does), so after an agent restart a new instance sees every
sandbox and container containerd kept (`restore` has nothing to do). It caches only the sandbox
spec each pod was started with, because CreateContainer needs it again (containerd takes the log
directory from it); after a restart the spec is rebuilt from the sandbox's metadata.

The seam's small configs (`interface.PodSandboxConfig` / `ContainerConfig`) are accepted, with
the kubelet defaults filled in; the real pod workers pass the full `cri_types.PodSandboxSpec` /
`ContainerSpec` (built by cri_podconfig from the pod), directly or as the seam config's `spec`
(a ContainerSpec without the pod's labels gets them added, since they are how the pod's
containers are found). `stop_container` follows the seam contract (ask, return, the exit
shows up in `pod_status` later): the blocking CRI StopContainer runs in a task owned by this
object (awaited by `close()`); `client.stop_container` is the blocking call. `remove_pod`
removes containers and sandboxes, then what containerd leaves behind: the pod's cgroup parent
and its log directory. Everything CRI offers beyond the seam (exec/attach/port-forward URLs,
stats, logs, pulls with auth) is on `self.client` (CRIClient).

An exited container's `message` is its termination message, as the kubelet reads it: the file
mounted at its terminationMessagePath (at most 4096 bytes), or with policy
FallbackToLogsOnError and a failure with an empty file, the end of its log (80 lines, 2048
bytes); read once per container. `gc_pod(uid)` is the kubelet's container GC for one pod: of
each container name's exited instances only the newest is kept (what lastState and `logs
--previous` show), with their log files; stopped sandboxes other than the newest that no
container uses any more are removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

from pocketkube.kubelet import images as imageref
from pocketkube.kubelet.hostcleanup import remove_cgroup
from pocketkube.kubelet.runtime.cri_client import CRIClient
from pocketkube.kubelet.runtime.cri_podconfig import (
    DEFAULT_LOG_ROOT,
    container_log_path,
    pod_cgroup_parent,
    pod_log_directory,
)
from pocketkube.kubelet.runtime.cri_types import (
    ANNOTATION_INIT,
    ANNOTATION_RESTART_COUNT,
    ANNOTATION_SIDECAR,
    ANNOTATION_TERMINATION_MESSAGE_PATH,
    ANNOTATION_TERMINATION_MESSAGE_POLICY,
    LABEL_CONTAINER_NAME,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    AuthConfig,
    ContainerSpec,
    CRIContainer,
    CRIContainerState,
    CRIContainerStatus,
    CRIError,
    CRIImage,
    CRIPodSandbox,
    DNSConfig,
    NotFound,
    PodSandboxSpec,
)
from pocketkube.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    ImageStatus,
    PodRuntimeStatus,
    PodSandboxConfig,
    RuntimeFailure,
    SandboxStatus,
)

log = logging.getLogger(__name__)
_STATES = {CRIContainerState.CREATED: ContainerState.CREATED, CRIContainerState.RUNNING: ContainerState.RUNNING}
MAX_MESSAGE_BYTES = 4096
FALLBACK_LOG_LINES, FALLBACK_LOG_BYTES = 80, 2048


class CRIRuntime:
    runtime_name = "containerd"
    runtime_version = ""

    def __init__(self, client: CRIClient, *, log_root: str | Path = DEFAULT_LOG_ROOT,
                 cgroup_root: str = "/kubepods", dns: DNSConfig | None = None) -> None:
        self.client = client
        self.log_root = Path(log_root)
        self.cgroup_root = cgroup_root
        self.dns = dns
        self._specs: dict[str, PodSandboxSpec] = {}
        self._stops: set[asyncio.Task[None]] = set()
        self._messages: dict[str, str] = {}

    @classmethod
    async def connect(cls, endpoint: str, **kwargs: Any) -> CRIRuntime:
        """A runtime on `endpoint` (unix path or unix:// URL); fills runtime_name/version."""
        rt = cls(CRIClient(endpoint), **kwargs)
        v = await rt.client.version()
        rt.runtime_name, rt.runtime_version = v.runtime_name, v.runtime_version
        return rt

    async def wait_stopped(self) -> None:
        """Wait until every stop_container asked for so far has finished."""
        if self._stops:
            await asyncio.gather(*self._stops, return_exceptions=True)

    async def close(self) -> None:
        await self.wait_stopped()
        await self.client.close()

    # ------------------------------------------------------------------ sandboxes
    def sandbox_spec(self, config: PodSandboxConfig) -> PodSandboxSpec:
        """The kubelet defaults for a pod known only by name/namespace/uid (seam config)."""
        return PodSandboxSpec(
            name=config.name, namespace=config.namespace, uid=config.uid, hostname=config.name[:63].rstrip("-."),
            log_directory=pod_log_directory(self.log_root, config.namespace, config.name, config.uid),
            dns=self.dns, labels={LABEL_POD_NAME: config.name, LABEL_POD_NAMESPACE: config.namespace,
                                  LABEL_POD_UID: config.uid},
            annotations=dict(config.annotations), cgroup_parent=pod_cgroup_parent(self.cgroup_root, "", config.uid))

    async def _sandboxes(self, pod_uid: str) -> list[CRIPodSandbox]:
        found = await self.client.list_pod_sandboxes(labels={LABEL_POD_UID: pod_uid})
        return sorted(found, key=lambda s: (s.created_at, s.attempt))

    async def run_pod_sandbox(self, config: PodSandboxConfig | PodSandboxSpec) -> SandboxStatus:
        if isinstance(config, PodSandboxConfig) and isinstance(config.spec, PodSandboxSpec):
            config = config.spec
        spec = config if isinstance(config, PodSandboxSpec) else self.sandbox_spec(config)
        sandboxes = await self._sandboxes(spec.uid)
        ready = [s for s in sandboxes if s.ready]
        if ready:
            self._specs.setdefault(spec.uid, spec)
            return await self._sandbox_status(ready[-1].id)
        if sandboxes and spec.attempt <= max(s.attempt for s in sandboxes):
            # a new sandbox for the pod (the old one died or was stopped): CRI names it by attempt
            spec = dataclasses.replace(spec, attempt=max(s.attempt for s in sandboxes) + 1)
        sandbox_id = await self.client.run_pod_sandbox(spec)
        self._specs[spec.uid] = spec
        return await self._sandbox_status(sandbox_id)

    async def _sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        s = await self.client.pod_sandbox_status(sandbox_id)
        return SandboxStatus(id=s.id, ready=s.ready, ip=s.ip, created_at=s.created_at)

    async def stop_pod_sandbox(self, pod_uid: str) -> None:
        for s in await self._sandboxes(pod_uid):
            await self._stop_sandbox(s.id)

    async def _stop_sandbox(self, sandbox_id: str, attempts: int = 3) -> None:
        """StopPodSandbox, retried: containerd 1.6 sometimes fails it with "ttrpc: closed" when a
        container exits at the moment it is killed (seen about once in 100 runs); the kubelet would
        retry on its next sync."""
        for attempt in range(attempts):
            try:
                await self.client.stop_pod_sandbox(sandbox_id)
                return
            except NotFound:
                return
            except CRIError as e:
                if attempt == attempts - 1 or e.code != "UNKNOWN":
                    raise
                log.info("retrying StopPodSandbox %s: %s", sandbox_id, e)
                await asyncio.sleep(0.1 * (attempt + 1))

    async def remove_pod(self, pod_uid: str) -> None:
        """Remove the pod's containers and sandboxes, its cgroup parent and its log directory."""
        for c in await self.client.list_containers(labels={LABEL_POD_UID: pod_uid}):
            self._messages.pop(c.id, None)
            with contextlib.suppress(NotFound):
                await self.client.remove_container(c.id)
        sandboxes = await self._sandboxes(pod_uid)
        for s in sandboxes:
            await self._stop_sandbox(s.id)
            await self.client.remove_pod_sandbox(s.id)
        spec = self._specs.pop(pod_uid, None)
        parents = {spec.cgroup_parent} if spec and spec.cgroup_parent else {
            pod_cgroup_parent(self.cgroup_root, q, pod_uid) for q in ("Guaranteed", "Burstable", "BestEffort")}
        for parent in parents:
            await asyncio.to_thread(remove_cgroup, parent)
        for s in sandboxes[-1:]:
            shutil.rmtree(pod_log_directory(self.log_root, s.namespace, s.name, s.uid), ignore_errors=True)

    # ------------------------------------------------------------------ images
    @staticmethod
    def _image_status(name: str, image: CRIImage) -> ImageStatus:
        return ImageStatus(name=name, ref=image.repo_digests[0] if image.repo_digests else image.id, size=image.size)

    async def image_status(self, image: str) -> ImageStatus | None:
        found = await self.client.image_status(image)
        return None if found is None else self._image_status(imageref.normalize(image), found)

    async def pull_image(self, image: str, auth: AuthConfig | None = None,
                         sandbox: PodSandboxSpec | None = None) -> ImageStatus:
        ref = await self.client.pull_image(image, auth=auth, sandbox=sandbox)
        found = await self.client.image_status(ref)
        if found is None:
            raise RuntimeFailure(f"image {image} pulled as {ref} but not found afterwards")
        return self._image_status(imageref.normalize(image), found)

    async def list_images(self) -> list[ImageStatus]:
        return [self._image_status(tag, img) for img in await self.client.list_images() for tag in img.repo_tags]

    # ------------------------------------------------------------------ containers
    async def _ready_sandbox(self, pod_uid: str) -> tuple[str, PodSandboxSpec]:
        ready = [s for s in await self._sandboxes(pod_uid) if s.ready]
        if not ready:
            raise RuntimeFailure(f"pod {pod_uid} has no ready sandbox")
        s = ready[-1]
        spec = self._specs.get(pod_uid)
        if spec is None:
            spec = self.sandbox_spec(PodSandboxConfig(uid=s.uid, name=s.name, namespace=s.namespace))
            self._specs[pod_uid] = spec
        return s.id, spec

    def container_spec(self, pod: PodSandboxSpec, config: ContainerConfig) -> ContainerSpec:
        """The kubelet defaults for a seam ContainerConfig (the image's command, no env or mounts)."""
        return ContainerSpec(
            name=config.name, image=config.image, attempt=config.attempt,
            labels={**self._pod_labels(pod), LABEL_CONTAINER_NAME: config.name},
            annotations={**config.annotations, ANNOTATION_RESTART_COUNT: str(config.attempt),
                         ANNOTATION_INIT: str(config.init).lower(), ANNOTATION_SIDECAR: str(config.sidecar).lower()},
            log_path=container_log_path(config.name, config.attempt))

    async def create_container(self, pod_uid: str, config: ContainerConfig | ContainerSpec) -> str:
        if isinstance(config, ContainerConfig) and isinstance(config.spec, ContainerSpec):
            config = config.spec
        sandbox_id, sandbox = await self._ready_sandbox(pod_uid)
        if isinstance(config, ContainerSpec):
            spec = config if config.labels.get(LABEL_POD_UID) == pod_uid else dataclasses.replace(
                config, labels={**config.labels, **self._pod_labels(sandbox), LABEL_CONTAINER_NAME: config.name})
        else:
            spec = self.container_spec(sandbox, config)
        return await self.client.create_container(sandbox_id, spec, sandbox)

    @staticmethod
    def _pod_labels(pod: PodSandboxSpec) -> dict[str, str]:
        return {LABEL_POD_NAME: pod.name, LABEL_POD_NAMESPACE: pod.namespace, LABEL_POD_UID: pod.uid}

    async def start_container(self, container_id: str) -> None:
        await self.client.start_container(container_id)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        """Ask the container to stop (SIGTERM, SIGKILL after `timeout` s) and return at once."""
        status = await self.client.container_status(container_id)
        if status.state != CRIContainerState.RUNNING:
            if status.state == CRIContainerState.CREATED:
                await self.client.stop_container(container_id, 0)
            return
        task = asyncio.get_running_loop().create_task(self._stop(container_id, timeout))
        self._stops.add(task)
        task.add_done_callback(self._stops.discard)

    async def _stop(self, container_id: str, timeout: float) -> None:
        try:
            await self.client.stop_container(container_id, max(0, round(timeout)))
        except RuntimeFailure as e:
            log.warning("stopping container %s: %s", container_id, e)

    async def pod_status(self, pod_uid: str) -> PodRuntimeStatus:
        sandboxes = await self._sandboxes(pod_uid)
        if not sandboxes:
            return PodRuntimeStatus()
        sandbox = await self._sandbox_status(sandboxes[-1].id)
        statuses = []
        for c in await self.client.list_containers(labels={LABEL_POD_UID: pod_uid}):
            with contextlib.suppress(NotFound):
                status = await self.client.container_status(c.id)
                message = self._message(status) if status.state == CRIContainerState.EXITED else None
                statuses.append(seam_container_status(status, message))
        statuses.sort(key=lambda s: (s.created_at, s.attempt))
        return PodRuntimeStatus(sandbox=sandbox, containers=tuple(statuses))

    def _message(self, status: CRIContainerStatus) -> str:
        cached = self._messages.get(status.id)
        if cached is None:
            cached = self._messages[status.id] = termination_message(status)
        return cached

    async def gc_pod(self, pod_uid: str) -> int:
        """Remove the pod's surplus exited containers and dead sandboxes; returns how many were removed."""
        containers = await self.client.list_containers(labels={LABEL_POD_UID: pod_uid})
        exited: dict[str, list[CRIContainer]] = {}
        for c in containers:
            if c.state == CRIContainerState.EXITED:
                exited.setdefault(c.name, []).append(c)
        removed = 0
        for instances in exited.values():
            for c in sorted(instances, key=lambda c: (c.attempt, c.created_at))[:-1]:
                with contextlib.suppress(NotFound):
                    path = (await self.client.container_status(c.id)).log_path
                    await self.client.remove_container(c.id)
                    self._messages.pop(c.id, None)
                    if path:
                        Path(path).unlink(missing_ok=True)
                    removed += 1
        used = {c.sandbox_id for c in await self.client.list_containers(labels={LABEL_POD_UID: pod_uid})}
        for s in (await self._sandboxes(pod_uid))[:-1]:
            if not s.ready and s.id not in used:
                await self.client.remove_pod_sandbox(s.id)
                removed += 1
        return removed

    def next_change(self, pod_uid: str) -> float | None:
        return None

    async def restore(self, pod: dict[str, Any]) -> None:
        """Nothing to do: containerd kept the pod; its sandbox spec is rebuilt on demand."""


def seam_container_status(s: CRIContainerStatus, message: str | None = None) -> ContainerStatus:
    state = _STATES.get(s.state, ContainerState.EXITED)
    reason = s.reason
    if s.state == CRIContainerState.UNKNOWN and not reason:
        reason = "Unknown"
    return ContainerStatus(
        id=s.id, name=s.name, attempt=s.attempt, image=s.image, image_ref=s.image_ref, state=state,
        created_at=s.created_at, started_at=s.started_at, finished_at=s.finished_at, exit_code=s.exit_code,
        reason=reason if state is ContainerState.EXITED else "", message=s.message if message is None else message,
        init=s.annotations.get(ANNOTATION_INIT) == "true")


def _tail(path: str, lines: int, limit: int) -> str:
    """The content of the last `lines` records of a CRI log file, at most `limit` bytes."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 64 * 1024))
            data = f.read()
    except OSError:
        return ""
    out = [r.split(b" ", 3)[3] if r.count(b" ") >= 3 else b"" for r in data.splitlines()[-lines:]]
    return b"\n".join(out)[-limit:].decode(errors="replace")


def termination_message(s: CRIContainerStatus) -> str:
    """The termination message of an exited container (see the module docstring)."""
    path = s.annotations.get(ANNOTATION_TERMINATION_MESSAGE_PATH, "")
    message = s.message
    for m in s.mounts:
        if path and m.container_path == path:
            try:
                with open(m.host_path, "rb") as f:
                    message = f.read(MAX_MESSAGE_BYTES).decode(errors="replace")
            except OSError:
                pass
    fallback = s.annotations.get(ANNOTATION_TERMINATION_MESSAGE_POLICY) == "FallbackToLogsOnError"
    if fallback and not message and s.exit_code != 0 and s.log_path:
        message = _tail(s.log_path, FALLBACK_LOG_LINES, FALLBACK_LOG_BYTES)
    return message
