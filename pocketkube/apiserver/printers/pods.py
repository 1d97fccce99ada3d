"""The pod printer: NAME READY STATUS RESTARTS AGE [IP NODE NOMINATED NODE READINESS GATES].

Theory of operation (upstream printPod, v1.32):

1. STATUS starts as `status.phase`, replaced by `status.reason` when set, and by
   `SchedulingGated` when the PodScheduled condition says so.
2. Init container statuses are walked in order. Finished ones (exit 0) and started
   sidecars (restartPolicy Always; ready ones count towards READY) are skipped; the
   first other one decides `Init:<reason>`, `Init:Signal:N`/`Init:ExitCode:N` or
   `Init:i/N`, and the pod is "initializing".
3. If not initializing (or the Initialized condition is True) the regular container
   statuses are walked last to first, so the first container's state wins; restart
   counts restart from the sidecars' total. `Completed` with a container still running
   becomes `Running` (pod Ready) or `NotReady`.
4. A deletion timestamp turns the status into `Unknown` (reason NodeLost) or, unless the
   phase is terminal, `Terminating`.
5. RESTARTS is `N` or `N (<age of newest lastState.terminated.finishedAt> ago)`.

Rows of Succeeded/Failed pods carry a `Completed` row condition (`pod_row_conditions`).
"""

from __future__ import annotations

from datetime import datetime

from pocketkube.apiserver.printers.columns import (
    AGE,
    NAME,
    Cell,
    Obj,
    Printer,
    col,
    condition_true,
    items,
    meta,
    sub,
)
from pocketkube.apiserver.printers.descriptions import doc
from pocketkube.apiserver.printers.duration import parse_timestamp, translate_timestamp_since

_COLUMNS = (
    NAME,
    col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", "The aggregate status of the containers in this pod."),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last "
        "container in this pod has restarted.",
    ),
    AGE,
    col("IP", "string", doc("core/v1.PodStatus.podIP"), 1),
    col("Node", "string", doc("core/v1.PodSpec.nodeName"), 1),
    col("Nominated Node", "string", doc("core/v1.PodStatus.nominatedNodeName"), 1),
    col("Readiness Gates", "string", doc("core/v1.PodSpec.readinessGates"), 1),
)

_SUCCEEDED = [
    {
        "type": "Completed",
        "status": "True",
        "reason": "Succeeded",
        "message": "The pod has completed successfully.",
    }
]
_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


class _Tally:
    """Running totals of the walk: ready containers, restarts and newest restart time."""

    __slots__ = ("last_restart", "ready", "restarts")

    def __init__(self) -> None:
        self.ready = 0
        self.restarts = 0
        self.last_restart: str | None = None

    def add_restarts(self, cs: Obj) -> None:
        self.restarts += int(cs.get("restartCount") or 0)
        finished = sub(sub(cs, "lastState"), "terminated").get("finishedAt")
        if finished and (self.last_restart is None or _later(finished, self.last_restart)):
            self.last_restart = finished


def _later(a: str, b: str) -> bool:
    pa, pb = parse_timestamp(a), parse_timestamp(b)
    return pa is not None and (pb is None or pa > pb)


def _terminated_reason(term: Obj, prefix: str) -> str:
    reason = term.get("reason")
    if reason:
        return prefix + reason
    signal = term.get("signal") or 0
    if signal:
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{term.get('exitCode') or 0}"


def _sidecar_names(spec: Obj) -> set[str]:
    return {c.get("name") for c in items(spec, "initContainers") if c.get("restartPolicy") == "Always"}


def _walk_init(status: Obj, n_init: int, sidecars: set[str], tally: _Tally, sidecar: _Tally) -> str | None:
    """Step 2: the `Init:...` reason of the first unfinished init container, or None."""
    for i, cs in enumerate(items(status, "initContainerStatuses")):
        tally.add_restarts(cs)
        is_sidecar = cs.get("name") in sidecars
        if is_sidecar:
            sidecar.add_restarts(cs)
        state = sub(cs, "state")
        term = sub(state, "terminated")
        if term and (term.get("exitCode") or 0) == 0:
            continue
        if is_sidecar and cs.get("started"):
            if cs.get("ready"):
                tally.ready += 1
            continue
        if term:
            return _terminated_reason(term, "Init:")
        waiting = sub(state, "waiting").get("reason")
        if waiting and waiting != "PodInitializing":
            return "Init:" + waiting
        return f"Init:{i}/{n_init}"
    return None


def _walk_containers(status: Obj, reason: str, tally: _Tally) -> str:
    """Step 3: the regular containers, last to first; returns the resulting reason."""
    has_running = False
    for cs in reversed(items(status, "containerStatuses")):
        tally.add_restarts(cs)
        state = sub(cs, "state")
        waiting = sub(state, "waiting").get("reason")
        term = sub(state, "terminated")
        if waiting:
            reason = waiting
        elif term:
            reason = _terminated_reason(term, "")
        elif cs.get("ready") and "running" in state and state["running"] is not None:
            has_running = True
            tally.ready += 1
    if reason == "Completed" and has_running:
        reason = "Running" if condition_true(items(status, "conditions"), "Ready") else "NotReady"
    return reason


def _base_reason(status: Obj) -> str:
    reason = str(status.get("reason") or status.get("phase") or "")
    for c in items(status, "conditions"):
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    return reason


def pod_status(pod: Obj) -> tuple[str, int, int, str | None]:
    """(STATUS, ready containers, restarts, newest restart time) of a pod."""
    spec, status = sub(pod, "spec"), sub(pod, "status")
    reason = _base_reason(status)
    sidecars = _sidecar_names(spec) if "initContainers" in spec else set()
    tally, sidecar = _Tally(), _Tally()
    init_reason = _walk_init(status, len(items(spec, "initContainers")), sidecars, tally, sidecar)
    if init_reason is not None:
        reason = init_reason
    if init_reason is None or condition_true(items(status, "conditions"), "Initialized"):
        sidecar.ready = tally.ready
        tally = sidecar
        reason = _walk_containers(status, reason, tally)
    if meta(pod).get("deletionTimestamp"):
        phase = status.get("phase")
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return reason, tally.ready, tally.restarts, tally.last_restart


def _readiness_gates(spec: Obj, status: Obj) -> str:
    gates = items(spec, "readinessGates")
    if not gates:
        return "<none>"
    conditions = items(status, "conditions")
    true_count = 0
    for gate in gates:
        for c in conditions:
            if c.get("type") == gate.get("conditionType"):
                if c.get("status") == "True":
                    true_count += 1
                break
    return f"{true_count}/{len(gates)}"


def _pod_row(pod: Obj, now: datetime) -> list[Cell]:
    spec, status, m = sub(pod, "spec"), sub(pod, "status"), meta(pod)
    reason, ready, restarts, last_restart = pod_status(pod)
    total = len(items(spec, "containers")) + len(_sidecar_names(spec))
    restarts_cell = str(restarts)
    if restarts and last_restart:
        restarts_cell = f"{restarts} ({translate_timestamp_since(last_restart, now)} ago)"
    pod_ips = items(status, "podIPs")
    ip = (pod_ips[0].get("ip") if pod_ips else "") or "<none>"
    return [
        m.get("name", ""),
        f"{ready}/{total}",
        reason,
        restarts_cell,
        translate_timestamp_since(m.get("creationTimestamp"), now),
        ip,
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        _readiness_gates(spec, status),
    ]


def pod_row_conditions(pod: Obj) -> list[dict[str, str]] | None:
    """The row conditions upstream attaches: Completed for Succeeded/Failed pods."""
    phase = sub(pod, "status").get("phase")
    if phase == "Succeeded":
        return [dict(c) for c in _SUCCEEDED]
    if phase == "Failed":
        return [dict(c) for c in _FAILED]
    return None


POD = Printer(_COLUMNS, _pod_row)
