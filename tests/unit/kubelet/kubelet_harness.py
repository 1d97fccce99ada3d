"""A harness that drives the pod workers without an API: fake informer, writer, events and node view."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pocketkube.apiserver.printers.pods import POD
from pocketkube.client.informer import key_of
from pocketkube.kubelet import simulate
from pocketkube.kubelet.clock import ManualClock
from pocketkube.kubelet.lifecycle import Wait
from pocketkube.kubelet.podworkers import PodWorkers
from pocketkube.kubelet.runtime.simulated import SimulatedRuntime
from pocketkube.kubelet.timefmt import rfc3339

Obj = dict[str, Any]
NODE = "sim-1"


def make_pod(name: str = "web", *, annotations: Mapping[str, str] | None = None, restart: str = "Always",
             init: list[Obj] | None = None, containers: list[Obj] | None = None, uid: str = "") -> Obj:
    spec: Obj = {"nodeName": NODE, "restartPolicy": restart, "terminationGracePeriodSeconds": 30,
                 "containers": containers or [{"name": name, "image": "nginx:1.27",
                                               "imagePullPolicy": "IfNotPresent"}]}
    if init:
        spec["initContainers"] = init
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": uid or f"uid-{name}",
                         "creationTimestamp": "2023-11-14T22:13:20Z", "annotations": dict(annotations or {})},
            "spec": spec, "status": {"phase": "Pending", "qosClass": "BestEffort"}}


class FakePods:
    def __init__(self) -> None:
        self.cache: dict[str, Obj] = {}
        self.handlers: list[Any] = []

    def add_indexers(self, indexers: Any) -> None:
        pass

    def add_handlers(self, handlers: Any) -> None:
        self.handlers.append(handlers)

    def index_keys(self, name: str, value: str) -> list[str]:
        return [k for k, o in self.cache.items() if o["spec"].get("nodeName") == value]

    def get(self, key: str) -> Obj | None:
        return self.cache.get(key)

    def put(self, pod: Obj) -> None:
        key = key_of(pod)
        old = self.cache.get(key)
        self.cache[key] = pod
        for h in self.handlers:
            if old is None:
                h.on_add(pod)
            else:
                h.on_update(old, pod)

    def remove(self, key: str) -> None:
        pod = self.cache.pop(key)
        for h in self.handlers:
            h.on_delete(pod)


class FakeWriter:
    """Applies statuses to the fake cache at once; a confirmed delete removes the pod."""

    def __init__(self, pods: FakePods) -> None:
        self.pods = pods
        self.writes: list[tuple[str, Obj]] = []
        self.deletes: list[tuple[str, str]] = []

    def submit(self, key: str, uid: str, status: Obj) -> None:
        self.writes.append((key, status))
        pod = self.pods.cache.get(key)
        if pod is not None and pod["metadata"]["uid"] == uid:
            self.pods.cache[key] = {**pod, "status": status}

    def confirm_delete(self, key: str, uid: str) -> None:
        self.deletes.append((key, uid))

    def forget(self, key: str) -> None:
        pass

    def busy(self, key: str) -> bool:
        return False


class FakeEvents:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, str, str, str]] = []

    def emit(self, node: str, obj: Obj, type_: str, reason: str, message: str, field_path: str = "") -> None:
        self.recorded.append((type_, reason, message, field_path))

    def reasons(self) -> list[str]:
        return [r for _, r, _, _ in self.recorded]


class FakeNodes:
    def __init__(self, runtime: SimulatedRuntime) -> None:
        self.runtime = runtime
        self.serving = True
        self.alloc = {"cpu": "4", "memory": "8Gi", "pods": "110"}

    def runtime_for(self, node: str) -> SimulatedRuntime | None:
        return self.runtime if node == NODE and self.serving else None

    def host_ip(self, node: str) -> str:
        return "10.89.0.2"

    def allocatable(self, node: str) -> dict[str, str]:
        return self.alloc


class Harness:
    def __init__(self, timing: simulate.Timing = simulate.Timing()) -> None:
        self.clock = ManualClock()
        self.runtime = SimulatedRuntime("10.244.0.0/24", self.clock.now, timing)
        self.pods = FakePods()
        self.writer = FakeWriter(self.pods)
        self.events = FakeEvents()
        self.nodes = FakeNodes(self.runtime)
        self.workers = PodWorkers(clock=self.clock, nodes=self.nodes, pods=self.pods,  # type: ignore[arg-type]
                                  writer=self.writer, events=self.events, delays=self._delays)  # type: ignore[arg-type]
        self.timing = timing

    def _delays(self, pod: Obj) -> Mapping[Wait, float]:
        b = simulate.behaviour(pod["metadata"].get("annotations"), self.timing)
        return {Wait.SANDBOX: b.sandbox_delay, Wait.START: b.start_delay}

    async def run(self, seconds: float = 0.0, step: float = 0.05) -> None:
        """Advance the clock by `seconds` in small steps, syncing whatever is due."""
        await self.workers.run_due()
        end = self.clock.now() + seconds
        while self.clock.now() < end - 1e-9:
            self.clock.advance(min(step, end - self.clock.now()))
            await self.workers.run_due()

    def pod(self, name: str = "web") -> Obj:
        return self.pods.cache[f"default/{name}"]

    def row(self, name: str = "web") -> tuple[str, str, str]:
        """kubectl's READY, STATUS, RESTARTS for the pod as the API now has it."""
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        cells = POD.row(self.pod(name), now)
        return str(cells[1]), str(cells[2]), str(cells[3])

    def delete(self, name: str = "web", grace: int = 30) -> None:
        pod = self.pod(name)
        meta = {**pod["metadata"], "deletionTimestamp": rfc3339(self.clock.now() + grace),
                "deletionGracePeriodSeconds": grace}
        self.pods.put({**pod, "metadata": meta})
