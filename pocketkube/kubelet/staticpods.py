"""Posting and serving the control plane's mirror pods (see mirrorpods.py for what they are).

Theory of operation: the agent hosting the profile's first node runs `StaticPods` once that node
is registered. Every `PERIOD` seconds (and when one of its mirror pods is deleted) `reconcile()`
looks at each control-plane process through the supervisor's pid files (run/<part>.pid; start
time from /proc/<pid>/stat, command line from /proc/<pid>/cmdline) and at the mirror pod in the
informer: a missing pod, or one whose spec hash or Node owner is stale, is (deleted and)
created, as the kubelet's mirror client does; then the pod's status (mirrorpods.mirror_status) is
handed to the StatusWriter, which patches only what changed. A pid that changes counts as a
restart of the container.

It is also the streaming backend of those pods: `kubectl logs kube-apiserver-NODE -n kube-system`
reads the component's own log (logs/<part>.log) as a plain text log, `-f` follows it while the
process runs; exec, attach and port-forward are refused (the "container" is a process of the
supervisor, not a container).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pocketkube.client.informer import Handlers, Informer
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient
from pocketkube.kubelet import mirrorpods
from pocketkube.kubelet.clock import Clock
from pocketkube.kubelet.mirrorpods import COMPONENTS, NAMESPACE, Component, ProcessFacts
from pocketkube.kubelet.statuswriter import StatusWriter
from pocketkube.kubelet.streaming_backend import (
    ExecSession,
    LogTarget,
    PortConnection,
    StreamingError,
    StreamOptions,
    container_not_found,
)

log = logging.getLogger("pocketkube.kubelet.staticpods")
PODS = ResourceRef("", "v1", "pods")
PERIOD = 5.0
Obj = dict[str, Any]


def _boot_time() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


def read_process(pid_file: Path) -> ProcessFacts | None:
    """The process named by a pid file, if it runs (not a zombie)."""
    try:
        pid = int(pid_file.read_text().strip())
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except (OSError, ValueError, IndexError):
        return None
    if stat[0] in ("Z", "X"):
        return None
    started = _boot_time() + int(stat[19]) / os.sysconf("SC_CLK_TCK")
    return ProcessFacts(pid=pid, started_at=started, command=tuple(a for a in cmdline if a))


class StaticPods:
    def __init__(self, client: RESTClient, pods: Informer, writer: StatusWriter, clock: Clock, *, node: str,
                 node_uid: Callable[[], str], node_ip: Callable[[], str], profile_dir: Path,
                 components: tuple[Component, ...] = COMPONENTS) -> None:
        self.client = client
        self.pods = pods
        self.writer = writer
        self.clock = clock
        self.node = node
        self.node_uid = node_uid
        self.node_ip = node_ip
        self.run_dir = profile_dir / "run"
        self.logs_dir = profile_dir / "logs"
        self.components = components
        self.pids: dict[str, int] = {}
        self.restarts: dict[str, int] = {}
        self.wake = asyncio.Event()
        pods.add_handlers(Handlers(on_delete=self._on_delete))

    def _on_delete(self, pod: Obj) -> None:
        if self.component_of(str(pod["metadata"].get("namespace")), str(pod["metadata"].get("name"))):
            self.wake.set()

    def component_of(self, namespace: str, name: str) -> Component | None:
        if namespace != NAMESPACE:
            return None
        return next((c for c in self.components if c.pod_name(self.node) == name), None)

    def facts(self, component: Component) -> ProcessFacts | None:
        return read_process(self.run_dir / f"{component.part}.pid")

    async def run(self) -> None:
        while True:
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("mirror pods: %s: %s", type(e).__name__, e)
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), PERIOD)

    async def reconcile(self) -> None:
        uid = self.node_uid()
        if not uid:
            return
        for component in self.components:
            facts = await asyncio.to_thread(self.facts, component)
            await self._sync(component, facts, uid)

    async def _sync(self, component: Component, facts: ProcessFacts | None, node_uid: str) -> None:
        name = component.pod_name(self.node)
        key = f"{NAMESPACE}/{name}"
        pod = self.pods.get(key)
        seen = self.pids.get(component.name)
        command = facts.command if facts is not None else (pod or {}).get("spec", {}).get(
            "containers", [{}])[0].get("command") or ()
        if facts is not None and seen is not None and facts.pid != seen:
            self.restarts[component.name] = self.restarts.get(component.name, 0) + 1
        if facts is not None:
            self.pids[component.name] = facts.pid
        if pod is None or not mirrorpods.is_current(pod, component, self.node, node_uid, command):
            if facts is None:
                return  # nothing to describe yet
            pod = await self._recreate(pod, component, node_uid, command)
            if pod is None:
                return
        if component.name not in self.restarts:
            statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
            self.restarts[component.name] = int(statuses[0].get("restartCount") or 0)
            if facts is not None and statuses[0].get("containerID") not in (None, f"process://{facts.pid}"):
                self.restarts[component.name] += 1
        status = mirrorpods.mirror_status(pod, component, facts, node_ip=self.node_ip(),
                                          restarts=self.restarts[component.name], now=self.clock.now())
        self.writer.submit(key, str(pod["metadata"].get("uid") or ""), status)

    async def _recreate(self, old: Obj | None, component: Component, node_uid: str,
                        command: Any) -> Obj | None:
        name = component.pod_name(self.node)
        if old is not None:
            with contextlib.suppress(ApiError):
                await self.client.delete(PODS, name, NAMESPACE, {"gracePeriodSeconds": 0, "preconditions": {
                    "uid": old["metadata"].get("uid")}})
        body = mirrorpods.mirror_pod(component, self.node, node_uid, list(command), self.clock.now())
        try:
            return dict(await self.client.create(PODS, body, NAMESPACE))
        except ApiError as e:
            if e.code != 409:
                raise
            return None  # the old one is still going away: next round

    # ------------------------------------------------------------------ streaming backend
    def _component(self, namespace: str, pod: str) -> Component:
        component = self.component_of(namespace, pod)
        if component is None:
            raise StreamingError(f'pod "{namespace}/{pod}" does not exist on this node', 404)
        return component

    async def pod_status(self, namespace: str, pod: str) -> Obj | None:
        if self.component_of(namespace, pod) is None:
            return None
        obj = self.pods.get(f"{namespace}/{pod}")
        return (obj or {}).get("status") or None

    async def log_path(self, namespace: str, pod: str, container: str, previous: bool) -> LogTarget:
        component = self._component(namespace, pod)
        if container != component.name:
            raise container_not_found(container)

        async def running() -> bool:
            return await asyncio.to_thread(self.facts, component) is not None
        return LogTarget(self.logs_dir / f"{component.part}.log", running, plain=True)

    def _refuse(self, namespace: str, pod: str, what: str) -> StreamingError:
        component = self._component(namespace, pod)
        return StreamingError(f"{what} is not supported for {component.name}: it runs as a process of the "
                              "pocketkube supervisor, not in a container", 400)

    async def exec(self, namespace: str, pod: str, container: str, command: list[str],
                   opts: StreamOptions) -> ExecSession:
        raise self._refuse(namespace, pod, "exec")

    async def attach(self, namespace: str, pod: str, container: str, opts: StreamOptions) -> ExecSession:
        raise self._refuse(namespace, pod, "attach")

    async def port_forward(self, namespace: str, pod: str, port: int) -> PortConnection:
        raise self._refuse(namespace, pod, "port-forward")
