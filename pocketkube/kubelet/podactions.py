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
Containers to start are chosen from the runtime snapshot the table looked at:
the next init container (a failed one again, attempt + 1), the regular ones
never created, or the exited ones whose back-off has elapsed. The worker's
memory (`PodMemo`) records what the table cannot see in the runtime: that the
pod became terminal, which containers were asked to stop, and which back-offs
were already announced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pocketkube.kubelet import images, lifecycle
from pocketkube.kubelet.admission import Rejection
from pocketkube.kubelet.events import NORMAL, WARNING, NodeEvents, pod_ref
from pocketkube.kubelet.lifecycle import Action
from pocketkube.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    PodRuntimeStatus,
    PodSandboxConfig,
    Runtime,
)
from pocketkube.kubelet.timefmt import go_duration

Obj = dict[str, Any]
DEFAULT_GRACE = 30


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
    image = container.get("image", "")
    policy = container.get("imagePullPolicy") or images.default_pull_policy(image)
    present = await ctx.runtime.image_status(image) is not None
    if images.needs_pull(policy, present) is True:
        ctx.event(NORMAL, "Pulling", f'Pulling image "{image}"', path)
        pulled = await ctx.runtime.pull_image(image)
        took = go_duration(ctx.waited)
        ctx.event(NORMAL, "Pulled", f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
                                    f"Image size: {pulled.size} bytes.", path)
    else:
        ctx.event(NORMAL, "Pulled", f'Container image "{image}" already present on machine', path)


async def start_container(ctx: ActionContext, container: Obj, *, attempt: int, init: bool) -> None:
    name = container.get("name", "")
    path = field_path(name, init)
    await _ensure_image(ctx, container, path)
    config = ContainerConfig(name=name, image=container.get("image", ""), attempt=attempt, init=init,
                             sidecar=init and lifecycle.is_sidecar(container),
                             annotations=self_annotations(ctx.pod))
    cid = await ctx.runtime.create_container(ctx.memo.uid, config)
    ctx.event(NORMAL, "Created", f"Created container: {name}", path)
    await ctx.runtime.start_container(cid)
    ctx.event(NORMAL, "Started", f"Started container {name}", path)


def self_annotations(pod: Obj) -> dict[str, str]:
    return dict((pod.get("metadata") or {}).get("annotations") or {})


async def create_sandbox(ctx: ActionContext) -> None:
    m = ctx.meta
    await ctx.runtime.run_pod_sandbox(PodSandboxConfig(uid=ctx.memo.uid, name=m.get("name", ""),
                                                       namespace=m.get("namespace", ""),
                                                       annotations=self_annotations(ctx.pod)))


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
        if lifecycle.restart_at(latest) <= ctx.now:
            await start_container(ctx, c, attempt=latest.attempt + 1, init=True)
        return


async def start_unborn(ctx: ActionContext) -> None:
    for c in ctx.spec.get("containers") or []:
        if ctx.rt.latest(c.get("name", "")) is None:
            await start_container(ctx, c, attempt=0, init=False)


async def restart_exited(ctx: ActionContext) -> None:
    policy = ctx.spec.get("restartPolicy") or "Always"
    for c in ctx.spec.get("containers") or []:
        latest = ctx.rt.latest(c.get("name", ""))
        if latest is None or latest.state is not ContainerState.EXITED:
            continue
        if lifecycle.restarts(policy, latest.exit_code) and lifecycle.restart_at(latest) <= ctx.now:
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
        await ctx.runtime.stop_container(c.id, grace)
        ctx.memo.stopping.add(c.id)


async def finish(ctx: ActionContext) -> None:
    ctx.memo.terminal = True
    await ctx.runtime.stop_pod_sandbox(ctx.memo.uid)


async def confirm_delete(ctx: ActionContext) -> None:
    ctx.memo.terminal = True
    ctx.memo.confirming = True
    await ctx.runtime.stop_pod_sandbox(ctx.memo.uid)


def note_backoff(ctx: ActionContext) -> None:
    """Announce each crash-loop back-off once (BackOff warning), as the kubelet's sync does."""
    for c in ctx.rt.containers:
        if c.state is not ContainerState.EXITED or c.id in ctx.memo.backoff_noted:
            continue
        if lifecycle.crash_backoff(c) > 0 and lifecycle.restart_at(c) > ctx.now:
            ctx.memo.backoff_noted.add(c.id)
            m = ctx.meta
            ref = f"{m.get('name', '')}_{m.get('namespace', '')}({m.get('uid', '')})"
            ctx.event(WARNING, "BackOff", f"Back-off restarting failed container {c.name} in pod {ref}",
                      field_path(c.name, c.init))


async def perform(action: Action, ctx: ActionContext) -> None:
    if action is Action.CREATE_SANDBOX:
        await create_sandbox(ctx)
    elif action is Action.START_INIT:
        await start_next_init(ctx)
    elif action is Action.START_CONTAINERS:
        await start_unborn(ctx)
    elif action is Action.RESTART_CONTAINERS:
        await restart_exited(ctx)
    elif action is Action.KILL:
        await kill(ctx)
    elif action is Action.FINISH:
        await finish(ctx)
    elif action is Action.CONFIRM_DELETE:
        await confirm_delete(ctx)
