"""How a pod becomes runtime requests: the per-node `PodConfigurer` seam of the pod workers.

Theory of operation: the lifecycle table decides *that* a sandbox or container is started; the
node's configurer decides *what* is asked of the runtime, the role kuberuntime's
generatePodSandboxConfig / generateContainerConfig play upstream. `SeamConfigurer` is what a
simulated node needs: the seam's small configs (name, image, attempt, annotations). The real
node's configurer (kubelet/criconfigurer.py) attaches the full CRI specs: hostname, DNS,
/etc/hosts, ports, cgroup parent by QoS, resolved env, volume mounts, resources. A container
whose configuration cannot be built (a missing configMap key, a volume not ready) raises
`ContainerConfigError`: the worker shows CreateContainerConfigError with its message and retries
later. `prepare(pod)` readies what the pod needs before its sandbox (its volumes); it raises
`PodNotReady` while that is not possible (the pod stays ContainerCreating and is retried). The
configurer is also where preStop hooks run before a container is stopped.
"""

from __future__ import annotations

from typing import Any, Protocol

from pocketkube.kubelet.podinputs.errors import ContainerConfigError
from pocketkube.kubelet.runtime.interface import ContainerConfig, ContainerStatus, PodSandboxConfig, Runtime

Obj = dict[str, Any]
__all__ = ["SEAM", "ContainerConfigError", "PodConfigurer", "PodNotReady", "SeamConfigurer", "pod_annotations"]


class PodNotReady(Exception):
    """What the pod needs cannot be made ready yet (e.g. a volume's configMap is missing): retry later."""


class PodConfigurer(Protocol):
    async def prepare(self, pod: Obj) -> None:
        """Ready the pod's prerequisites (volumes); raises PodNotReady. Cheap when already done."""
        ...

    def sandbox(self, pod: Obj) -> PodSandboxConfig: ...

    async def container(self, pod: Obj, container: Obj, *, attempt: int, init: bool,
                        sidecar: bool) -> ContainerConfig:
        """Raises ContainerConfigError when the container cannot be configured now."""
        ...

    async def stop(self, runtime: Runtime, pod: Obj, container: ContainerStatus, grace: float) -> None:
        """Ask the container to stop within `grace` seconds (preStop hook first, if any); returns at once."""
        ...

    async def cleanup(self, uid: str) -> None:
        """The pod is gone (its containers and sandbox removed): remove what the configurer made for it."""
        ...


def pod_annotations(pod: Obj) -> dict[str, str]:
    return dict((pod.get("metadata") or {}).get("annotations") or {})


class SeamConfigurer:
    """The seam's configs only (simulated nodes)."""

    async def prepare(self, pod: Obj) -> None:
        return None

    def sandbox(self, pod: Obj) -> PodSandboxConfig:
        m = pod.get("metadata") or {}
        return PodSandboxConfig(uid=str(m.get("uid") or ""), name=str(m.get("name") or ""),
                                namespace=str(m.get("namespace") or ""), annotations=pod_annotations(pod))

    async def container(self, pod: Obj, container: Obj, *, attempt: int, init: bool,
                        sidecar: bool) -> ContainerConfig:
        return ContainerConfig(name=str(container.get("name") or ""), image=str(container.get("image") or ""),
                               attempt=attempt, init=init, sidecar=sidecar, annotations=pod_annotations(pod))

    async def stop(self, runtime: Runtime, pod: Obj, container: ContainerStatus, grace: float) -> None:
        await runtime.stop_container(container.id, grace)

    async def cleanup(self, uid: str) -> None:
        return None


SEAM = SeamConfigurer()
