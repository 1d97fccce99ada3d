"""The simulated container runtime: one in-memory "containerd" per simulated node.

Theory of operation: a container here is a record whose state is a function
of time. Starting one computes, from the pod's annotations
(kubelet/simulate.py), when it will exit on its own and with which code;
stopping one computes when it exits after SIGTERM (or SIGKILL at the grace
period). Nothing runs in the background: every read first *settles* records
whose planned exit time has passed, and `next_change` tells the pod workers
when the next such exit is due, which stands in for PLEG. Sandboxes get their
IP from the node's host-local allocator (kubelet/ipam.py) and give it back
when stopped. Images are "pulled" instantly (the start delay of the lifecycle
table accounts for the time) and stay present on the node, so a second pod
with an IfNotPresent image reports "already present on machine".

Only the latest two instances of each container are kept (the current one and
the one `lastState` shows), like the kubelet's container GC. `restore` rebuilds
a pod from its API status after an agent restart, keeping its IP, restart
counts and start times, so a restart of the agent is invisible to users.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pocketkube.kubelet import images, simulate
from pocketkube.kubelet.ipam import PodIPAllocator
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
from pocketkube.kubelet.timefmt import parse_time

RUNTIME_NAME = "simulated"
RUNTIME_VERSION = "0.1.0"
KEEP_INSTANCES = 2


@dataclass(slots=True)
class _Container:
    id: str
    name: str
    pod_uid: str
    attempt: int
    image: str
    image_ref: str
    init: bool
    sidecar: bool
    created_at: float
    behaviour: simulate.Behaviour
    state: ContainerState = ContainerState.CREATED
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int = 0
    exit_at: float | None = None
    planned_code: int = 0
    stopping: bool = False

    def settle(self, now: float) -> None:
        if self.state is ContainerState.RUNNING and self.exit_at is not None and self.exit_at <= now:
            self.state = ContainerState.EXITED
            self.finished_at = self.exit_at
            self.exit_code = self.planned_code

    def snapshot(self) -> ContainerStatus:
        exited = self.state is ContainerState.EXITED
        return ContainerStatus(
            id=self.id, name=self.name, attempt=self.attempt, image=self.image, image_ref=self.image_ref,
            state=self.state, created_at=self.created_at, started_at=self.started_at,
            finished_at=self.finished_at, exit_code=self.exit_code,
            reason=simulate.exit_reason(self.exit_code) if exited else "", init=self.init)


@dataclass(slots=True)
class _Pod:
    uid: str
    annotations: dict[str, str]
    sandbox: SandboxStatus | None = None
    containers: list[_Container] = field(default_factory=list)


class SimulatedRuntime:
    runtime_name = RUNTIME_NAME
    runtime_version = RUNTIME_VERSION

    def __init__(self, pod_cidr: str, clock: Callable[[], float],
                 timing: simulate.Timing = simulate.Timing()) -> None:
        self.ipam = PodIPAllocator(pod_cidr)
        self.clock = clock
        self.timing = timing
        self._pods: dict[str, _Pod] = {}
        self._containers: dict[str, _Container] = {}
        self._images: dict[str, ImageStatus] = {}
        self._seq = itertools.count(1)

    # ------------------------------------------------------------------ sandboxes
    async def run_pod_sandbox(self, config: PodSandboxConfig) -> SandboxStatus:
        pod = self._pods.setdefault(config.uid, _Pod(config.uid, dict(config.annotations)))
        if pod.sandbox is not None and pod.sandbox.ready:
            return pod.sandbox
        ip = self.ipam.allocate(config.uid)
        pod.sandbox = SandboxStatus(id=self._new_id(config.uid, "sandbox"), ready=True, ip=ip,
                                    created_at=self.clock())
        return pod.sandbox

    async def stop_pod_sandbox(self, pod_uid: str) -> None:
        pod = self._pods.get(pod_uid)
        if pod is None or pod.sandbox is None:
            return
        for c in pod.containers:
            self._kill_now(c)
        self.ipam.release(pod_uid)
        s = pod.sandbox
        pod.sandbox = SandboxStatus(id=s.id, ready=False, ip="", created_at=s.created_at)

    async def remove_pod(self, pod_uid: str) -> None:
        pod = self._pods.pop(pod_uid, None)
        self.ipam.release(pod_uid)
        if pod is not None:
            for c in pod.containers:
                self._containers.pop(c.id, None)

    def pod_count(self) -> int:
        return len(self._pods)

    # ------------------------------------------------------------------ images
    async def image_status(self, image: str) -> ImageStatus | None:
        return self._images.get(images.normalize(image))

    async def pull_image(self, image: str) -> ImageStatus:
        name = images.normalize(image)
        status = ImageStatus(name=name, ref=images.image_id(image), size=images.size_bytes(image))
        self._images[name] = status
        return status

    async def list_images(self) -> list[ImageStatus]:
        return list(self._images.values())

    # ------------------------------------------------------------------ containers
    async def create_container(self, pod_uid: str, config: ContainerConfig) -> str:
        pod = self._pods.get(pod_uid)
        if pod is None or pod.sandbox is None or not pod.sandbox.ready:
            raise RuntimeFailure(f"pod {pod_uid} has no ready sandbox")
        c = _Container(id=self._new_id(pod_uid, config.name), name=config.name, pod_uid=pod_uid,
                       attempt=config.attempt, image=images.normalize(config.image),
                       image_ref=images.image_id(config.image), init=config.init, sidecar=config.sidecar,
                       created_at=self.clock(), behaviour=simulate.behaviour(config.annotations, self.timing))
        self._add(pod, c)
        return c.id

    async def start_container(self, container_id: str) -> None:
        c = self._get(container_id)
        if c.state is not ContainerState.CREATED:
            return
        now = self.clock()
        c.state, c.started_at = ContainerState.RUNNING, now
        b = c.behaviour
        if c.init and not c.sidecar:
            c.exit_at, c.planned_code = now + b.init_duration, b.init_exit_code
        elif not c.init and b.exit_after is not None:
            c.exit_at, c.planned_code = now + b.exit_after, b.exit_code

    async def stop_container(self, container_id: str, timeout: float) -> None:
        c = self._get(container_id)
        now = self.clock()
        c.settle(now)
        if c.state is ContainerState.CREATED:
            c.state, c.finished_at, c.exit_code = ContainerState.EXITED, now, 0
            return
        if c.state is not ContainerState.RUNNING or c.stopping:
            return
        c.stopping = True
        b = c.behaviour
        if b.stop_after <= timeout:
            at, code = now + b.stop_after, b.stop_exit_code
        else:
            at, code = now + max(timeout, 0.0), simulate.SIGKILL_EXIT_CODE
        if c.exit_at is None or at < c.exit_at:
            c.exit_at, c.planned_code = at, code
        c.settle(now)

    async def pod_status(self, pod_uid: str) -> PodRuntimeStatus:
        pod = self._pods.get(pod_uid)
        if pod is None:
            return PodRuntimeStatus()
        now = self.clock()
        for c in pod.containers:
            c.settle(now)
        return PodRuntimeStatus(sandbox=pod.sandbox, containers=tuple(c.snapshot() for c in pod.containers))

    def next_change(self, pod_uid: str) -> float | None:
        pod = self._pods.get(pod_uid)
        if pod is None:
            return None
        due = [c.exit_at for c in pod.containers if c.state is ContainerState.RUNNING and c.exit_at is not None]
        return min(due) if due else None

    # ------------------------------------------------------------------ helpers
    def _new_id(self, pod_uid: str, name: str) -> str:
        return hashlib.sha256(f"{pod_uid}/{name}/{next(self._seq)}".encode()).hexdigest()

    def _get(self, container_id: str) -> _Container:
        c = self._containers.get(container_id)
        if c is None:
            raise RuntimeFailure(f"container {container_id} not found")
        return c

    def _add(self, pod: _Pod, c: _Container) -> None:
        same = [x for x in pod.containers if x.name == c.name]
        for old in same[: max(0, len(same) - KEEP_INSTANCES + 1)]:
            pod.containers.remove(old)
            self._containers.pop(old.id, None)
        pod.containers.append(c)
        self._containers[c.id] = c

    def _kill_now(self, c: _Container) -> None:
        now = self.clock()
        c.settle(now)
        if c.state is not ContainerState.EXITED:
            c.state, c.finished_at = ContainerState.EXITED, now
            c.exit_code = simulate.SIGKILL_EXIT_CODE if c.started_at is not None else 0

    # ------------------------------------------------------------------ restore after an agent restart
    async def restore(self, pod: dict[str, Any]) -> None:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        uid = meta.get("uid") or ""
        if not uid or uid in self._pods:
            return
        statuses = [(s, True) for s in status.get("initContainerStatuses") or []]
        statuses += [(s, False) for s in status.get("containerStatuses") or []]
        if not any(str(s.get("containerID") or "").startswith(RUNTIME_NAME + "://") for s, _ in statuses):
            return
        annotations = dict(meta.get("annotations") or {})
        entry = _Pod(uid, annotations)
        self._pods[uid] = entry
        terminal = status.get("phase") in ("Succeeded", "Failed")
        ip = status.get("podIP") or ""
        if ip and not terminal and self.ipam.reserve(ip, uid):
            entry.sandbox = SandboxStatus(id=self._new_id(uid, "sandbox"), ready=True, ip=ip,
                                          created_at=parse_time(status.get("startTime")) or self.clock())
        elif not terminal:
            entry.sandbox = SandboxStatus(id=self._new_id(uid, "sandbox"), ready=True,
                                          ip=self.ipam.allocate(uid), created_at=self.clock())
        sidecars = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []
                    if c.get("restartPolicy") == "Always"}
        for s, init in statuses:
            self._restore_container(entry, s, init=init, sidecar=s.get("name") in sidecars)

    def _restore_container(self, pod: _Pod, s: dict[str, Any], *, init: bool, sidecar: bool) -> None:
        cid = str(s.get("containerID") or "")
        image = str(s.get("image") or "")
        if image:
            self._images.setdefault(images.normalize(image), ImageStatus(
                images.normalize(image), images.image_id(image), images.size_bytes(image)))
        count = int(s.get("restartCount") or 0)
        last = (s.get("lastState") or {}).get("terminated")
        state = s.get("state") or {}
        if last:
            self._add(pod, self._from_state(pod, s, {"terminated": last}, max(count - 1, 0), init, sidecar,
                                            str(last.get("containerID") or "")))
        if "waiting" in state or not cid.startswith(RUNTIME_NAME + "://"):
            return
        self._add(pod, self._from_state(pod, s, state, count, init, sidecar, cid))

    def _from_state(self, pod: _Pod, s: dict[str, Any], state: dict[str, Any], attempt: int, init: bool,
                    sidecar: bool, cid: str) -> _Container:
        image = str(s.get("image") or "")
        b = simulate.behaviour(pod.annotations, self.timing)
        c = _Container(id=cid.partition("://")[2] or self._new_id(pod.uid, str(s.get("name"))),
                       name=str(s.get("name")), pod_uid=pod.uid, attempt=attempt, image=images.normalize(image),
                       image_ref=str(s.get("imageID") or images.image_id(image)), init=init, sidecar=sidecar,
                       created_at=self.clock(), behaviour=b)
        running, term = state.get("running"), state.get("terminated")
        if running is not None:
            c.state, c.started_at = ContainerState.RUNNING, parse_time(running.get("startedAt")) or self.clock()
            if init and not sidecar:
                c.exit_at, c.planned_code = c.started_at + b.init_duration, b.init_exit_code
            elif not init and b.exit_after is not None:
                c.exit_at, c.planned_code = c.started_at + b.exit_after, b.exit_code
        elif term is not None:
            c.state, c.exit_code = ContainerState.EXITED, int(term.get("exitCode") or 0)
            c.started_at = parse_time(term.get("startedAt"))
            c.finished_at = parse_time(term.get("finishedAt")) or self.clock()
        return c
