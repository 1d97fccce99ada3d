"""Deployment status and conditions, computed purely from the Deployment and its ReplicaSets.

Theory of operation (upstream sync.go calculateStatus + progress.go): the
status sums the ReplicaSets (replicas, ready and available from their
status; updatedReplicas from the new one; unavailable = desired total minus
available, never negative) and carries the Deployment's collisionCount.
Conditions follow upstream exactly:
- Available: True/MinimumReplicasAvailable when available >= replicas -
  maxUnavailable, else False/MinimumReplicasUnavailable.
- Progressing (only with a progress deadline): True/NewReplicaSetAvailable
  with `ReplicaSet "x" has successfully progressed.` once complete; while any
  progress is seen, True/ReplicaSetUpdated `ReplicaSet "x" is progressing.`
  with a fresh lastUpdateTime; with no progress for progressDeadlineSeconds,
  False/ProgressDeadlineExceeded `ReplicaSet "x" has timed out progressing.`
- ReplicaFailure copied from the new ReplicaSet (else any old one).
`set_condition` keeps lastTransitionTime when the status does not change and
leaves a condition alone when status and reason are the same; a changed
condition moves to the end of the list, which is why `kubectl describe`
shows Available before Progressing on a settled Deployment. Integer fields
that are zero are left out, as Go's omitempty does on the wire.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pocketkube.client.clock import parse_time, rfc3339
from pocketkube.controllers.deployment import util

Obj = dict[str, Any]

AVAILABLE, PROGRESSING, REPLICA_FAILURE = "Available", "Progressing", "ReplicaFailure"
MIN_AVAILABLE, MIN_UNAVAILABLE = "MinimumReplicasAvailable", "MinimumReplicasUnavailable"
RS_UPDATED, FAILED_RS_CREATE = "ReplicaSetUpdated", "ReplicaSetCreateError"
NEW_RS_CREATED, FOUND_NEW_RS = "NewReplicaSetCreated", "FoundNewReplicaSet"
NEW_RS_AVAILABLE, TIMED_OUT = "NewReplicaSetAvailable", "ProgressDeadlineExceeded"
PAUSED, RESUMED = "DeploymentPaused", "DeploymentResumed"
STATUS_INT_FIELDS = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                     "unavailableReplicas")


def new_condition(type_: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    ts = rfc3339(now)
    return {"type": type_, "status": status, "lastUpdateTime": ts, "lastTransitionTime": ts,
            "reason": reason, "message": message}


def get_condition(status: Obj | None, type_: str) -> Obj | None:
    for c in (status or {}).get("conditions") or []:
        if c.get("type") == type_:
            found: Obj = c
            return found
    return None


def set_condition(status: Obj, cond: Obj) -> None:
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    cond = dict(cond)
    if current is not None and current.get("status") == cond["status"]:
        cond["lastTransitionTime"] = current.get("lastTransitionTime")
    status["conditions"] = [*(c for c in status.get("conditions") or [] if c.get("type") != cond["type"]), cond]


def remove_condition(status: Obj, type_: str) -> None:
    kept = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def normalized(status: Obj | None) -> Obj:
    """A status as Go would print it: zero integers and empty lists left out."""
    out = {k: v for k, v in (status or {}).items() if v not in (None, [], {})}
    for k in STATUS_INT_FIELDS:
        if not out.get(k):
            out.pop(k, None)
    return out


def calculate_status(all_rss: list[Obj | None], new_rs: Obj | None, d: Obj, now: datetime) -> Obj:
    available = util.total(all_rss, "availableReplicas")
    unavailable = max(util.total(all_rss) - available, 0)
    old = d.get("status") or {}
    status: Obj = {
        "observedGeneration": d["metadata"].get("generation", 0),
        "replicas": util.total(all_rss, "replicas"),
        "updatedReplicas": util.total([new_rs], "replicas"),
        "readyReplicas": util.total(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
        "conditions": [dict(c) for c in old.get("conditions") or []],
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if available >= util.replicas(d) - util.max_unavailable(d):
        set_condition(status, new_condition(AVAILABLE, "True", MIN_AVAILABLE,
                                            "Deployment has minimum availability.", now))
    else:
        set_condition(status, new_condition(AVAILABLE, "False", MIN_UNAVAILABLE,
                                            "Deployment does not have minimum availability.", now))
    return normalized(status)


def deployment_complete(d: Obj, status: Obj) -> bool:
    want = util.replicas(d)
    return int(status.get("updatedReplicas") or 0) == want and int(status.get("replicas") or 0) == want and \
        int(status.get("availableReplicas") or 0) == want and \
        int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 0)


def deployment_progressing(d: Obj, new: Obj) -> bool:
    old = d.get("status") or {}

    def get(s: Obj, k: str) -> int:
        return int(s.get(k) or 0)
    old_old = get(old, "replicas") - get(old, "updatedReplicas")
    new_old = get(new, "replicas") - get(new, "updatedReplicas")
    return get(new, "updatedReplicas") > get(old, "updatedReplicas") or new_old < old_old or \
        get(new, "readyReplicas") > get(old, "readyReplicas") or \
        get(new, "availableReplicas") > get(old, "availableReplicas")


def deployment_timed_out(d: Obj, status: Obj, now: datetime) -> bool:
    if not util.has_progress_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return False
    return (now - since).total_seconds() > int(d["spec"]["progressDeadlineSeconds"])


def _subject(d: Obj, new_rs: Obj | None) -> str:
    return f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs is not None else \
        f'Deployment "{d["metadata"]["name"]}"'


def rollout_status(all_rss: list[Obj | None], new_rs: Obj | None, d: Obj, now: datetime) -> Obj:
    """The status during a rollout: calculate_status plus progress estimation (syncRolloutStatus)."""
    status = calculate_status(all_rss, new_rs, d, now)
    if not util.has_progress_deadline(d):
        remove_condition(status, PROGRESSING)
    current = get_condition(d.get("status"), PROGRESSING)
    complete = int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0) and \
        current is not None and current.get("reason") == NEW_RS_AVAILABLE
    if util.has_progress_deadline(d) and not complete:
        subject = _subject(d, new_rs)
        if deployment_complete(d, status):
            set_condition(status, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE,
                                                f"{subject} has successfully progressed.", now))
        elif deployment_progressing(d, status):
            cond = new_condition(PROGRESSING, "True", RS_UPDATED, f"{subject} is progressing.", now)
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                remove_condition(status, PROGRESSING)
            set_condition(status, cond)
        elif deployment_timed_out(d, status, now):
            set_condition(status, new_condition(PROGRESSING, "False", TIMED_OUT,
                                                f"{subject} has timed out progressing.", now))
    failures = replica_failures(all_rss, new_rs)
    if failures:
        set_condition(status, failures[0])
    else:
        remove_condition(status, REPLICA_FAILURE)
    return normalized(status)


def replica_failures(all_rss: list[Obj | None], new_rs: Obj | None) -> list[Obj]:
    def failures(rs: Obj | None) -> list[Obj]:
        return [{"type": c["type"], "status": c.get("status"), "lastUpdateTime": c.get("lastTransitionTime"),
                 "lastTransitionTime": c.get("lastTransitionTime"), "reason": c.get("reason"),
                 "message": c.get("message")}
                for c in ((rs or {}).get("status") or {}).get("conditions") or [] if c.get("type") == REPLICA_FAILURE]
    found = failures(new_rs)
    if found:
        return found
    return [c for rs in all_rss for c in failures(rs)]


def stuck_requeue_delay(d: Obj, status: Obj, now: datetime) -> float | None:
    """Seconds until a stalled rollout must be checked against its deadline (requeueStuckDeployment)."""
    current = get_condition(d.get("status"), PROGRESSING)
    if not util.has_progress_deadline(d) or current is None:
        return None
    if deployment_complete(d, status) or current.get("reason") == TIMED_OUT:
        return None
    since = parse_time(current.get("lastUpdateTime"))
    if since is None:
        return None
    after = since.timestamp() + int(d["spec"]["progressDeadlineSeconds"]) - now.timestamp()
    return max(after, 0.0) + 1.0
