"""Node taints and pod disruption conditions: what node-lifecycle, taint-eviction and pod GC share
(upstream's controller/util/node helpers and getMinTolerationTime).

Theory of operation: the matching rules themselves (MatchTaint,
ToleratesTaint, GetMatchingTolerations, the well-known taint keys) are
machinery/taints.py, shared with the scheduler. `swap_node_taints` adds
(stamped with timeAdded) and removes controller taints in one strategic merge
patch of `spec.taints` guarded by the node's resourceVersion, re-reading the
node and retrying on conflict (5 tries, as UpdateTaintBackoff); it does
nothing when the taints are already right. `min_toleration_seconds` is how
long the tolerations a pod matched let it stay. `update_pod_condition` is
apipod.UpdatePodCondition (lastTransitionTime moves only when the status
does) and `patch_pod_status` sends the changed conditions/phase as a strategic
merge patch of pods/status with a uid precondition (utilpod.PatchPodStatus).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pocketkube.client import rest
from pocketkube.client.clock import rfc3339, wall
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient
from pocketkube.machinery import taints as tn

log = logging.getLogger("pocketkube.controllers.eviction")

Obj = dict[str, Any]
NODES = ResourceRef("", "v1", "nodes", namespaced=False)
PODS = ResourceRef("", "v1", "pods")

UNREACHABLE_NO_EXECUTE: Obj = {"key": tn.UNREACHABLE, "effect": tn.NO_EXECUTE}
NOT_READY_NO_EXECUTE: Obj = {"key": tn.NOT_READY, "effect": tn.NO_EXECUTE}
# node condition type -> condition status -> NoSchedule taint key (nodeConditionToTaintKeyStatusMap)
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": tn.NOT_READY, "Unknown": tn.UNREACHABLE},
    "MemoryPressure": {"True": "node.kubernetes.io/memory-pressure"},
    "DiskPressure": {"True": "node.kubernetes.io/disk-pressure"},
    "NetworkUnavailable": {"True": "node.kubernetes.io/network-unavailable"},
    "PIDPressure": {"True": "node.kubernetes.io/pid-pressure"},
}
CONDITION_TAINT_KEYS = frozenset(k for m in CONDITION_TAINTS.values() for k in m.values())
TAINT_RETRIES = 5


# ---------------------------------------------------------------------------- nodes
def condition(obj: Obj, type_: str) -> Obj | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == type_), None)


def zone_key(node: Obj) -> str:
    """The node's zone (region + NUL separator + zone, from the topology labels); "" when unlabelled."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    zone = labels.get("failure-domain.beta.kubernetes.io/zone", labels.get("topology.kubernetes.io/zone", ""))
    region = labels.get("failure-domain.beta.kubernetes.io/region", labels.get("topology.kubernetes.io/region", ""))
    return "" if not region and not zone else f"{region}:\x00:{zone}"


def _swapped(taints: list[Obj], add: list[Obj], remove: list[Obj]) -> list[Obj]:
    out = [t for t in taints if not tn.has_taint(remove, t)]
    for taint in add:
        at = next((i for i, t in enumerate(out) if tn.matches(t, taint)), None)
        if at is None:
            out.append(taint)
        elif out[at] != taint:
            out[at] = taint
    return out


async def swap_node_taints(client: RESTClient, node: Obj, add: list[Obj], remove: list[Obj]) -> bool:
    """Add `add` (timeAdded now) and remove `remove` on the node; False if the API refused."""
    stamp = rfc3339(wall())
    adds = [{**t, "timeAdded": stamp} for t in add]
    name = node["metadata"]["name"]
    current = node
    for _ in range(TAINT_RETRIES):
        taints = tn.taints_of(current)
        wanted = _swapped(taints, adds, remove)
        if wanted == taints:
            return True
        patch = {"metadata": {"resourceVersion": current["metadata"].get("resourceVersion", "")},
                 "spec": {"taints": wanted or None}}
        try:
            await client.patch(NODES, name, patch, patch_type=rest.STRATEGIC_MERGE_PATCH)
            return True
        except ApiError as e:
            if not e.conflict:
                log.warning("updating taints of node %s failed: %s", name, e)
                return False
        try:
            current = await client.get(NODES, name)
        except ApiError as e:
            log.warning("reading node %s to update its taints failed: %s", name, e)
            return False
    return False


# ---------------------------------------------------------------------------- tolerations
def min_toleration_seconds(tolerations: Sequence[tn.Obj]) -> float:
    """The shortest tolerationSeconds; 0 for none given; -1 when every one tolerates forever."""
    if not tolerations:
        return 0.0
    best: int | None = None
    for t in tolerations:
        seconds = t.get("tolerationSeconds")
        if seconds is None:
            continue
        if int(seconds) <= 0:
            return 0.0
        best = int(seconds) if best is None else min(best, int(seconds))
    return -1.0 if best is None else float(best)


# ---------------------------------------------------------------------------- pod status
def update_pod_condition(status: Obj, cond: Obj) -> bool:
    """Set `cond` in status.conditions (lastTransitionTime now unless the status is unchanged)."""
    cond = {**cond, "lastTransitionTime": rfc3339(wall())}
    conditions = status.setdefault("conditions", [])
    at = next((i for i, c in enumerate(conditions) if c.get("type") == cond.get("type")), None)
    if at is None:
        conditions.append(cond)
        return True
    old = conditions[at]
    if cond.get("status") == old.get("status"):
        cond["lastTransitionTime"] = old.get("lastTransitionTime")
        if "lastProbeTime" in old:
            cond.setdefault("lastProbeTime", old["lastProbeTime"])
    fields = ("status", "reason", "message", "lastProbeTime", "lastTransitionTime")
    same = all(cond.get(f) == old.get(f) for f in fields)
    conditions[at] = cond
    return not same


async def patch_pod_status(client: RESTClient, pod: Obj, new_status: Obj) -> Obj:
    """Send what changed between pod.status and `new_status` (phase, conditions) with a uid precondition."""
    meta = pod["metadata"]
    old_status = pod.get("status") or {}
    status: Obj = {}
    if new_status.get("phase") != old_status.get("phase"):
        status["phase"] = new_status.get("phase")
    old_conds = {c.get("type"): c for c in old_status.get("conditions") or []}
    changed = [c for c in new_status.get("conditions") or [] if old_conds.get(c.get("type")) != c]
    if changed:
        status["conditions"] = changed
    body = {"metadata": {"uid": meta.get("uid")}, "status": status}
    result: Obj = await client.patch(PODS, meta["name"], body, meta.get("namespace", ""),
                                     patch_type=rest.STRATEGIC_MERGE_PATCH, subresource="status")
    return result
