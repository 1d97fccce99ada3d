"""The pod lifecycle as data: facts -> first matching stage -> action after a wait (pure).

Theory of operation (kwok's "stages", fed by what the kubelet's
computePodActions looks at): `observe` reduces a pod, the runtime's snapshot of
it and the worker's two memories (is the pod already terminal; which
containers were already asked to stop) to `Facts`, a handful of booleans and
one init-phase enum. `STAGES` is an ordered table of
`Stage(name, Select(...), action, wait)`; the first stage whose selector
matches the facts is the pod's current stage. The pod workers (the I/O shell)
arm the stage when it is first selected, wait until `due`, perform the action
through the runtime and observe again, so one sync walks as many stages as are
due. The same table drives the simulated runtime and (issue 5) the CRI one;
only the waits differ: `Wait.START` and `Wait.SANDBOX` are simulated durations
for the simulated runtime and zero for a real one (the real operation takes
its own time), `Wait.BACKOFF` is the kubelet's crash-loop back-off for both.

Reading the table top to bottom gives the life of a pod:
  gone from the API          -> forget it (remove containers, release the IP)
  deleting, something runs   -> kill (SIGTERM; SIGKILL after the grace period)
  deleting, nothing runs     -> confirm the deletion once (final status, DELETE with grace 0)
  terminal                   -> rest
  finished by restartPolicy  -> stop sidecars, then become terminal (Succeeded/Failed)
  a probe says restart       -> kill the unhealthy container (it restarts by restartPolicy)
  no sandbox                 -> create it (the pod gets its IP)
  next init container        -> start it; retry a failed one after back-off
  regular containers unborn  -> start them
  exited and policy restarts -> restart after back-off (CrashLoopBackOff meanwhile)

Invariants: no stage with Action.NONE is ever "due"; an action always changes
the facts (or the memories) so the walk terminates; back-off is a pure
function of the exited instance (attempt, how long it ran), so it survives an
agent restart. An exit older than the pod's current sandbox (the node was
stopped, the sandbox recreated) restarts at once, as a restarted kubelet has
no back-off memory.

Holds: a start that failed before the container existed (image pull back-off,
CreateContainerConfigError, a sandbox that could not be created) is held back
until a time the worker remembers (`holds`: container name -> not before; the
key SANDBOX is the sandbox). Holds only move the due time of the stage that
would start the held container (`start_hold`, and the restart back-off); the
start actions skip containers whose hold has not passed, so what is due always
has something it can start.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Set
from dataclasses import dataclass, fields, replace
from typing import Any

from pocketkube.kubelet.runtime.interface import ContainerState, ContainerStatus, PodRuntimeStatus

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 2 * BACKOFF_MAX

Obj = dict[str, Any]


class Action(enum.Enum):
    NONE = "none"
    FORGET = "forget"
    KILL = "kill"
    CONFIRM_DELETE = "confirm-delete"
    FINISH = "finish"
    KILL_UNHEALTHY = "kill-unhealthy"
    CREATE_SANDBOX = "create-sandbox"
    START_INIT = "start-init"
    START_CONTAINERS = "start-containers"
    RESTART_CONTAINERS = "restart-containers"


class Wait(enum.Enum):
    NOW = "now"
    SANDBOX = "sandbox"
    START = "start"
    BACKOFF = "backoff"


class InitPhase(enum.Enum):
    NEXT = "next"
    RUNNING = "running"
    RETRY = "retry"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Facts:
    gone: bool = False
    deleting: bool = False
    confirmed: bool = False
    terminal: bool = False
    finished: bool = False
    sandbox: bool = False
    init: InitPhase = InitPhase.DONE
    unstarted: bool = False
    restart_due: bool = False
    running: bool = False
    unstopped: bool = False
    unhealthy: bool = False
    backoff_due: float = 0.0
    start_hold: float = 0.0


SANDBOX = ""  # the hold key of the pod's sandbox
NO_HOLDS: Mapping[str, float] = {}


@dataclass(frozen=True, slots=True)
class Select:
    """A stage selector: every field that is not None must equal the fact of the same name."""

    gone: bool | None = None
    deleting: bool | None = None
    confirmed: bool | None = None
    terminal: bool | None = None
    finished: bool | None = None
    sandbox: bool | None = None
    init: InitPhase | None = None
    unstarted: bool | None = None
    restart_due: bool | None = None
    running: bool | None = None
    unstopped: bool | None = None
    unhealthy: bool | None = None

    def matches(self, facts: Facts) -> bool:
        for f in fields(self):
            want = getattr(self, f.name)
            if want is not None and getattr(facts, f.name) != want:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    select: Select
    action: Action
    wait: Wait = Wait.NOW


STAGES: tuple[Stage, ...] = (
    Stage("forget", Select(gone=True), Action.FORGET),
    Stage("kill", Select(deleting=True, unstopped=True), Action.KILL),
    Stage("confirm-deletion", Select(deleting=True, running=False, confirmed=False), Action.CONFIRM_DELETE),
    Stage("deleting", Select(deleting=True), Action.NONE),
    Stage("terminal", Select(terminal=True), Action.NONE),
    Stage("stop-sidecars", Select(finished=True, unstopped=True), Action.KILL),
    Stage("finish", Select(finished=True, running=False), Action.FINISH),
    Stage("finishing", Select(finished=True), Action.NONE),
    Stage("kill-unhealthy", Select(unhealthy=True), Action.KILL_UNHEALTHY),
    Stage("create-sandbox", Select(sandbox=False), Action.CREATE_SANDBOX, Wait.SANDBOX),
    Stage("start-init", Select(init=InitPhase.NEXT), Action.START_INIT, Wait.START),
    Stage("retry-init", Select(init=InitPhase.RETRY), Action.START_INIT, Wait.BACKOFF),
    Stage("initializing", Select(init=InitPhase.RUNNING), Action.NONE),
    Stage("start", Select(unstarted=True), Action.START_CONTAINERS, Wait.START),
    Stage("restart", Select(restart_due=True), Action.RESTART_CONTAINERS, Wait.BACKOFF),
    Stage("steady", Select(), Action.NONE),
)


def select(facts: Facts, stages: tuple[Stage, ...] = STAGES) -> Stage:
    for stage in stages:
        if stage.select.matches(facts):
            return stage
    raise LookupError("no stage matches")  # the table ends with a catch-all


def due(stage: Stage, facts: Facts, *, armed_at: float, delays: Mapping[Wait, float]) -> float:
    """When the stage's action may run (armed_at = when the stage was first selected)."""
    if stage.wait is Wait.BACKOFF:
        return facts.backoff_due
    if stage.wait in (Wait.SANDBOX, Wait.START):
        return max(armed_at + delays.get(stage.wait, 0.0), facts.start_hold)
    return armed_at + delays.get(stage.wait, 0.0)


# ---------------------------------------------------------------------- policy rules

def is_sidecar(container: Obj) -> bool:
    return container.get("restartPolicy") == "Always"


def restarts(policy: str, exit_code: int) -> bool:
    """Does the pod's restartPolicy restart a regular container that exited with this code?"""
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def crash_backoff(exited: ContainerStatus) -> float:
    """Seconds between an instance's exit and its restart (kubelet: 0, 10s, 20s, ... 5m)."""
    ran = (exited.finished_at or 0.0) - (exited.started_at or exited.finished_at or 0.0)
    if exited.attempt == 0 or ran > BACKOFF_RESET:
        return 0.0
    return min(BACKOFF_INITIAL * 2 ** (exited.attempt - 1), BACKOFF_MAX)


def restart_at(exited: ContainerStatus, sandbox_created: float = 0.0) -> float:
    """When the exited instance may be restarted; exits from before the current sandbox at once."""
    finished = exited.finished_at or 0.0
    if sandbox_created and finished <= sandbox_created:
        return finished
    return finished + crash_backoff(exited)


def sandbox_created(rt: PodRuntimeStatus) -> float:
    return rt.sandbox.created_at if rt.sandbox is not None and rt.sandbox.ready else 0.0


def restart_time(rt: PodRuntimeStatus, exited: ContainerStatus, holds: Mapping[str, float] = NO_HOLDS) -> float:
    """restart_at in the pod's snapshot, not before the container's hold."""
    return max(restart_at(exited, sandbox_created(rt)), holds.get(exited.name, 0.0))


# ---------------------------------------------------------------------- observation

@dataclass(slots=True)
class _Init:
    phase: InitPhase = InitPhase.DONE
    failed: bool = False
    retry_at: float = 0.0
    hold: float = 0.0


def _walk_init(spec: Obj, rt: PodRuntimeStatus, policy: str, holds: Mapping[str, float]) -> _Init:
    for c in spec.get("initContainers") or []:
        latest = rt.latest(c.get("name", ""))
        if latest is None:
            return _Init(InitPhase.NEXT, hold=holds.get(c.get("name", ""), 0.0))
        if latest.state is not ContainerState.EXITED:
            if is_sidecar(c):
                continue
            return _Init(InitPhase.RUNNING)
        if latest.exit_code == 0 and not is_sidecar(c):
            continue
        if policy == "Never" and not is_sidecar(c):
            return _Init(InitPhase.DONE, failed=True)
        return _Init(InitPhase.RETRY, retry_at=restart_time(rt, latest, holds))
    return _Init()


def observe(pod: Obj | None, rt: PodRuntimeStatus, *, terminal: bool, stopping: Set[str],
            confirmed: bool = False, holds: Mapping[str, float] = NO_HOLDS,
            unhealthy: Set[str] = frozenset()) -> Facts:
    """The facts the stage selectors look at (terminal, stopping, confirmed, holds, unhealthy: the
    worker's memory; unhealthy = ids of containers a liveness/startup probe wants restarted)."""
    running = [c for c in rt.containers if c.state is not ContainerState.EXITED]
    sandbox = rt.sandbox is not None and rt.sandbox.ready
    base = Facts(running=bool(running), unstopped=any(c.id not in stopping for c in running),
                 unhealthy=any(c.id in unhealthy and c.id not in stopping for c in running),
                 sandbox=sandbox, terminal=terminal, confirmed=confirmed,
                 start_hold=0.0 if sandbox else holds.get(SANDBOX, 0.0))
    if pod is None:
        return replace(base, gone=True)
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    policy = spec.get("restartPolicy") or "Always"
    init = _walk_init(spec, rt, policy, holds)
    base = replace(base, deleting=bool(meta.get("deletionTimestamp")))
    if init.failed:
        return replace(base, finished=True)
    names = [c.get("name", "") for c in spec.get("containers") or []]
    latest = [rt.latest(n) for n in names]
    init_facts = replace(base, init=init.phase, backoff_due=init.retry_at,
                         start_hold=base.start_hold if not sandbox else init.hold)
    if init.phase is not InitPhase.DONE and all(c is None for c in latest):
        return init_facts
    exited = [c for c in latest if c is not None and c.state is ContainerState.EXITED]
    due = [c for c in exited if restarts(policy, c.exit_code)]
    unborn = [n for n, c in zip(names, latest, strict=True) if c is None]
    if bool(latest) and not unborn and len(exited) == len(latest) and not due:
        return replace(base, finished=True)  # sidecars are stopped, not restarted, once the job is done
    if init.phase is not InitPhase.DONE:
        return init_facts  # a sidecar restarting beside running containers
    backoff_due = min((restart_time(rt, c, holds) for c in due), default=0.0)
    hold = base.start_hold
    if sandbox and unborn:
        hold = min(holds.get(n, 0.0) for n in unborn)
        if due:
            hold = min(hold, backoff_due)  # the start action also restarts what is due
    return replace(base, unstarted=bool(unborn), restart_due=bool(due), backoff_due=backoff_due, start_hold=hold)
