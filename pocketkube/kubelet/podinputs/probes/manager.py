"""The probe manager: every probe worker of the node, scheduled on one clock.

Theory of operation (pkg/kubelet/prober/prober_manager.go): the pod workers tell the manager about
container instances - `add(pod, name, container_id, started_at, pod_ip=)` when one started,
`container_stopped` when it exited, `update_pod` with the latest pod object (a deletionTimestamp
makes liveness/startup publish success and stop), `remove`/`remove_pod` when they are gone.
Workers (worker.Worker, pure) exist per (pod uid, container, kind) for each probe the container
spec has (regular containers and restartable init containers); a worker's period grid starts
when its container first starts, so its first tick is one period later (upstream's workers start
at pod admission and find no container at their immediate first tick). Readiness is also probed
on demand, as upstream's status manager triggers it while a started container is not ready: one
`trigger_delay` (1 s, the PLEG relist period) after a container starts and right after its
startup probe succeeds; `trigger()` lets the caller do the same.
`tick()` starts the probes that are due (each in a task owned by the manager; probes of different
workers run concurrently, one worker never overlaps itself) and returns when the next one is due;
`run()` is that in a loop. Results go through the Prober (prober.py: retries, events) into the
worker's threshold counting; every *change* of a published result calls
`on_result(ProbeUpdate)`: a liveness or startup FAILURE of a container id that is still running
means "restart this container" (spec.kill_message has the Killing text; a stopped container's
results also turn to failure, as upstream's, which asks for nothing), readiness feeds the Ready
condition, startup SUCCESS means started. `started()` / `ready()` / `result()` answer from the same state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pocketkube.kubelet.clock import Clock
from pocketkube.kubelet.duequeue import DueQueue
from pocketkube.kubelet.podinputs.probes.spec import ProbeKind, ProbeTiming, Result
from pocketkube.kubelet.podinputs.probes.worker import Worker

log = logging.getLogger("pocketkube.kubelet.probes")
Obj = dict[str, Any]
TRIGGER_DELAY = 1.0


@dataclass(frozen=True, slots=True)
class ProbeUpdate:
    pod_uid: str
    container: str
    container_id: str
    kind: ProbeKind
    result: Result


class ProbeRunner(Protocol):
    async def probe(self, kind: ProbeKind, pod: Obj, container: Obj, container_id: str,
                    pod_ip: str) -> tuple[Result, bool]: ...


@dataclass
class _Pod:
    pod: Obj
    pod_ip: str


def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid") or "")


def probed_container(pod: Obj, name: str) -> Obj | None:
    """The spec of a container that can have probes (regular, or a restartable init container)."""
    spec = pod.get("spec") or {}
    for c in spec.get("containers") or []:
        if c.get("name") == name:
            return dict(c)
    for c in spec.get("initContainers") or []:
        if c.get("name") == name and c.get("restartPolicy") == "Always":
            return dict(c)
    return None


class ProbeManager:
    def __init__(self, runner: ProbeRunner, clock: Clock, on_result: Callable[[ProbeUpdate], None], *,
                 trigger_delay: float = TRIGGER_DELAY) -> None:
        self.runner = runner
        self.clock = clock
        self.on_result = on_result
        self.trigger_delay = trigger_delay
        self.workers: dict[tuple[str, str, ProbeKind], Worker] = {}
        self.pods: dict[str, _Pod] = {}
        self.queue = DueQueue()
        self._keys: dict[str, tuple[str, str, ProbeKind]] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self.wake = asyncio.Event()

    # ------------------------------------------------------------------ what the pod workers tell us
    def add(self, pod: Obj, container: str, container_id: str, started_at: float, *, pod_ip: str = "") -> None:
        """A container instance started running (a new one after a restart too)."""
        uid = _uid(pod)
        self.update_pod(pod, pod_ip)
        spec = probed_container(pod, container)
        if spec is None:
            return
        now = self.clock.now()
        for kind in ProbeKind:
            probe = spec.get(kind.field)
            if probe is None:
                continue
            key = (uid, container, kind)
            worker = self.workers.get(key)
            if worker is None:
                worker = self.workers[key] = Worker(kind, ProbeTiming.of(probe), created_at=now)
                worker.next_tick = worker.tick_after(now)
                self._schedule(key, worker.next_tick)
            self._publish(key, worker, worker.new_container(container_id, started_at))
            if kind is ProbeKind.READINESS:
                self._schedule(key, now + self.trigger_delay)

    def container_stopped(self, pod_uid: str, container: str) -> None:
        for key, worker in self._workers_of(pod_uid, container):
            self._publish(key, worker, worker.container_stopped())

    def update_pod(self, pod: Obj, pod_ip: str | None = None) -> None:
        """The latest pod object (and IP, when known); a deletionTimestamp quiets liveness/startup."""
        uid = _uid(pod)
        known = self.pods.get(uid)
        ip = pod_ip or (known.pod_ip if known else "") or str((pod.get("status") or {}).get("podIP") or "")
        self.pods[uid] = _Pod(pod, ip)
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            for key, worker in self._workers_of(uid):
                self._publish(key, worker, worker.pod_deleting())

    def trigger(self, pod_uid: str, container: str, kind: ProbeKind = ProbeKind.READINESS) -> None:
        """Probe now (upstream's manual trigger of a not-ready container's readiness probe)."""
        key = (pod_uid, container, kind)
        if key in self.workers:
            self._schedule(key, self.clock.now())

    def remove(self, pod_uid: str, container: str) -> None:
        for key, _ in self._workers_of(pod_uid, container):
            self._drop(key)

    def remove_pod(self, pod_uid: str) -> None:
        for key, _ in self._workers_of(pod_uid):
            self._drop(key)
        self.pods.pop(pod_uid, None)

    # ------------------------------------------------------------------ queries
    def result(self, pod_uid: str, container: str, kind: ProbeKind) -> Result | None:
        worker = self.workers.get((pod_uid, container, kind))
        return None if worker is None else worker.result

    def started(self, pod_uid: str, container: str) -> bool:
        """Whether a running container counts as started (no startup probe, or it succeeded)."""
        worker = self.workers.get((pod_uid, container, ProbeKind.STARTUP))
        return worker is None or worker.result is Result.SUCCESS

    def ready(self, pod_uid: str, container: str) -> bool | None:
        """The readiness probe's verdict for a started container; None when it has no readiness probe."""
        worker = self.workers.get((pod_uid, container, ProbeKind.READINESS))
        if worker is None:
            return None
        return self.started(pod_uid, container) and worker.result is Result.SUCCESS

    # ------------------------------------------------------------------ scheduling
    @staticmethod
    def _name(key: tuple[str, str, ProbeKind]) -> str:
        return f"{key[0]}/{key[1]}/{key[2].value}"

    def _schedule(self, key: tuple[str, str, ProbeKind], at: float) -> None:
        name = self._name(key)
        self._keys[name] = key
        if name not in self._inflight:
            self.queue.schedule(name, at)
            self.wake.set()

    def _workers_of(self, pod_uid: str, container: str | None = None) -> list[tuple[tuple[str, str, ProbeKind],
                                                                                    Worker]]:
        return [(k, w) for k, w in self.workers.items() if k[0] == pod_uid and container in (None, k[1])]

    def _drop(self, key: tuple[str, str, ProbeKind]) -> None:
        name = self._name(key)
        self.workers.pop(key, None)
        self.queue.discard(name)
        self._keys.pop(name, None)
        task = self._inflight.pop(name, None)
        if task is not None:
            task.cancel()

    def _publish(self, key: tuple[str, str, ProbeKind], worker: Worker, result: Result | None) -> None:
        if result is None:
            return
        self.on_result(ProbeUpdate(key[0], key[1], worker.container_id, key[2], result))
        if key[2] is ProbeKind.STARTUP and result is Result.SUCCESS:
            self.trigger(key[0], key[1], ProbeKind.READINESS)

    def tick(self) -> float | None:
        """Start every probe that is due; returns when the next one is due (None: nothing planned)."""
        now = self.clock.now()
        for name in self.queue.pop_due(now):
            key = self._keys.get(name)
            worker = self.workers.get(key) if key else None
            if key is None or worker is None or worker.done:
                continue
            worker.next_tick = worker.tick_after(now)
            pod = self.pods.get(key[0])
            spec = probed_container(pod.pod, key[1]) if pod else None
            if pod is None or spec is None or not worker.should_probe(now, self.started(key[0], key[1])):
                self._schedule(key, worker.next_tick)
                continue
            task = asyncio.get_running_loop().create_task(self._probe(key, worker, pod, spec), name=f"probe-{name}")
            self._inflight[name] = task
        return self.queue.next_due()

    async def _probe(self, key: tuple[str, str, ProbeKind], worker: Worker, pod: _Pod, spec: Obj) -> None:
        name, container_id = self._name(key), worker.container_id
        try:
            result, errored = await self.runner.probe(key[2], pod.pod, spec, container_id, pod.pod_ip)
        except Exception:
            log.exception("probe %s failed", name)
            result, errored = Result.FAILURE, True
        finally:
            self._inflight.pop(name, None)
        if self.workers.get(key) is not worker or worker.container_id != container_id:
            return
        if not errored:
            self._publish(key, worker, worker.record(result))
        now = self.clock.now()
        self._schedule(key, now if worker.next_tick <= now else worker.next_tick)

    async def wait_idle(self) -> None:
        """Wait until no probe is running (tests; shutdown)."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)

    async def run(self) -> None:
        try:
            while True:
                next_at = self.tick()
                self.wake.clear()
                timeout = None if next_at is None else max(0.0, next_at - self.clock.now())
                if timeout is None or timeout > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), timeout)
        finally:
            await self.close()

    async def close(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._inflight.clear()
