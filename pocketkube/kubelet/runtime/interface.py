"""The runtime seam: a narrow, CRI-shaped protocol the pod workers drive.

Theory of operation: the pod workers decide *what* to do from the pure
lifecycle table and call a `Runtime` to do it, exactly as the kubelet drives
CRI's RuntimeService and ImageService: sandboxes (the pod's network namespace
and IP), containers (create, start, stop, remove; each restart is a new
container with attempt + 1) and images. What the runtime reports back is a
`PodRuntimeStatus` snapshot, from which the pure status module computes the
API status. Implementations:

- `simulated.SimulatedRuntime` (one per simulated node): in memory; container
  behaviour is data from the pod's annotations; state is a function of time.
- `cri` (issue 5): grpc.aio client of containerd's CRI v1.

Contract for implementations:
- Calls return once the operation is *initiated and recorded*; they never wait
  for a container to exit. `stop_container(id, timeout)` asks the container to
  stop (SIGTERM, SIGKILL after `timeout`) and returns; the exit shows up later
  in `pod_status`.
- `next_change(pod_uid)` is the PLEG hint: the time at which the runtime knows
  the pod's state will change on its own (a simulated exit), or None. Real
  runtimes return None and wake the workers through their event stream.
- `restore(pod)` re-adopts a pod the runtime was running before the agent
  restarted (the simulated runtime rebuilds it from the API status; a CRI
  runtime's state survives the agent, so it does nothing).
- Statuses are immutable snapshots; container instances of a pod are ordered
  oldest first; `PodRuntimeStatus.latest(name)` is the current instance.
- The configs carry what every runtime needs; `spec` may carry a runtime's own
  full request built by the node's configurer (kubelet/configurer.py: the CRI
  one attaches cri_types.PodSandboxSpec / ContainerSpec); a runtime ignores a
  spec it does not know.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class RuntimeFailure(Exception):
    """A runtime call that cannot be honoured (unknown container, no ready sandbox, pull failure)."""


class ContainerState(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"


@dataclass(frozen=True, slots=True)
class ContainerStatus:
    id: str
    name: str
    attempt: int
    image: str
    image_ref: str
    state: ContainerState
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    init: bool = False


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    id: str
    ready: bool
    ip: str
    created_at: float


@dataclass(frozen=True, slots=True)
class PodRuntimeStatus:
    sandbox: SandboxStatus | None = None
    containers: tuple[ContainerStatus, ...] = ()

    def latest(self, name: str) -> ContainerStatus | None:
        found = None
        for c in self.containers:
            if c.name == name and (found is None or c.attempt >= found.attempt):
                found = c
        return found

    def previous(self, name: str) -> ContainerStatus | None:
        """The instance before the latest one (the source of lastState)."""
        latest = self.latest(name)
        found = None
        for c in self.containers:
            if c.name == name and c is not latest and (found is None or c.attempt > found.attempt):
                found = c
        return found


@dataclass(frozen=True, slots=True)
class PodSandboxConfig:
    uid: str
    name: str
    namespace: str
    annotations: Mapping[str, str] = field(default_factory=dict)
    spec: object | None = None


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    name: str
    image: str
    attempt: int
    init: bool = False
    sidecar: bool = False
    annotations: Mapping[str, str] = field(default_factory=dict)
    spec: object | None = None


@dataclass(frozen=True, slots=True)
class ImageStatus:
    name: str
    ref: str
    size: int


class Runtime(Protocol):
    runtime_name: str
    runtime_version: str

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> SandboxStatus: ...

    async def stop_pod_sandbox(self, pod_uid: str) -> None: ...

    async def remove_pod(self, pod_uid: str) -> None:
        """Remove the pod's containers and sandbox and release its IP."""

    async def image_status(self, image: str) -> ImageStatus | None: ...

    async def pull_image(self, image: str) -> ImageStatus: ...

    async def list_images(self) -> list[ImageStatus]: ...

    async def create_container(self, pod_uid: str, config: ContainerConfig) -> str: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, timeout: float) -> None: ...

    async def pod_status(self, pod_uid: str) -> PodRuntimeStatus: ...

    def next_change(self, pod_uid: str) -> float | None: ...

    async def restore(self, pod: dict[str, Any]) -> None: ...
