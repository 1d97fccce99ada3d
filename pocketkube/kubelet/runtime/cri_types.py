"""CRI-shaped types for what a real container runtime needs beyond the narrow `Runtime` seam.

Theory of operation: interface.py's `Runtime` is what the pod workers drive (pod uid in, status
snapshots out) and both runtimes implement it. A real runtime needs more per call than that seam
carries: the sandbox's hostname, DNS, ports, cgroup parent, log directory and namespaces; the
container's command, env, mounts, working dir, resources and security context; registry auth on
pulls; and it can do more (exec/attach/port-forward URLs, stats, log reopening). These are the
frozen dataclasses here, one per CRI v1 message pocketkube uses, with CRI's field names and
units (times are epoch seconds as floats; CRI's are nanoseconds). `CRIService` is the protocol
of those calls; cri_client.CRIClient implements it over gRPC, and `cri.CRIRuntime` accepts a
`PodSandboxSpec` / `ContainerSpec` wherever the seam takes its small configs.

Errors: every failed RPC raises `CRIError` (a `RuntimeFailure`) whose `code` is the gRPC status
code name ("NOT_FOUND", "UNKNOWN", ...) and whose message names the method, the code and
containerd's text; `NotFound`, `Unavailable`, `DeadlineExceeded` and `InvalidArgument` are the
subclasses callers test for.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from pocketkube.kubelet.runtime.interface import RuntimeFailure

# Labels and annotations the upstream kubelet puts on sandboxes and containers.
LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"
ANNOTATION_CONTAINER_HASH = "io.kubernetes.container.hash"
ANNOTATION_RESTART_COUNT = "io.kubernetes.container.restartCount"
ANNOTATION_TERMINATION_MESSAGE_PATH = "io.kubernetes.container.terminationMessagePath"
ANNOTATION_TERMINATION_MESSAGE_POLICY = "io.kubernetes.container.terminationMessagePolicy"
ANNOTATION_GRACE_PERIOD = "io.kubernetes.pod.terminationGracePeriod"
# pocketkube's own: what the seam's ContainerStatus needs that CRI does not carry.
ANNOTATION_INIT = "io.pocketkube.container.init"
ANNOTATION_SIDECAR = "io.pocketkube.container.sidecar"


class CRIError(RuntimeFailure):
    """A CRI call failed; `code` is the gRPC status code name, `method` the RPC."""

    def __init__(self, method: str, code: str, details: str) -> None:
        super().__init__(f"{method}: {code}: {details}")
        self.method, self.code, self.details = method, code, details


class NotFound(CRIError):
    pass


class Unavailable(CRIError):
    pass


class DeadlineExceeded(CRIError):
    pass


class InvalidArgument(CRIError):
    pass


_ERRORS: dict[str, type[CRIError]] = {
    "NOT_FOUND": NotFound, "UNAVAILABLE": Unavailable, "DEADLINE_EXCEEDED": DeadlineExceeded,
    "INVALID_ARGUMENT": InvalidArgument,
}


def cri_error(method: str, code: str, details: str) -> CRIError:
    return _ERRORS.get(code, CRIError)(method, code, details)


class NamespaceMode(enum.IntEnum):
    """CRI NamespaceMode. Unset means POD: set pid=CONTAINER explicitly, as the kubelet does."""

    POD = 0
    CONTAINER = 1
    NODE = 2
    TARGET = 3


class MountPropagation(enum.IntEnum):
    PRIVATE = 0
    HOST_TO_CONTAINER = 1
    BIDIRECTIONAL = 2


class CRIContainerState(enum.IntEnum):
    CREATED = 0
    RUNNING = 1
    EXITED = 2
    UNKNOWN = 3


@dataclass(frozen=True, slots=True)
class NamespaceOptions:
    network: NamespaceMode = NamespaceMode.POD
    pid: NamespaceMode = NamespaceMode.CONTAINER
    ipc: NamespaceMode = NamespaceMode.POD
    target_id: str = ""


@dataclass(frozen=True, slots=True)
class PortMapping:
    container_port: int
    host_port: int = 0
    protocol: str = "TCP"
    host_ip: str = ""


@dataclass(frozen=True, slots=True)
class DNSConfig:
    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LinuxResources:
    """CRI LinuxContainerResources (0 / "" = unset). cpu_period/quota in microseconds."""

    cpu_period: int = 0
    cpu_quota: int = 0
    cpu_shares: int = 0
    memory_limit_in_bytes: int = 0
    oom_score_adj: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    unified: Mapping[str, str] = field(default_factory=dict)
    memory_swap_limit_in_bytes: int = 0


@dataclass(frozen=True, slots=True)
class SecurityProfile:
    """seccomp/AppArmor: type is "RuntimeDefault", "Unconfined" or "Localhost"."""

    type: str = "RuntimeDefault"
    localhost_ref: str = ""


@dataclass(frozen=True, slots=True)
class PodSandboxSpec:
    """Everything RunPodSandbox takes (CRI PodSandboxConfig)."""

    name: str
    namespace: str
    uid: str
    attempt: int = 0
    hostname: str = ""
    log_directory: str = ""
    dns: DNSConfig | None = None
    port_mappings: tuple[PortMapping, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    cgroup_parent: str = ""
    namespace_options: NamespaceOptions = NamespaceOptions()
    privileged: bool = False
    run_as_user: int | None = None
    run_as_group: int | None = None
    supplemental_groups: tuple[int, ...] = ()
    readonly_rootfs: bool = False
    sysctls: Mapping[str, str] = field(default_factory=dict)
    seccomp: SecurityProfile | None = None
    overhead: LinuxResources | None = None
    resources: LinuxResources | None = None
    runtime_handler: str = ""


@dataclass(frozen=True, slots=True)
class Mount:
    container_path: str
    host_path: str
    readonly: bool = False
    propagation: MountPropagation = MountPropagation.PRIVATE
    selinux_relabel: bool = False


@dataclass(frozen=True, slots=True)
class Device:
    container_path: str
    host_path: str
    permissions: str = "rwm"


@dataclass(frozen=True, slots=True)
class ContainerSecurity:
    """CRI LinuxContainerSecurityContext; namespace pid defaults to CONTAINER (never unset)."""

    namespace_options: NamespaceOptions = NamespaceOptions()
    privileged: bool = False
    add_capabilities: tuple[str, ...] = ()
    drop_capabilities: tuple[str, ...] = ()
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_username: str = ""
    readonly_rootfs: bool = False
    supplemental_groups: tuple[int, ...] = ()
    no_new_privs: bool = False
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    seccomp: SecurityProfile | None = None
    apparmor: SecurityProfile | None = None


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """Everything CreateContainer takes (CRI ContainerConfig). log_path is relative to the
    sandbox's log_directory (upstream: "<container name>/<restart count>.log")."""

    name: str
    image: str
    attempt: int = 0
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    working_dir: str = ""
    envs: tuple[tuple[str, str], ...] = ()
    mounts: tuple[Mount, ...] = ()
    devices: tuple[Device, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    log_path: str = ""
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    resources: LinuxResources | None = None
    security: ContainerSecurity = ContainerSecurity()
    user_specified_image: str = ""


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Registry credentials for PullImage (from imagePullSecrets / the node's credentials)."""

    username: str = ""
    password: str = ""
    auth: str = ""
    server_address: str = ""
    identity_token: str = ""
    registry_token: str = ""


@dataclass(frozen=True, slots=True)
class RuntimeVersion:
    version: str
    runtime_name: str
    runtime_version: str
    runtime_api_version: str


@dataclass(frozen=True, slots=True)
class RuntimeCondition:
    type: str
    status: bool
    reason: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class RuntimeStatus:
    conditions: tuple[RuntimeCondition, ...]
    info: Mapping[str, str] = field(default_factory=dict)

    def ready(self, kind: str) -> bool:
        """Whether condition `kind` ("RuntimeReady", "NetworkReady") is true."""
        return any(c.type == kind and c.status for c in self.conditions)


@dataclass(frozen=True, slots=True)
class CRIPodSandbox:
    """A ListPodSandbox item, or PodSandboxStatus (then ip/additional_ips/info are filled)."""

    id: str
    name: str
    namespace: str
    uid: str
    attempt: int
    ready: bool
    created_at: float
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    runtime_handler: str = ""
    ip: str = ""
    additional_ips: tuple[str, ...] = ()
    info: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CRIContainer:
    """A ListContainers item."""

    id: str
    sandbox_id: str
    name: str
    attempt: int
    image: str
    image_ref: str
    state: CRIContainerState
    created_at: float
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CRIContainerStatus:
    """ContainerStatus. started_at/finished_at are None while unset; log_path is absolute."""

    id: str
    name: str
    attempt: int
    state: CRIContainerState
    created_at: float
    started_at: float | None
    finished_at: float | None
    exit_code: int
    image: str
    image_ref: str
    reason: str = ""
    message: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    log_path: str = ""
    resources: LinuxResources | None = None
    info: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExecSyncResult:
    stdout: bytes
    stderr: bytes
    exit_code: int


@dataclass(frozen=True, slots=True)
class CRIImage:
    id: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    size: int
    uid: int | None = None
    username: str = ""
    pinned: bool = False


@dataclass(frozen=True, slots=True)
class FilesystemUsage:
    timestamp: float
    mountpoint: str
    used_bytes: int | None
    inodes_used: int | None


@dataclass(frozen=True, slots=True)
class ContainerStats:
    """ContainerStats; a value the runtime did not report is None (usage_nano_cores is unset
    until containerd's collector has two samples, about 10 s after start)."""

    id: str
    name: str
    attempt: int
    labels: Mapping[str, str]
    cpu_timestamp: float | None = None
    usage_core_nano_seconds: int | None = None
    usage_nano_cores: int | None = None
    memory_timestamp: float | None = None
    working_set_bytes: int | None = None
    available_bytes: int | None = None
    usage_bytes: int | None = None
    rss_bytes: int | None = None
    page_faults: int | None = None
    major_page_faults: int | None = None
    writable_layer: FilesystemUsage | None = None


class CRIService(Protocol):
    """The CRI calls a real node agent makes (implemented by cri_client.CRIClient)."""

    async def version(self) -> RuntimeVersion: ...
    async def status(self, verbose: bool = False) -> RuntimeStatus: ...
    async def run_pod_sandbox(self, spec: PodSandboxSpec) -> str: ...
    async def stop_pod_sandbox(self, sandbox_id: str) -> None: ...
    async def remove_pod_sandbox(self, sandbox_id: str) -> None: ...
    async def pod_sandbox_status(self, sandbox_id: str, verbose: bool = False) -> CRIPodSandbox: ...
    async def list_pod_sandboxes(self, labels: Mapping[str, str] | None = None,
                                 ready: bool | None = None) -> list[CRIPodSandbox]: ...
    async def create_container(self, sandbox_id: str, spec: ContainerSpec,
                               sandbox: PodSandboxSpec) -> str: ...
    async def start_container(self, container_id: str) -> None: ...
    async def stop_container(self, container_id: str, timeout: int) -> None: ...
    async def remove_container(self, container_id: str) -> None: ...
    async def list_containers(self, sandbox_id: str = "", labels: Mapping[str, str] | None = None,
                              state: CRIContainerState | None = None) -> list[CRIContainer]: ...
    async def container_status(self, container_id: str, verbose: bool = False) -> CRIContainerStatus: ...
    async def update_container_resources(self, container_id: str, resources: LinuxResources) -> None: ...
    async def reopen_container_log(self, container_id: str) -> None: ...
    async def exec_sync(self, container_id: str, cmd: list[str], timeout: int = 0) -> ExecSyncResult: ...
    async def exec_url(self, container_id: str, cmd: list[str], *, tty: bool = False, stdin: bool = False,
                       stdout: bool = True, stderr: bool = True) -> str: ...
    async def attach_url(self, container_id: str, *, tty: bool = False, stdin: bool = False,
                         stdout: bool = True, stderr: bool = True) -> str: ...
    async def port_forward_url(self, sandbox_id: str, ports: list[int]) -> str: ...
    async def container_stats(self, container_id: str) -> ContainerStats: ...
    async def list_container_stats(self, sandbox_id: str = "") -> list[ContainerStats]: ...
    async def list_images(self, image: str = "") -> list[CRIImage]: ...
    async def image_status(self, image: str) -> CRIImage | None: ...
    async def pull_image(self, image: str, auth: AuthConfig | None = None,
                         sandbox: PodSandboxSpec | None = None) -> str: ...
    async def remove_image(self, image: str) -> None: ...
    async def image_fs_info(self) -> list[FilesystemUsage]: ...
