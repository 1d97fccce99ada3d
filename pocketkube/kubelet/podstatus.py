"""The pod status a kubelet writes, from the runtime snapshot (pure).

Theory of operation (kubelet generateAPIPodStatus + status manager, v1.32):
1. Container statuses come from containerstatus.py.
2. The phase is upstream's getPhase: Pending while init containers or any
   regular container has not started (a CrashLoopBackOff with a previous run
   counts as stopped, not waiting); Running while one runs; with all stopped,
   a terminal pod is Succeeded when every regular container exited 0, else
   Failed; a non-terminal one is Running (restartPolicy Always, or OnFailure
   with a failure) or Succeeded/Failed by the exit codes. An init container
   that failed under restartPolicy Never fails the pod.
3. The kubelet-owned conditions, in the kubelet's order: PodReadyToStartContainers
   (sandbox with network ready), Initialized, Ready, ContainersReady,
   PodScheduled (always True once the kubelet has the pod). Messages are
   upstream's: "containers with unready status: [a b]",
   "containers with incomplete status: [init]", reason PodCompleted for
   terminal pods. Readiness gates make Ready False with ReadinessGatesNotReady.
   Conditions owned by others (DisruptionTarget, readiness-gate conditions) are
   kept in front, as the status manager's merge does. lastTransitionTime is kept
   from the previous status unless the condition's status changed;
   lastProbeTime is null.
4. hostIP/hostIPs, podIP/podIPs (the previous IPs are kept once the sandbox is
   gone; a hostNetwork pod's is the node's), startTime (first status), qosClass
   (kept from the apiserver).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pocketkube.kubelet import containerstatus, lifecycle
from pocketkube.kubelet.runtime.interface import PodRuntimeStatus
from pocketkube.kubelet.timefmt import rfc3339

Obj = dict[str, Any]
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


@dataclass(frozen=True, slots=True)
class PodContext:
    host_ip: str
    runtime_name: str
    terminal: bool
    now: float
    waiting: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    probes: containerstatus.ProbeView | None = None


def _is_running(s: Obj) -> bool:
    return "running" in (s.get("state") or {})


def _counts(statuses: list[Obj]) -> tuple[int, int, int, int]:
    """(waiting, running, stopped, succeeded) among regular container statuses."""
    waiting = running = stopped = succeeded = 0
    for s in statuses:
        state = s.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode") == 0
        elif (s.get("lastState") or {}).get("terminated"):
            stopped += 1
        else:
            waiting += 1
    return waiting, running, stopped, succeeded


def _init_counts(spec: Obj, statuses: list[Obj]) -> tuple[int, int]:
    """(pending, failed) init containers."""
    pending = failed = 0
    for c, s in zip(spec.get("initContainers") or [], statuses, strict=False):
        state, last = s.get("state") or {}, (s.get("lastState") or {}).get("terminated")
        if lifecycle.is_sidecar(c):
            pending += not s.get("started")
        elif "terminated" in state:
            failed += state["terminated"].get("exitCode") != 0
        elif "waiting" in state and last:
            failed += last.get("exitCode") != 0
        else:
            pending += 1
    return pending, failed


def _any_regular_started(statuses: list[Obj]) -> bool:
    return any("running" in (s.get("state") or {}) or "terminated" in (s.get("state") or {})
               or (s.get("lastState") or {}).get("terminated") for s in statuses)


def phase(spec: Obj, inits: list[Obj], regular: list[Obj], *, terminal: bool) -> str:
    policy = spec.get("restartPolicy") or "Always"
    pending_init, failed_init = _init_counts(spec, inits)
    waiting, running, stopped, succeeded = _counts(regular)
    if failed_init and policy == "Never":
        return "Failed"
    if (pending_init and not _any_regular_started(regular)) or waiting:
        return "Pending"
    if running:
        return "Running"
    if not stopped:
        return "Pending"
    if terminal:
        return "Succeeded" if stopped == succeeded else "Failed"
    if policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    return "Failed" if policy == "Never" else "Running"


def _go_list(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def _cond(ctype: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    c: Obj = {"type": ctype, "status": "True" if ok else "False"}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _initialized(spec: Obj, inits: list[Obj], regular: list[Obj], pod_phase: str) -> Obj:
    if pod_phase == "Succeeded":
        return _cond("Initialized", True, "PodCompleted")
    if _any_regular_started(regular):
        return _cond("Initialized", True)
    incomplete = []
    for c, s in zip(spec.get("initContainers") or [], inits, strict=False):
        state = s.get("state") or {}
        done = bool(s.get("started")) if lifecycle.is_sidecar(c) else (
            state.get("terminated") or {}).get("exitCode") == 0 and "terminated" in state
        if not done:
            incomplete.append(s["name"])
    if incomplete:
        return _cond("Initialized", False, "ContainersNotInitialized",
                     f"containers with incomplete status: {_go_list(incomplete)}")
    return _cond("Initialized", True)


def _containers_ready(spec: Obj, inits: list[Obj], regular: list[Obj], pod_phase: str) -> Obj:
    if pod_phase in ("Succeeded", "Failed"):
        return _cond("ContainersReady", False, "PodCompleted")
    sidecars = {c.get("name") for c in spec.get("initContainers") or [] if lifecycle.is_sidecar(c)}
    unready = [s["name"] for s in inits if s["name"] in sidecars and not s.get("ready")]
    by_name = {s["name"]: s for s in regular}
    unready += [c["name"] for c in spec.get("containers") or [] if not by_name.get(c["name"], {}).get("ready")]
    if unready:
        return _cond("ContainersReady", False, "ContainersNotReady",
                     f"containers with unready status: {_go_list(unready)}")
    return _cond("ContainersReady", True)


def _ready(spec: Obj, containers_ready: Obj, others: list[Obj]) -> Obj:
    if containers_ready["status"] != "True":
        return {**containers_ready, "type": "Ready"}
    by_type = {c.get("type"): c for c in others}
    for gate in spec.get("readinessGates") or []:
        ctype = gate.get("conditionType", "")
        found = by_type.get(ctype)
        if found is None:
            return _cond("Ready", False, "ReadinessGatesNotReady",
                         f'corresponding condition of pod readiness gate "{ctype}" does not exist.')
        if found.get("status") != "True":
            return _cond("Ready", False, "ReadinessGatesNotReady",
                         f'the status of pod readiness gate "{ctype}" is not "True", but {found.get("status")}')
    return _cond("Ready", True)


def conditions(spec: Obj, inits: list[Obj], regular: list[Obj], *, pod_phase: str, sandbox_ready: bool,
               previous: list[Obj], now: float) -> list[Obj]:
    others = [c for c in previous if c.get("type") not in KUBELET_CONDITIONS]
    ready_to_start = _cond("PodReadyToStartContainers", sandbox_ready and pod_phase not in ("Succeeded", "Failed"))
    initialized = _initialized(spec, inits, regular, pod_phase)
    containers_ready = _containers_ready(spec, inits, regular, pod_phase)
    ready = _ready(spec, containers_ready, others)
    ours = [ready_to_start, initialized, ready, containers_ready, _cond("PodScheduled", True)]
    old = {c.get("type"): c for c in previous}
    stamped = []
    for c in ours:
        before = old.get(c["type"])
        changed = before is None or before.get("status") != c["status"]
        at = rfc3339(now) if changed or not before or not before.get("lastTransitionTime") \
            else before["lastTransitionTime"]
        stamped.append({"lastProbeTime": None, "lastTransitionTime": at, **c})
    return others + stamped


def _ips(ip: str) -> list[Obj]:
    return [{"ip": ip}] if ip else []


def generate(pod: Obj, rt: PodRuntimeStatus, ctx: PodContext, previous: Obj) -> Obj:
    """The full status of `pod` (previous: its current API status, for times and foreign fields)."""
    spec = pod.get("spec") or {}
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    cctx = containerstatus.StatusContext(ctx.runtime_name, ctx.terminal, deleting, ctx.now,
                                         containerstatus.pod_ref(pod), containerstatus.never_ready(pod),
                                         ctx.waiting, lifecycle.sandbox_created(rt), ctx.probes,
                                         str((pod.get("metadata") or {}).get("uid") or ""))
    inits = containerstatus.init_statuses(spec, rt, cctx)
    regular = containerstatus.regular_statuses(spec, rt, cctx)
    pod_phase = phase(spec, inits, regular, terminal=ctx.terminal)
    sandbox_ready = rt.sandbox is not None and rt.sandbox.ready
    status: Obj = {"phase": pod_phase}
    status["conditions"] = conditions(spec, inits, regular, pod_phase=pod_phase, sandbox_ready=sandbox_ready,
                                      previous=list(previous.get("conditions") or []), now=ctx.now)
    status["hostIP"] = ctx.host_ip
    status["hostIPs"] = _ips(ctx.host_ip)
    ip = rt.sandbox.ip if rt.sandbox is not None and rt.sandbox.ip else previous.get("podIP") or ""
    if spec.get("hostNetwork") and rt.sandbox is not None:
        ip = ctx.host_ip  # the pod shares the node's network: its IP is the node's
    if ip:
        status["podIP"] = ip
        status["podIPs"] = _ips(ip)
    status["startTime"] = previous.get("startTime") or rfc3339(ctx.now)
    if inits:
        status["initContainerStatuses"] = inits
    status["containerStatuses"] = regular
    for key in ("qosClass", "nominatedNodeName", "resize", "resourceClaimStatuses", "message", "reason"):
        if key in previous:
            status[key] = previous[key]
    return status


def summary(status: Obj) -> tuple[Any, ...]:
    """What must match between the API's status and ours (others, e.g. the node-lifecycle controller
    marking pods NotReady, may have changed it; the status manager's reconcile puts ours back)."""
    conditions = tuple(sorted((str(c.get("type")), str(c.get("status"))) for c in status.get("conditions") or []
                              if c.get("type") in KUBELET_CONDITIONS))
    containers = tuple((s.get("name"), s.get("ready"), s.get("restartCount"), tuple(sorted(s.get("state") or {})))
                       for s in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []))
    return status.get("phase"), status.get("podIP"), conditions, containers


def base_status(api_status: Obj, last: Obj | None) -> Obj:
    """The status to build on: the API's, with our own last kubelet conditions and times."""
    api = dict(api_status)
    if not last:
        return api
    api["conditions"] = [c for c in api.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS] + \
                        [c for c in last.get("conditions") or [] if c.get("type") in KUBELET_CONDITIONS]
    for k in ("startTime", "podIP"):
        if last.get(k):
            api[k] = last[k]
    return api
