"""The actions of the lifecycle table, carried out through the runtime seam.

Theory of operation: each `Action` of kubelet/lifecycle.py maps to one
function here that calls the `Runtime` and records the kubelet's events with
upstream wording:
  Pulling   'Pulling image "nginx"'
  Pulled    'Successfully pulled image "nginx" in 512ms (512ms including waiting). Image size: N bytes.'
            or 'Container image "nginx:1.27" already present on machine'
  Created   'Created container: nginx'
  Started   'Started container nginx'
  Killing   'Stopping container nginx'
  BackOff   'Back-off restarting failed container nginx in pod web_default(uid)' (Warning)
  Failed    'Failed to pull image "nginxx": rpc error: code = NotFound desc = ...' and
            'Error: ErrImagePull' (Warning); later BackOff 'Back-off pulling image "nginxx"'
            (Normal) and 'Error: ImagePullBackOff'; 'Error: <message>' for a container that
            cannot be configured (CreateContainerConfigError), created or started
  FailedCreatePodSandBox 'Failed to create pod sandbox: <error>' (Warning)
  SandboxChanged 'Pod sandbox changed, it will be killed and re-created.' (a new sandbox for a pod
            that had one: it died, or the node was stopped)
Containers to start are chosen from the runtime snapshot the table looked at:
the next init container (a failed one again, attempt + 1), the regular ones
never created, or the exited ones whose back-off has elapsed, skipping those
held back. The worker's memory (`PodMemo`) records what the table cannot see
in the runtime: that the pod became terminal, which containers were asked to
stop, which back-offs were already announced, and the starts that failed
before a container existed: `holds` (not before when) and `waiting` (the
waiting reason and message the status shows meanwhile), as upstream's
reasonCache. A failed pull holds the container for the image's pull back-off
(images.next_pull_backoff); the worker looks again a second later (upstream's
PLEG event for the new sandbox does the same), when ErrImagePull becomes
ImagePullBackOff. Other failures are retried after 10 s (the pod worker's
back-off period). How sandboxes and containers are configured is the node's
`PodConfigurer` (configurer.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pocketkube.kubelet import images, lifecycle
from pocketkube.kubelet.admission import Rejection
from pocketkube.kubelet.configurer import SEAM, ContainerConfigError, PodConfigurer, PodNotReady
from pocketkube.kubelet.containerstatus import ProbeView
from pocketkube.kubelet.events import NORMAL, WARNING, NodeEvents, pod_ref
from pocketkube.kubelet.lifecycle import SANDBOX, Action
from pocketkube.kubelet.runtime.interface import ContainerState, PodRuntimeStatus, Runtime, RuntimeFailure
from pocketkube.kubelet.runtimeerrors import error_message, error_text
from pocketkube.kubelet.timefmt import go_duration

log = logging.getLogger("pocketkube.kubelet.pods")

Obj = dict[str, Any]
DEFAULT_GRACE = 30
RETRY_AFTER_ERROR = 10.0  # upstream's pod worker back-off period after a failed sync
RETRY_NOT_READY = 2.0  # volumes not set up yet: the pod stays ContainerCreating meanwhile
PULL_RESYNC = 1.0


class ProbeHooks(ProbeView, Protocol):
    """What the pod workers tell a node's prober (podinputs.probes.ProbeManager)."""

    def add(self, pod: Obj, container: str, container_id: str, started_at: float, *, pod_ip: str = "") -> None: ...

    def container_stopped(self, pod_uid: str, container: str) -> None: ...

    def update_pod(self, pod: Obj, pod_ip: str | None = None) -> None: ...

    def remove_pod(self, pod_uid: str) -> None: ...


class StartFailure(Exception):
    """A container could not be created: its waiting reason and message, and when to try again."""

    def __init__(self, reason: str, message: str, retry_at: float) -> None:
        super().__init__(message)
        self.reason, self.message, self.retry_at = reason, message, retry_at


@dataclass(slots=True)
class PodMemo:
    uid: str
    node: str
    terminal: bool = False
    stopping: set[str] = field(default_factory=set)
    armed: tuple[str, float] | None = None
    last_status: Obj | None = None
    confirming: bool = False
    delete_sent: bool = False
    backoff_noted: set[str] = field(default_factory=set)
    seen_at: float = 0.0
    started_noted: bool = False
    rejection: Rejection | None = None
    holds: dict[str, float] = field(default_factory=dict)
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)
    pull_backoff: dict[str, tuple[float, float]] = field(default_factory=dict)
    failed_at: dict[str, float] = field(default_factory=dict)
    resync_at: float | None = None
    probed: dict[str, str] = field(default_factory=dict)  # container id -> name, registered with the prober
    unhealthy: dict[str, str] = field(default_factory=dict)  # container id -> Killing message

    def hold(self, name: str, reason: str, message: str, until: float, now: float) -> None:
        self.holds[name] = until
        self.failed_at[name] = now
        if name != SANDBOX and reason:
            self.waiting[name] = (reason, message)
        elif name != SANDBOX:
            self.waiting.pop(name, None)
        self.resync_at = min(until, now + PULL_RESYNC) if reason == "ErrImagePull" else None

    def release(self, name: str) -> None:
        self.holds.pop(name, None)
        self.waiting.pop(name, None)
        self.failed_at.pop(name, None)


@dataclass(slots=True)
class ActionContext:
    runtime: Runtime
    events: NodeEvents
    node: str
    pod: Obj
    rt: PodRuntimeStatus
    memo: PodMemo
    now: float
    waited: float = 0.0
    configurer: PodConfigurer = SEAM
    probes: ProbeHooks | None = None

    @property
    def meta(self) -> Obj:
        return self.pod.get("metadata") or {}

    @property
    def spec(self) -> Obj:
        return self.pod.get("spec") or {}

    def event(self, type_: str, reason: str, message: str, field_path: str = "") -> None:
        self.events.emit(self.node, pod_ref(self.pod), type_, reason, message, field_path)


def field_path(name: str, init: bool) -> str:
    return f"spec.{'initContainers' if init else 'containers'}{{{name}}}"


async def _ensure_image(ctx: ActionContext, container: Obj, path: str) -> None:
    """Pull per imagePullPolicy; raises StartFailure (ErrImageNeverPull, ErrImagePull)."""
    image = container.get("image", "")
    policy = container.get("imagePullPolicy") or images.default_pull_policy(image)
    present = await ctx.runtime.image_status(image) is not None
    pull = images.needs_pull(policy, present)
    if pull is None:
        message = f'Container image "{image}" is not present with pull policy of Never'
        ctx.event(WARNING, "ErrImageNeverPull", message, path)
        ctx.event(WARNING, "Failed", "Error: ErrImageNeverPull", path)
        raise StartFailure("ErrImageNeverPull", message, ctx.now + RETRY_AFTER_ERROR)
    if not pull:
        ctx.event(NORMAL, "Pulled", f'Container image "{image}" already present on machine', path)
        return
    ctx.event(NORMAL, "Pulling", f'Pulling image "{image}"', path)
    begin = time.monotonic()
    try:
        pulled = await ctx.runtime.pull_image(image)
    except RuntimeFailure as e:
        text = error_text(e)
        ctx.event(WARNING, "Failed", f'Failed to pull image "{image}": {text}', path)
        ctx.event(WARNING, "Failed", "Error: ErrImagePull", path)
        delay = images.next_pull_backoff(ctx.memo.pull_backoff.get(image), ctx.now)
        ctx.memo.pull_backoff[image] = (delay, ctx.now)
        raise StartFailure("ErrImagePull", text, ctx.now + delay) from None
    took = go_duration(max(ctx.waited, time.monotonic() - begin))
    ctx.event(NORMAL, "Pulled", f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
                                f"Image size: {pulled.size} bytes.", path)


async def _create(ctx: ActionContext, container: Obj, *, attempt: int, init: bool, path: str) -> str:
    """Pull, configure and create the container; raises StartFailure."""
    await _ensure_image(ctx, container, path)
    try:
        config = await ctx.configurer.container(ctx.pod, container, attempt=attempt, init=init,
                                                sidecar=init and lifecycle.is_sidecar(container))
    except ContainerConfigError as e:
        ctx.event(WARNING, "Failed", f"Error: {e}", path)
        raise StartFailure("CreateContainerConfigError", str(e), ctx.now + RETRY_AFTER_ERROR) from None
    except PodNotReady:  # its volumes are not set up yet (FailedMount events): ContainerCreating
        raise StartFailure("", "", ctx.now + RETRY_NOT_READY) from None
    try:
        return await ctx.runtime.create_container(ctx.memo.uid, config)
    except RuntimeFailure as e:
        text = error_message(e)
        ctx.event(WARNING, "Failed", f"Error: {text}", path)
        raise StartFailure("CreateContainerError", text, ctx.now + RETRY_AFTER_ERROR) from None


def held(ctx: ActionContext, name: str) -> bool:
    return ctx.memo.holds.get(name, 0.0) > ctx.now


async def start_container(ctx: ActionContext, container: Obj, *, attempt: int, init: bool) -> None:
    name = container.get("name", "")
    if held(ctx, name):
        return
    path = field_path(name, init)
    try:
        cid = await _create(ctx, container, attempt=attempt, init=init, path=path)
    except StartFailure as f:
        ctx.memo.hold(name, f.reason, f.message, f.retry_at, ctx.now)
        return
    ctx.memo.release(name)
    ctx.event(NORMAL, "Created", f"Created container: {name}", path)
    try:
        await ctx.runtime.start_container(cid)
    except RuntimeFailure as e:  # the runtime reports the instance as exited (StartError)
        ctx.event(WARNING, "Failed", f"Error: {error_message(e)}", path)
        return
    ctx.event(NORMAL, "Started", f"Started container {name}", path)
    if ctx.probes is not None:  # the prober's workers for this name move on to the new instance
        ip = ctx.rt.sandbox.ip if ctx.rt.sandbox is not None else ""
        ctx.probes.add(ctx.pod, name, cid, ctx.now, pod_ip=ip)
        for old in [k for k, n in ctx.memo.probed.items() if n == name]:
            del ctx.memo.probed[old]
        ctx.memo.probed[cid] = name


def self_annotations(pod: Obj) -> dict[str, str]:
    return dict((pod.get("metadata") or {}).get("annotations") or {})


async def create_sandbox(ctx: ActionContext) -> None:
    if held(ctx, SANDBOX):
        return
    if ctx.rt.sandbox is not None and SANDBOX not in ctx.memo.holds:  # the old one died or the node restarted
        ctx.event(NORMAL, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
    try:
        await ctx.configurer.prepare(ctx.pod)
    except PodNotReady:  # volumes: the configurer's volume manager recorded FailedMount events
        ctx.memo.hold(SANDBOX, "", "", ctx.now + RETRY_NOT_READY, ctx.now)
        return
    try:
        await ctx.runtime.run_pod_sandbox(ctx.configurer.sandbox(ctx.pod))
    except RuntimeFailure as e:
        ctx.event(WARNING, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {error_text(e)}")
        ctx.memo.hold(SANDBOX, "", "", ctx.now + RETRY_AFTER_ERROR, ctx.now)
        return
    ctx.memo.release(SANDBOX)


async def start_next_init(ctx: ActionContext) -> None:
    for c in ctx.spec.get("initContainers") or []:
        latest = ctx.rt.latest(c.get("name", ""))
        if latest is None:
            await start_container(ctx, c, attempt=0, init=True)
            return
        if latest.state is not ContainerState.EXITED:
            if lifecycle.is_sidecar(c):
                continue
            return
        if latest.exit_code == 0 and not lifecycle.is_sidecar(c):
            continue
        if lifecycle.restart_time(ctx.rt, latest, ctx.memo.holds) <= ctx.now:
            await start_container(ctx, c, attempt=latest.attempt + 1, init=True)
        return


async def start_unborn(ctx: ActionContext) -> None:
    """Start the regular containers never created (and restart those due: see lifecycle.observe)."""
    for c in ctx.spec.get("containers") or []:
        if ctx.rt.latest(c.get("name", "")) is None:
            await start_container(ctx, c, attempt=0, init=False)
    await restart_exited(ctx)


async def restart_exited(ctx: ActionContext) -> None:
    policy = ctx.spec.get("restartPolicy") or "Always"
    for c in ctx.spec.get("containers") or []:
        latest = ctx.rt.latest(c.get("name", ""))
        if latest is None or latest.state is not ContainerState.EXITED:
            continue
        if lifecycle.restarts(policy, latest.exit_code) and \
                lifecycle.restart_time(ctx.rt, latest, ctx.memo.holds) <= ctx.now:
            await start_container(ctx, c, attempt=latest.attempt + 1, init=False)


def grace_period(pod: Obj) -> float:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    if meta.get("deletionTimestamp") and meta.get("deletionGracePeriodSeconds") is not None:
        return float(meta["deletionGracePeriodSeconds"])
    grace = spec.get("terminationGracePeriodSeconds")
    return float(DEFAULT_GRACE if grace is None else grace)


async def kill(ctx: ActionContext) -> None:
    grace = grace_period(ctx.pod)
    for c in ctx.rt.containers:
        if c.state is ContainerState.EXITED or c.id in ctx.memo.stopping:
            continue
        ctx.event(NORMAL, "Killing", f"Stopping container {c.name}", field_path(c.name, c.init))
        await ctx.configurer.stop(ctx.runtime, ctx.pod, c, grace)
        ctx.memo.stopping.add(c.id)


def _probe_grace(pod: Obj, name: str) -> float:
    """A probe's terminationGracePeriodSeconds, else the pod's (upstream's liveness/startup kill)."""
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == name:
            for probe in ("livenessProbe", "startupProbe"):
                grace = (c.get(probe) or {}).get("terminationGracePeriodSeconds")
                if grace is not None:
                    return float(grace)
    return grace_period(pod)


async def kill_unhealthy(ctx: ActionContext) -> None:
    """Kill the containers a liveness or startup probe failed (restartPolicy restarts them)."""
    for c in ctx.rt.containers:
        message = ctx.memo.unhealthy.get(c.id)
        if message is None or c.state is ContainerState.EXITED or c.id in ctx.memo.stopping:
            continue
        ctx.event(NORMAL, "Killing", message, field_path(c.name, c.init))
        await ctx.configurer.stop(ctx.runtime, ctx.pod, c, _probe_grace(ctx.pod, c.name))
        ctx.memo.stopping.add(c.id)


async def finish(ctx: ActionContext) -> None:
    ctx.memo.terminal = True
    await ctx.runtime.stop_pod_sandbox(ctx.memo.uid)


async def confirm_delete(ctx: ActionContext) -> None:
    ctx.memo.terminal = True
    ctx.memo.confirming = True
    await ctx.runtime.stop_pod_sandbox(ctx.memo.uid)


def note_pull_backoff(ctx: ActionContext) -> None:
    """A held pull that failed a moment ago becomes ImagePullBackOff (once per failure)."""
    for name, (reason, _) in list(ctx.memo.waiting.items()):
        if reason != "ErrImagePull" or not held(ctx, name) or ctx.memo.failed_at.get(name, 0.0) >= ctx.now:
            continue
        spec = _spec_container(ctx.spec, name)
        if spec is None:
            continue
        image, path = spec[0].get("image", ""), field_path(name, spec[1])
        message = f'Back-off pulling image "{image}"'
        ctx.memo.waiting[name] = ("ImagePullBackOff", message)
        ctx.event(NORMAL, "BackOff", message, path)
        ctx.event(WARNING, "Failed", "Error: ImagePullBackOff", path)


def _spec_container(spec: Obj, name: str) -> tuple[Obj, bool] | None:
    for init, key in ((True, "initContainers"), (False, "containers")):
        for c in spec.get(key) or []:
            if c.get("name") == name:
                return c, init
    return None


def note_backoff(ctx: ActionContext) -> None:
    """Announce each crash-loop back-off once (BackOff warning), as the kubelet's sync does."""
    note_pull_backoff(ctx)
    for c in ctx.rt.containers:
        if c.state is not ContainerState.EXITED or c.id in ctx.memo.backoff_noted:
            continue
        if lifecycle.crash_backoff(c) > 0 and lifecycle.restart_at(c, lifecycle.sandbox_created(ctx.rt)) > ctx.now:
            ctx.memo.backoff_noted.add(c.id)
            m = ctx.meta
            ref = f"{m.get('name', '')}_{m.get('namespace', '')}({m.get('uid', '')})"
            ctx.event(WARNING, "BackOff", f"Back-off restarting failed container {c.name} in pod {ref}",
                      field_path(c.name, c.init))


_PERFORM: dict[Action, Callable[[ActionContext], Awaitable[None]]] = {
    Action.CREATE_SANDBOX: create_sandbox,
    Action.START_INIT: start_next_init,
    Action.START_CONTAINERS: start_unborn,
    Action.RESTART_CONTAINERS: restart_exited,
    Action.KILL: kill,
    Action.KILL_UNHEALTHY: kill_unhealthy,
    Action.FINISH: finish,
    Action.CONFIRM_DELETE: confirm_delete,
}  # NONE and FORGET do nothing here


async def perform(action: Action, ctx: ActionContext) -> None:
    handler = _PERFORM.get(action)
    if handler is not None:
        await handler(ctx)
