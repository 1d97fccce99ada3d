"""containerStatuses / initContainerStatuses from the runtime's snapshot (pure).

Theory of operation (kubelet convertToAPIContainerStatuses, v1.32): every
container of the spec gets a status. One the runtime has never created is
waiting with reason ContainerCreating, or PodInitializing when the pod has init
containers. Otherwise the latest instance gives `state` (running with
startedAt, or terminated with exitCode/reason/times/containerID) and the one
before it `lastState.terminated`; `restartCount` is the instance's attempt. An
exited container the restartPolicy will restart, while its back-off runs,
shows `waiting: CrashLoopBackOff` ("back-off 10s restarting failed
container=NAME pod=POD_NAMESPACE(UID)") with the exited instance as lastState.
`started` is true while running once a startupProbe's initialDelaySeconds has
passed; `ready` once also a readinessProbe's initialDelaySeconds has passed
(simulated probes succeed at their first try), never with the pod annotation
`pocketkube.io/simulate-ready: "false"` (a readiness probe that keeps failing);
a terminal pod has no ready container. Regular statuses are sorted by name,
init statuses keep spec order, as the kubelet does. These are exactly the
strings kubectl's STATUS, READY and RESTARTS columns read.

A start that failed before the instance existed (`waiting`: the worker's
memory, as upstream's reasonCache) replaces ContainerCreating or
CrashLoopBackOff with its reason and message: ErrImagePull, ImagePullBackOff,
ErrImageNeverPull, CreateContainerConfigError, CreateContainerError. With
real probes (`probes`, a ProbeView), `started` and `ready` come from their
results instead of the simulated timing: a container without a startup probe
is started once running, one without a readiness probe ready once started.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pocketkube.kubelet import lifecycle
from pocketkube.kubelet.runtime.interface import ContainerState, ContainerStatus, PodRuntimeStatus
from pocketkube.kubelet.timefmt import go_duration, rfc3339

Obj = dict[str, Any]


class ProbeView(Protocol):
    """Results of a node's real probes (podinputs.probes.ProbeManager answers these)."""

    def started(self, pod_uid: str, container: str) -> bool:
        """The running container counts as started (it has no startup probe, or it succeeded)."""
        ...

    def ready(self, pod_uid: str, container: str) -> bool | None:
        """The readiness verdict of a started container; None: it has no readiness probe."""
        ...


@dataclass(frozen=True, slots=True)
class StatusContext:
    """What container statuses depend on besides the runtime snapshot."""

    runtime_name: str
    terminal: bool
    deleting: bool
    now: float
    pod_ref: str  # format.Pod: name_namespace(uid)
    never_ready: bool = False
    waiting: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    sandbox_created: float = 0.0
    probes: ProbeView | None = None
    pod_uid: str = ""


NEVER_READY_ANNOTATION = "pocketkube.io/simulate-ready"


def never_ready(pod: Obj) -> bool:
    return ((pod.get("metadata") or {}).get("annotations") or {}).get(NEVER_READY_ANNOTATION) == "false"


def _probe_delay(spec_container: Obj, probe: str) -> float | None:
    p = spec_container.get(probe)
    return float(p.get("initialDelaySeconds") or 0) if isinstance(p, dict) else None


def probe_times(spec_container: Obj, latest: ContainerStatus) -> tuple[float, float]:
    """(started_at, ready_at) of a running instance under simulated probes that pass at the first try."""
    base = latest.started_at or latest.created_at
    started = base + (_probe_delay(spec_container, "startupProbe") or 0.0)
    return started, max(started, base + (_probe_delay(spec_container, "readinessProbe") or 0.0))


def next_probe_change(spec: Obj, rt: PodRuntimeStatus, now: float) -> float | None:
    """When a simulated probe will next flip a container to started or ready, if ever."""
    due = []
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        latest = rt.latest(c.get("name", ""))
        if latest is not None and latest.state is ContainerState.RUNNING:
            due += [t for t in probe_times(c, latest) if t > now]
    return min(due, default=None)


def pod_ref(pod: Obj) -> str:
    m = pod.get("metadata") or {}
    return f"{m.get('name', '')}_{m.get('namespace', '')}({m.get('uid', '')})"


def _terminated(c: ContainerStatus, runtime: str) -> Obj:
    out: Obj = {"exitCode": c.exit_code}
    if c.reason:
        out["reason"] = c.reason
    if c.message:
        out["message"] = c.message
    out["startedAt"] = rfc3339(c.started_at) if c.started_at is not None else None
    out["finishedAt"] = rfc3339(c.finished_at) if c.finished_at is not None else None
    out["containerID"] = f"{runtime}://{c.id}"
    return out


def _state(c: ContainerStatus, runtime: str) -> Obj:
    if c.state is ContainerState.RUNNING:
        return {"running": {"startedAt": rfc3339(c.started_at or c.created_at)}}
    if c.state is ContainerState.EXITED:
        return {"terminated": _terminated(c, runtime)}
    return {"waiting": {}}


def _volume_mounts(spec_container: Obj) -> list[Obj]:
    out = []
    for m in spec_container.get("volumeMounts") or []:
        entry: Obj = {"name": m.get("name", ""), "mountPath": m.get("mountPath", "")}
        if m.get("readOnly"):
            entry["readOnly"] = True
            entry["recursiveReadOnly"] = "Enabled" if m.get("recursiveReadOnly") == "Enabled" else "Disabled"
        out.append(entry)
    return out


def _in_backoff(c: ContainerStatus, restartable: bool, ctx: StatusContext) -> bool:
    return (restartable and c.state is ContainerState.EXITED and not ctx.terminal and not ctx.deleting
            and lifecycle.restart_at(c, ctx.sandbox_created) > ctx.now)


def _waiting(reason: str, message: str) -> Obj:
    return {"waiting": {"reason": reason, "message": message} if message else {"reason": reason}}


def _unborn(spec_container: Obj, has_init: bool, ctx: StatusContext) -> Obj:
    name = spec_container.get("name", "")
    failed = ctx.waiting.get(name)
    state = _waiting(*failed) if failed and not ctx.terminal else _waiting(
        "PodInitializing" if has_init else "ContainerCreating", "")
    return {"name": name, "image": spec_container.get("image", ""), "imageID": "",
            "lastState": {}, "ready": False, "restartCount": 0, "started": False, "state": state}


def _started_ready(spec_container: Obj, latest: ContainerStatus, running: bool,
                   ctx: StatusContext) -> tuple[bool, bool]:
    if ctx.probes is None:
        started_at, ready_at = probe_times(spec_container, latest)
        started = running and ctx.now >= started_at
        return started, started and ctx.now >= ready_at and not ctx.never_ready
    started = running and ctx.probes.started(ctx.pod_uid, latest.name)
    ready_result = ctx.probes.ready(ctx.pod_uid, latest.name)
    return started, started and (ready_result is None or ready_result)


def container_status(spec_container: Obj, rt: PodRuntimeStatus, *, restartable: bool, has_init: bool,
                     ctx: StatusContext) -> Obj:
    name = spec_container.get("name", "")
    latest = rt.latest(name)
    if latest is None:
        return _unborn(spec_container, has_init, ctx)
    previous = rt.previous(name)
    running = latest.state is ContainerState.RUNNING and not ctx.terminal
    started, ready = _started_ready(spec_container, latest, running, ctx)
    failed = ctx.waiting.get(name)
    if failed and latest.state is ContainerState.EXITED and restartable and not ctx.terminal:
        state: Obj = _waiting(*failed)
        last: Obj = {"terminated": _terminated(latest, ctx.runtime_name)}
    elif _in_backoff(latest, restartable, ctx):
        delay = go_duration(lifecycle.crash_backoff(latest))
        state = {"waiting": {"reason": "CrashLoopBackOff", "message": (
            f"back-off {delay} restarting failed container={name} pod={ctx.pod_ref}")}}
        last = {"terminated": _terminated(latest, ctx.runtime_name)}
    else:
        state = _state(latest, ctx.runtime_name)
        last = {"terminated": _terminated(previous, ctx.runtime_name)} if previous is not None else {}
    out: Obj = {"containerID": f"{ctx.runtime_name}://{latest.id}", "image": latest.image,
                "imageID": latest.image_ref, "lastState": last, "name": name, "ready": ready,
                "restartCount": latest.attempt, "started": started, "state": state}
    mounts = _volume_mounts(spec_container)
    if mounts:
        out["volumeMounts"] = mounts
    return out


def init_statuses(spec: Obj, rt: PodRuntimeStatus, ctx: StatusContext) -> list[Obj]:
    policy = spec.get("restartPolicy") or "Always"
    out = []
    for c in spec.get("initContainers") or []:
        restartable = lifecycle.is_sidecar(c) or policy != "Never"
        latest = rt.latest(c.get("name", ""))
        if latest is not None and latest.exit_code == 0 and not lifecycle.is_sidecar(c):
            restartable = False
        out.append(container_status(c, rt, restartable=restartable, has_init=True, ctx=ctx))
    return out


def regular_statuses(spec: Obj, rt: PodRuntimeStatus, ctx: StatusContext) -> list[Obj]:
    policy = spec.get("restartPolicy") or "Always"
    has_init = bool(spec.get("initContainers"))
    out = []
    for c in spec.get("containers") or []:
        latest = rt.latest(c.get("name", ""))
        restartable = latest is not None and lifecycle.restarts(policy, latest.exit_code)
        out.append(container_status(c, rt, restartable=restartable, has_init=has_init, ctx=ctx))
    return sorted(out, key=lambda s: str(s["name"]))
