"""The real node's `PodConfigurer`: pods into full CRI requests, as kuberuntime builds them.

Theory of operation:
- sandbox: cri_podconfig.sandbox_spec (hostname, log directory under the node's pod-log root,
  ports, cgroup parent by QoS under the node's cgroup root, namespaces, security) with the DNS
  config of poddns (ClusterFirst: 10.96.0.10, `<ns>.svc.cluster.local svc.cluster.local
  cluster.local`, ndots:5);
- container: the environment from podinputs.env.resolve_env (downward API with the sandbox's IP
  and the node's, configMap/secret refs read from the API, envFrom, service variables from
  `services()`), command and args $(VAR)-expanded against it, the mounts (the pod's /etc/hosts
  written to `<pods dir>/<uid>/etc-hosts` unless the container mounts /etc/hosts or the pod has
  no IP yet; a fresh termination-message file `<pods dir>/<uid>/containers/<name>/<id>` at
  terminationMessagePath; the volume mounts from `volumes` (podinputs.volumes.VolumeManager),
  when given) and the resources (cri_podconfig.linux_resources, oom_score_adj from the node's
  memory capacity);
- prepare: the pod's volumes set up (VolumeManager.setup, idempotent; a failure is PodNotReady:
  the manager records the FailedMount events and the pod stays ContainerCreating);
- stop: the container's preStop hook (exec through CRI ExecSync, httpGet to the pod IP, or
  sleep), bounded by the grace period, then CRI StopContainer with the grace left (at least
  2 s, as the kubelet's minimum); both run in a task this object owns (`close()` awaits them);
- cleanup: the pod's folder once the pod is gone (the volume manager's teardown, when given).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from pocketkube.kubelet import poddns
from pocketkube.kubelet.configurer import PodNotReady, pod_annotations
from pocketkube.kubelet.podinputs.env import Getter, resolve_env
from pocketkube.kubelet.podinputs.errors import VolumeSetupError
from pocketkube.kubelet.podinputs.expansion import expand_command_and_args
from pocketkube.kubelet.runtime import cri_podconfig
from pocketkube.kubelet.runtime.cri import CRIRuntime
from pocketkube.kubelet.runtime.cri_types import Mount
from pocketkube.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerStatus,
    PodSandboxConfig,
    Runtime,
    RuntimeFailure,
)

log = logging.getLogger("pocketkube.kubelet.pods")
Obj = dict[str, Any]
MIN_GRACE = 2.0
DEFAULT_TERMINATION_PATH = "/dev/termination-log"
HookEvent = Callable[[Obj, str, str, str], None]  # (pod, container name, reason, message)


class VolumeMounts(Protocol):
    """The volume manager's side the configurer needs (podinputs.volumes.VolumeManager)."""

    async def setup(self, pod: Obj) -> None:
        """Raises VolumeSetupError."""
        ...

    async def mounts(self, pod: Obj, container: Obj, envs: list[tuple[str, str]] | None = None) -> list[Mount]: ...

    async def teardown(self, pod_uid: str) -> None: ...


class NodeFacts(Protocol):
    def node_ip(self) -> str: ...

    def allocatable(self) -> Mapping[str, Any]: ...

    def memory_capacity(self) -> int: ...


async def _absent(namespace: str, name: str) -> Obj | None:
    return None


class CRIConfigurer:
    def __init__(self, runtime: CRIRuntime, node: NodeFacts, *, pods_dir: Path, resolv: poddns.ResolvConf,
                 node_hosts: str = "", get_configmap: Getter = _absent, get_secret: Getter = _absent,
                 services: Callable[[], Iterable[Obj] | None] = lambda: None,
                 volumes: VolumeMounts | None = None, on_hook_failure: HookEvent | None = None) -> None:
        self.runtime = runtime
        self.node = node
        self.pods_dir = pods_dir
        self.resolv = resolv
        self.node_hosts = node_hosts
        self.get_configmap = get_configmap
        self.get_secret = get_secret
        self.services = services
        self.volumes = volumes
        self.on_hook_failure = on_hook_failure
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ sandbox
    async def prepare(self, pod: Obj) -> None:
        if self.volumes is None:
            return
        try:
            await self.volumes.setup(pod)
        except VolumeSetupError as e:
            raise PodNotReady(str(e)) from None

    def sandbox(self, pod: Obj) -> PodSandboxConfig:
        m = pod.get("metadata") or {}
        spec = cri_podconfig.sandbox_spec(pod, log_root=self.runtime.log_root, cgroup_root=self.runtime.cgroup_root,
                                          dns=poddns.dns_config(pod, self.resolv))
        return PodSandboxConfig(uid=str(m.get("uid") or ""), name=str(m.get("name") or ""),
                                namespace=str(m.get("namespace") or ""), annotations=pod_annotations(pod), spec=spec)

    # ------------------------------------------------------------------ containers
    async def container(self, pod: Obj, container: Obj, *, attempt: int, init: bool,
                        sidecar: bool) -> ContainerConfig:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        sandbox = (await self.runtime.pod_status(uid)).sandbox
        pod_ips = [sandbox.ip] if sandbox is not None and sandbox.ip else []
        if (pod.get("spec") or {}).get("hostNetwork"):
            pod_ips = [self.node.node_ip()]
        envs = await resolve_env(pod, container, node_allocatable=self.node.allocatable(),
                                 get_configmap=self.get_configmap, get_secret=self.get_secret, pod_ips=pod_ips,
                                 host_ips=[self.node.node_ip()], services=self.services())
        command, args = expand_command_and_args(container, envs)
        await self.prepare(pod)
        mounts = await self._mounts(pod, container, pod_ips, envs)
        spec = cri_podconfig.container_spec(pod, {**container, "command": command, "args": args},
                                            restart_count=attempt, envs=tuple(envs), mounts=tuple(mounts),
                                            memory_capacity=self.node.memory_capacity(), init=init, sidecar=sidecar)
        return ContainerConfig(name=spec.name, image=spec.image, attempt=attempt, init=init, sidecar=sidecar,
                               annotations=pod_annotations(pod), spec=spec)

    def pod_dir(self, uid: str) -> Path:
        return self.pods_dir / uid

    async def _mounts(self, pod: Obj, container: Obj, pod_ips: list[str], envs: list[tuple[str, str]]) -> list[Mount]:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        mounts = list(await self.volumes.mounts(pod, container, envs)) if self.volumes is not None else []
        if pod_ips and not poddns.mounts_etc_hosts(container):
            hosts = self.pod_dir(uid) / "etc-hosts"
            text = poddns.hosts_file(pod, pod_ips, node_hosts=self.node_hosts)
            await asyncio.to_thread(_write, hosts, text)
            mounts.append(Mount("/etc/hosts", str(hosts)))
        path = str(container.get("terminationMessagePath") or DEFAULT_TERMINATION_PATH)
        if not any(m.container_path == path for m in mounts):
            log_file = self.pod_dir(uid) / "containers" / str(container.get("name") or "") / uuid.uuid4().hex[:8]
            await asyncio.to_thread(_write, log_file, "", 0o666)
            mounts.append(Mount(path, str(log_file)))
        return mounts

    # ------------------------------------------------------------------ stop
    async def stop(self, runtime: Runtime, pod: Obj, container: ContainerStatus, grace: float) -> None:
        spec: Obj = next((c for key in ("initContainers", "containers") for c in (pod.get("spec") or {}).get(key) or []
                     if c.get("name") == container.name), {})
        hook = ((spec.get("lifecycle") or {}).get("preStop")) or None
        if hook is None:
            await runtime.stop_container(container.id, grace)
            return
        task = asyncio.get_running_loop().create_task(self._stop_after_hook(runtime, pod, container, hook, grace))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stop_after_hook(self, runtime: Runtime, pod: Obj, container: ContainerStatus, hook: Obj,
                               grace: float) -> None:
        begin = time.monotonic()
        try:
            await asyncio.wait_for(self._run_hook(pod, container, hook), timeout=max(grace, 0.001))
        except Exception as e:
            message = hook_failure_message(pod, container.name, hook, e)
            log.warning("%s", message)
            if self.on_hook_failure is not None:
                self.on_hook_failure(pod, container.name, "FailedPreStopHook", message)
        left = max(MIN_GRACE, grace - (time.monotonic() - begin))
        try:
            await runtime.stop_container(container.id, left)
        except RuntimeFailure as e:
            log.warning("stopping container %s: %s", container.id, e)

    async def _run_hook(self, pod: Obj, container: ContainerStatus, hook: Obj) -> None:
        if "exec" in hook:
            command = [str(c) for c in (hook["exec"] or {}).get("command") or []]
            result = await self.runtime.client.exec_sync(container.id, command)
            if result.exit_code != 0:
                output = (result.stdout + result.stderr).decode(errors="replace")
                raise HookFailed(f"command '{' '.join(command)}' exited with {result.exit_code}: {output}", output)
        elif "httpGet" in hook:
            await asyncio.to_thread(_http_get, self._hook_url(pod, hook["httpGet"] or {}))
        elif "sleep" in hook:
            await asyncio.sleep(float((hook["sleep"] or {}).get("seconds") or 0))

    def _hook_url(self, pod: Obj, get: Obj) -> str:
        status = pod.get("status") or {}
        host = get.get("host") or status.get("podIP") or self.node.node_ip()
        port = get.get("port")
        if isinstance(port, str) and not port.isdigit():  # a named container port
            port = next((p.get("containerPort") for c in (pod.get("spec") or {}).get("containers") or []
                         for p in c.get("ports") or [] if p.get("name") == port), port)
        path = "/" + str(get.get("path") or "").lstrip("/")
        return f"{str(get.get('scheme') or 'HTTP').lower()}://{host}:{port}{path}"

    # ------------------------------------------------------------------ cleanup
    async def cleanup(self, uid: str) -> None:
        if self.volumes is not None:
            await self.volumes.teardown(uid)
        await asyncio.to_thread(shutil.rmtree, self.pod_dir(uid), True)

    async def close(self) -> None:
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class HookFailed(Exception):
    def __init__(self, error: str, output: str = "") -> None:
        super().__init__(error)
        self.output = output


def hook_failure_message(pod: Obj, container: str, hook: Obj, error: Exception) -> str:
    """The FailedPreStopHook event text, as the kubelet's lifecycle handler words it."""
    m = pod.get("metadata") or {}
    where = f'for Container "{container}" in Pod "{m.get("name")}_{m.get("namespace")}({m.get("uid")})"'
    text = str(error) or type(error).__name__
    if "exec" in hook:
        command = "[" + " ".join(str(c) for c in (hook["exec"] or {}).get("command") or []) + "]"
        output = error.output if isinstance(error, HookFailed) else ""
        return f'Exec lifecycle hook ({command}) {where} failed - error: {text}, message: "{output}"'
    if "httpGet" in hook:
        return f"HTTP lifecycle hook ({(hook['httpGet'] or {}).get('path') or '/'}) {where} failed - error: {text}"
    return f"Sleep lifecycle hook {where} failed - error: {text}"


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


def _http_get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=10) as r:
        r.read()

