"""Where a real node's pods are in containerd: the `PodLocator` of the CRI streaming backend.

Theory of operation: the streaming server asks for a pod by namespace and name; the agent's pod
informer gives its uid and node, and CRI's label filters (io.kubernetes.pod.uid,
io.kubernetes.container.name) give its sandboxes and containers, as the kubelet's
GetPodStatus does. The pod's status is the one the pod workers computed last (`statuses(key)`),
else the API's. Logs, as the kubelet picks them from that status: the container's current
instance (state.running/terminated containerID, or lastState's while it waits to restart) or,
with `previous`, lastState.terminated's; its CRI log path is in ContainerStatus; `running()`
asks CRI whether that instance still runs. Exec and attach need the current instance running
(upstream's "container not found" otherwise); port-forward needs the ready sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pocketkube.client.informer import Informer
from pocketkube.kubelet.runtime.cri import CRIRuntime
from pocketkube.kubelet.runtime.cri_types import (
    LABEL_CONTAINER_NAME,
    LABEL_POD_UID,
    CRIContainer,
    CRIContainerState,
    NotFound,
)
from pocketkube.kubelet.streaming_backend import LogTarget, StreamingError, container_not_found, pod_not_found

Obj = dict[str, Any]


class CRIPodLocator:
    def __init__(self, runtime: CRIRuntime, pods: Informer, node: str,
                 statuses: Callable[[str], Obj | None] = lambda key: None) -> None:
        self.runtime = runtime
        self.pods = pods
        self.node = node
        self.statuses = statuses

    def _pod(self, namespace: str, name: str) -> Obj:
        pod = self.pods.get(f"{namespace}/{name}")
        if pod is None or (pod.get("spec") or {}).get("nodeName") != self.node:
            raise pod_not_found(namespace, name)
        return pod

    async def pod_status(self, namespace: str, pod: str) -> Obj | None:
        obj = self.pods.get(f"{namespace}/{pod}")
        if obj is None or (obj.get("spec") or {}).get("nodeName") != self.node:
            return None
        return self.statuses(f"{namespace}/{pod}") or obj.get("status") or {}

    async def _instances(self, namespace: str, pod: str, container: str) -> list[CRIContainer]:
        uid = str(self._pod(namespace, pod)["metadata"].get("uid") or "")
        found = await self.runtime.client.list_containers(labels={LABEL_POD_UID: uid,
                                                                  LABEL_CONTAINER_NAME: container})
        return sorted(found, key=lambda c: (c.attempt, c.created_at))

    async def log_target(self, namespace: str, pod: str, container: str, previous: bool) -> LogTarget:
        cid = log_container_id(await self.pod_status(namespace, pod) or {}, container, previous)
        if not cid:
            raise container_not_found(container)
        try:
            path = (await self.runtime.client.container_status(cid)).log_path
        except NotFound:
            raise container_not_found(container) from None
        client = self.runtime.client

        async def running() -> bool:
            try:
                return (await client.container_status(cid)).state == CRIContainerState.RUNNING
            except NotFound:
                return False
        return LogTarget(Path(path), running)

    async def container_id(self, namespace: str, pod: str, container: str) -> str:
        instances = await self._instances(namespace, pod, container)
        if not instances or instances[-1].state != CRIContainerState.RUNNING:
            raise StreamingError(f'container not found ("{container}")', 404)
        return instances[-1].id

    async def sandbox_id(self, namespace: str, pod: str) -> str:
        uid = str(self._pod(namespace, pod)["metadata"].get("uid") or "")
        ready = await self.runtime.client.list_pod_sandboxes(labels={LABEL_POD_UID: uid}, ready=True)
        if not ready:
            raise StreamingError(f'pod "{namespace}/{pod}" has no running sandbox', 500)
        return ready[-1].id


def log_container_id(status: Obj, container: str, previous: bool) -> str:
    """The CRI id of the instance whose log `kubectl logs [--previous]` shows (kubelet's choice)."""
    cs = next((c for key in ("containerStatuses", "initContainerStatuses") for c in status.get(key) or []
               if c.get("name") == container), None)
    if cs is None:
        return ""
    state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated") or {}
    if previous:
        full = last.get("containerID") or ""
    elif "running" in state or "terminated" in state:
        full = cs.get("containerID") or (state.get("terminated") or {}).get("containerID") or ""
    else:
        full = last.get("containerID") or ""
    return str(full).partition("://")[2]
