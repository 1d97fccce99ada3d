"""One probe of one container: upstream's prober worker as a pure state machine.

Theory of operation (pkg/kubelet/prober/worker.go, v1.32): a worker exists per (pod, container,
probe kind) and ticks every periodSeconds from its creation (its first tick is at once; ticks
missed while a probe runs collapse into one, as a Go ticker's). At each tick `should_probe(now,
started)` applies doProbe's guards, in order:
- on hold (a liveness/startup failure was published; waiting for a new container) -> no;
- no running container -> no (its result was set to failure when it stopped);
- the pod is being deleted: liveness and startup publish success and stop for good;
- less than initialDelaySeconds (whole seconds, truncated) since the container started -> no;
- startup probes run until the container has started, the others only after.
`record(result)` counts consecutive equal results: a result is published only once it has been
seen failureThreshold (resp. successThreshold) times in a row, and only a *change* of the
published value is returned (the results manager sends updates on change). Publishing a
liveness or startup failure puts the worker on hold and resets the count, until
`new_container` (a restart) gives it a new container id and the kind's initial value (readiness
failure, liveness success, startup unknown). Runs that errored are not recorded at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pocketkube.kubelet.podinputs.probes.spec import ProbeKind, ProbeTiming, Result


@dataclass
class Worker:
    kind: ProbeKind
    timing: ProbeTiming
    created_at: float
    container_id: str = ""
    started_at: float = 0.0
    running: bool = False
    on_hold: bool = False
    done: bool = False
    result: Result | None = None
    last_result: Result | None = None
    result_run: int = 0
    next_tick: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.next_tick = self.created_at

    # ------------------------------------------------------------------ container changes
    def _publish(self, result: Result) -> Result | None:
        if self.result == result:
            return None
        self.result = result
        return result

    def new_container(self, container_id: str, started_at: float) -> Result | None:
        """A (new) running instance; returns the published change, if any."""
        self.running, self.started_at = True, started_at
        if container_id == self.container_id:
            return None
        self.container_id = container_id
        self.on_hold = False
        self.result = None
        return self._publish(self.kind.initial)

    def container_stopped(self) -> Result | None:
        """The instance is no longer running: its result is failure."""
        self.running = False
        return self._publish(Result.FAILURE) if self.container_id else None

    def pod_deleting(self) -> Result | None:
        """Graceful deletion: liveness and startup publish success and stop probing."""
        if self.kind is ProbeKind.READINESS or self.done:
            return None
        self.done = True
        return self._publish(Result.SUCCESS) if self.container_id else None

    # ------------------------------------------------------------------ ticks
    def tick_after(self, now: float) -> float:
        """The first tick of this worker's period grid strictly after `now`."""
        period = max(self.timing.period, 1)
        k = math.floor((now - self.created_at) / period) + 1
        return self.created_at + max(k, 1) * period

    def should_probe(self, now: float, started: bool) -> bool:
        if self.done or self.on_hold or not self.running or not self.container_id:
            return False
        if int(now - self.started_at) < self.timing.initial_delay:
            return False
        if self.kind is ProbeKind.STARTUP:
            return not started
        return started

    def record(self, result: Result) -> Result | None:
        """Count a probe result; returns the newly published value when it changed."""
        if result == self.last_result:
            self.result_run += 1
        else:
            self.last_result, self.result_run = result, 1
        if (result is Result.FAILURE and self.result_run < self.timing.failure_threshold) or \
                (result is Result.SUCCESS and self.result_run < self.timing.success_threshold):
            return None
        published = self._publish(result)
        if result is Result.FAILURE and self.kind in (ProbeKind.LIVENESS, ProbeKind.STARTUP):
            self.on_hold = True
            self.result_run = 0
        return published
