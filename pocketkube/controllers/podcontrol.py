"""Creating, deleting and claiming the children of a controller (upstream controller_utils + ref manager).

Theory of operation:
- `PodControl` is the only way the workload controllers write pods. A pod is
  built from the owner's template (labels, annotations, finalizers and spec
  copied; generateName `<owner>-`) with one ownerReference marking the owner
  as its controller with blockOwnerDeletion, and created with one POST. Every
  outcome is an event on the owner, with upstream's reasons and words:
  SuccessfulCreate "Created pod: x", FailedCreate "Error creating: ...",
  SuccessfulDelete "Deleted pod: x", FailedDelete "Error deleting: ...".
- `slow_start_batch` runs `count` calls in batches of 1, 2, 4, ... and stops
  at the first batch with a failure, so a controller that is refused (quota,
  admission) learns it from one request instead of five hundred.
- Pod state (active, ready, available after minReadySeconds) and
  `deletion_order`, upstream's preference when scaling down: unscheduled
  before scheduled, Pending < Unknown < Running, not ready before ready, lower
  pod-deletion-cost first, more sibling pods on the same node first, ready
  for less time first, more container restarts first, newer first (times
  compared on a log2 scale, ties by uid).
- `RefManager` is the controller reference manager: for each candidate it decides
  whether the controller owns it, adopting matching orphans (a strategic merge
  patch adding the controller reference, after one uncached re-read proving
  the controller is not being deleted) and releasing owned objects that no
  longer match (a patch deleting the reference). Objects being deleted are
  never adopted; a controller being deleted neither adopts nor releases. A
  child that vanished meanwhile is not an error.
Cached objects are never changed: everything sent is built fresh.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pocketkube.client.clock import parse_time
from pocketkube.client.events import NORMAL, WARNING, EventRecorder
from pocketkube.client.rest import STRATEGIC_MERGE_PATCH, ApiError, ResourceRef, RESTClient
from pocketkube.controllers import refs

Obj = dict[str, Any]

SLOW_START_INITIAL_BATCH_SIZE = 1
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def controller_ref(owner: Obj, api_version: str, kind: str) -> Obj:
    """An ownerReference naming `owner` as the controller (metav1.NewControllerRef)."""
    meta = owner["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            found: Obj = ref
            return found
    return None


def namespace_terminating(err: Exception) -> bool:
    """The namespace is being deleted: creating anything in it is refused for good."""
    if not isinstance(err, ApiError):
        return False
    causes = ((err.status.get("details") or {}).get("causes")) or []
    return any(c.get("reason") == NAMESPACE_TERMINATING_CAUSE for c in causes)


def error_text(err: Exception) -> str:
    """What Go's err.Error() prints for an API error: the Status message."""
    if isinstance(err, ApiError) and err.message:
        return err.message
    return str(err)


def pod_from_template(template: Obj, owner: Obj, ref: Obj) -> Obj:
    """The pod a controller creates from its template (GetPodFromTemplate)."""
    tmeta = template.get("metadata") or {}
    owner_meta = owner["metadata"]
    meta: Obj = {"generateName": f"{owner_meta['name']}-", "namespace": owner_meta.get("namespace", ""),
                 "ownerReferences": [dict(ref)]}
    for key in ("labels", "annotations"):
        if tmeta.get(key):
            meta[key] = dict(tmeta[key])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    spec = template.get("spec") or {}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": _copy(spec)}


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class PodControl:
    """Pod writes of a workload controller, each reported as an event on the owner."""

    def __init__(self, client: RESTClient, recorder: EventRecorder) -> None:
        self.client = client
        self.recorder = recorder

    async def create_pod(self, namespace: str, template: Obj, owner: Obj, ref: Obj) -> Obj:
        if not (template.get("metadata") or {}).get("labels"):
            raise ValueError("unable to create pods, no labels")
        pod = pod_from_template(template, owner, ref)
        try:
            created = await self.client.create(refs.PODS, pod, namespace)
        except Exception as e:
            if not namespace_terminating(e):
                self.recorder.event(owner, WARNING, "FailedCreate", f"Error creating: {error_text(e)}")
            raise
        self.recorder.event(owner, NORMAL, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        return created

    async def delete_pod(self, namespace: str, name: str, owner: Obj) -> None:
        try:
            await self.client.delete(refs.PODS, name, namespace)
        except ApiError as e:
            if not e.not_found:
                self.recorder.event(owner, WARNING, "FailedDelete", f"Error deleting: {error_text(e)}")
            raise
        self.recorder.event(owner, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")

    async def patch_pod(self, namespace: str, name: str, patch: Obj) -> Obj:
        return await self.client.patch(refs.PODS, name, patch, namespace, patch_type=STRATEGIC_MERGE_PATCH)


async def slow_start_batch(count: int, initial_batch_size: int,
                           fn: Callable[[], Awaitable[object]]) -> tuple[int, Exception | None]:
    """Call fn `count` times in growing concurrent batches; (successes, first error) at the first failure."""
    remaining, successes = count, 0
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for r in errors:
            if not isinstance(r, Exception):
                raise r  # cancellation and the like are not results
        successes += batch - len(errors)
        if errors:
            first = errors[0]
            assert isinstance(first, Exception)
            return successes, first
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


# ---------------------------------------------------------------------------------- pod state and deletion order
def is_pod_active(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def ready_condition(pod: Obj) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            found: Obj = c
            return found
    return None


def is_pod_ready(pod: Obj) -> bool:
    c = ready_condition(pod)
    return c is not None and c.get("status") == "True"


def is_pod_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready, and for minReadySeconds already (podutil.IsPodAvailable)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = parse_time((ready_condition(pod) or {}).get("lastTransitionTime"))
    return since is not None and (now - since).total_seconds() > min_ready_seconds


def _deletion_cost(pod: Obj) -> int:
    raw = (pod["metadata"].get("annotations") or {}).get(DELETION_COST)
    try:
        cost = int(raw) if raw is not None else 0
    except ValueError:
        return 0
    return cost if -(2**31) <= cost < 2**31 else 0


def _max_restarts(pod: Obj) -> int:
    return max((int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or []),
               default=0)


def _log_rank(t: datetime | None, now: datetime) -> int:
    if t is None:
        return -1
    d = (now - t).total_seconds() * 1e9
    return int(math.log2(d)) if d > 0 else -1


def _newer_first(t1: datetime | None, t2: datetime | None, uid1: str, uid2: str, now: datetime) -> int:
    """Rules 6 and 8: zero time first, then more recent first on a logarithmic scale; ties by uid."""
    if t1 is None or t2 is None:
        return -1 if t1 is None else 1
    diff = _log_rank(t1, now) - _log_rank(t2, now)
    if diff == 0:
        return -1 if uid1 < uid2 else (1 if uid1 > uid2 else 0)
    return -1 if diff < 0 else 1


def _compare(a: tuple[Obj, int], b: tuple[Obj, int], now: datetime) -> int:
    """Negative when pod a should be deleted before pod b (ActivePodsWithRanks.Less)."""
    (pa, ra), (pb, rb) = a, b
    na, nb = (pa.get("spec") or {}).get("nodeName") or "", (pb.get("spec") or {}).get("nodeName") or ""
    if na != nb and (not na or not nb):
        return -1 if not na else 1
    oa = _PHASE_ORDINAL.get((pa.get("status") or {}).get("phase", ""), 0)
    ob = _PHASE_ORDINAL.get((pb.get("status") or {}).get("phase", ""), 0)
    if oa != ob:
        return -1 if oa < ob else 1
    if is_pod_ready(pa) != is_pod_ready(pb):
        return -1 if not is_pod_ready(pa) else 1
    ca, cb = _deletion_cost(pa), _deletion_cost(pb)
    if ca != cb:
        return -1 if ca < cb else 1
    if ra != rb:
        return -1 if ra > rb else 1
    ua, ub = pa["metadata"].get("uid", ""), pb["metadata"].get("uid", "")
    if is_pod_ready(pa) and is_pod_ready(pb):
        ta = parse_time((ready_condition(pa) or {}).get("lastTransitionTime"))
        tb = parse_time((ready_condition(pb) or {}).get("lastTransitionTime"))
        if ta != tb:
            return _newer_first(ta, tb, ua, ub, now)
    if _max_restarts(pa) != _max_restarts(pb):
        return -1 if _max_restarts(pa) > _max_restarts(pb) else 1
    ta, tb = parse_time(pa["metadata"].get("creationTimestamp")), parse_time(pb["metadata"].get("creationTimestamp"))
    if ta != tb:
        return _newer_first(ta, tb, ua, ub, now)
    return 0


def deletion_order(pods: list[Obj], related: list[Obj], now: datetime) -> list[Obj]:
    """`pods` in the order upstream prefers to delete them; rank = active related pods on the same node."""
    on_node: dict[str, int] = {}
    for p in related:
        if is_pod_active(p):
            node = (p.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(p, on_node.get((p.get("spec") or {}).get("nodeName") or "", 0)) for p in pods]
    def cmp(a: tuple[Obj, int], b: tuple[Obj, int]) -> int:
        return _compare(a, b, now)
    ranked.sort(key=functools.cmp_to_key(cmp))
    return [p for p, _ in ranked]


# ---------------------------------------------------------------------------------- claiming
def adopt_patch(ref: Obj, child_uid: str) -> Obj:
    """Strategic merge patch making `ref` the child's controller (uid guards against a recreated child)."""
    return {"metadata": {"ownerReferences": [dict(ref)], "uid": child_uid}}


def release_patch(owner_uid: str, child_uid: str) -> Obj:
    return {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}], "uid": child_uid}}


@dataclass
class RefManager:
    """Adoption and release of one kind of child for one controller object (ControllerRefManager)."""

    client: RESTClient
    child: ResourceRef
    controller: Obj
    ref: Obj
    match: Callable[[Obj], bool]
    can_adopt: Callable[[], Awaitable[None]]
    _adoptable: bool | None = None

    async def _check_can_adopt(self) -> None:
        """Recheck the controller once, uncached, before the first adoption (RecheckDeletionTimestamp)."""
        if self._adoptable is None:
            try:
                await self.can_adopt()
            except Exception:
                self._adoptable = False
                raise
            self._adoptable = True
        elif not self._adoptable:
            raise RuntimeError("controller can no longer adopt")

    async def claim(self, objs: Iterable[Obj]) -> tuple[list[Obj], list[Exception]]:
        """The children this controller owns after adopting and releasing; plus the errors met."""
        claimed: list[Obj] = []
        errors: list[Exception] = []
        for obj in objs:
            try:
                if await self._claim_one(obj):
                    claimed.append(obj)
            except Exception as e:  # aggregated, as upstream: one bad child does not stop the rest
                errors.append(e)
        return claimed, errors

    async def _claim_one(self, obj: Obj) -> bool:
        cmeta, meta = self.controller["metadata"], obj["metadata"]
        ref = controller_of(obj)
        if ref is not None:
            if ref.get("uid") != cmeta["uid"]:
                return False
            if self.match(obj):
                return True
            if cmeta.get("deletionTimestamp"):
                return False
            await self._patch(obj, release_patch(cmeta["uid"], meta["uid"]), releasing=True)
            return False
        if cmeta.get("deletionTimestamp") or not self.match(obj) or meta.get("deletionTimestamp"):
            return False
        if cmeta.get("namespace") and cmeta["namespace"] != meta.get("namespace"):
            return False
        try:
            await self._check_can_adopt()
        except Exception as e:
            raise RuntimeError(f"can't adopt {self.child.plural} {meta.get('namespace')}/{meta['name']} "
                               f"({meta['uid']}): {e}") from e
        return await self._patch(obj, adopt_patch(self.ref, meta["uid"]), releasing=False)

    async def _patch(self, obj: Obj, patch: Obj, *, releasing: bool) -> bool:
        meta = obj["metadata"]
        try:
            await self.client.patch(self.child, meta["name"], patch, meta.get("namespace", ""),
                                    patch_type=STRATEGIC_MERGE_PATCH)
        except ApiError as e:
            if e.not_found or (releasing and e.code == 422):
                return False  # gone (or recreated with another uid): nothing to claim
            raise
        return not releasing


def recheck_deletion(client: RESTClient, resource: ResourceRef, controller: Obj) -> Callable[[], Awaitable[None]]:
    """can_adopt for a RefManager: a fresh GET must show the same, undeleted controller."""
    async def check() -> None:
        meta = controller["metadata"]
        fresh = await client.get(resource, meta["name"], meta.get("namespace", ""))
        fmeta = fresh["metadata"]
        if fmeta.get("uid") != meta["uid"]:
            raise RuntimeError(f"original {controller.get('kind', '')} {meta.get('namespace')}/{meta['name']} is "
                               f"gone: got uid {fmeta.get('uid')}, wanted {meta['uid']}")
        if fmeta.get("deletionTimestamp"):
            raise RuntimeError(f"{meta.get('namespace')}/{meta['name']} has just been deleted at "
                               f"{fmeta['deletionTimestamp']}")
    return check
