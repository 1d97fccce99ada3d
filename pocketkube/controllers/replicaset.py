"""ReplicaSet controller: keeps `spec.replicas` active pods matching the selector (upstream pkg/controller/replicaset).

Theory of operation: events on ReplicaSets and pods only map to the key of
the ReplicaSet concerned (the pod's controller, or for orphans every
ReplicaSet whose selector matches: owners.py, shared with the Deployment
controller). `sync(key)`:
1. reads the ReplicaSet from the cache (gone: forget its expectations);
2. claims pods (podcontrol.RefManager): active pods it controls that still
   match stay, matching orphans are adopted, owned pods that stopped matching
   are released; pods being deleted or in a terminal phase never count;
3. if its expectations are satisfied (the cache has shown every pod it
   created or deleted) and it is not being deleted, creates the missing pods
   (at most 500 per sync, slow-start batches 1, 2, 4, ...) or deletes the
   surplus, chosen by upstream's deletion preference (`deletion_order`);
4. writes status through /status when it changed: replicas,
   fullyLabeledReplicas, readyReplicas, availableReplicas (ready for
   minReadySeconds), observedGeneration and the ReplicaFailure condition
   (FailedCreate / FailedDelete with the API's message), and re-checks after
   minReadySeconds when pods are ready but not yet available.
Expectations (UIDTrackingExpectations) are raised before writes and lowered by
the pod informer's add/delete events, or at once for writes that failed.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from pocketkube.api import labels
from pocketkube.client.clock import rfc3339, wall
from pocketkube.client.events import EventRecorder
from pocketkube.client.indexer import CONTROLLER_UID_INDEX, deep_copy, index_by_controller_uid
from pocketkube.client.informer import Handlers, key_of
from pocketkube.client.rest import ApiError, RESTClient
from pocketkube.controllers import owners, podcontrol, refs
from pocketkube.controllers.base import Controller, InformerFactory
from pocketkube.controllers.expectations import UIDTrackingExpectations
from pocketkube.controllers.refs import REPLICASETS

log = logging.getLogger("pocketkube.controllers.replicaset")

Obj = dict[str, Any]

API_VERSION, KIND = "apps/v1", "ReplicaSet"
BURST_REPLICAS = 500
STATUS_UPDATE_RETRIES = 1


def desired_replicas(rs: Obj) -> int:
    """spec.replicas; 1 when unset, as the apiserver defaults it."""
    value = (rs.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def calculate_status(rs: Obj, pods: list[Obj], manage_error: Exception | None, now: datetime) -> Obj:
    """The status the pods give (replica_set_utils.calculateStatus); conditions keep their timestamps."""
    status = deep_copy(rs.get("status") or {})
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    fully = sum(1 for p in pods if all((p["metadata"].get("labels") or {}).get(k) == v
                                       for k, v in template_labels.items()))
    ready = [p for p in pods if podcontrol.is_pod_ready(p)]
    available = sum(1 for p in ready if podcontrol.is_pod_available(p, min_ready, now))
    conditions = [c for c in status.get("conditions") or []]
    failure = next((c for c in conditions if c.get("type") == "ReplicaFailure"), None)
    if manage_error is not None and failure is None:
        diff = len(pods) - desired_replicas(rs)
        reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
        conditions.append({"type": "ReplicaFailure", "status": "True", "lastTransitionTime": rfc3339(now),
                           "reason": reason, "message": podcontrol.error_text(manage_error)})
    elif manage_error is None and failure is not None:
        conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
    status.update(replicas=len(pods), fullyLabeledReplicas=fully, readyReplicas=len(ready),
                  availableReplicas=available)
    for k in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"):
        if not status.get(k):
            status.pop(k, None)  # omitempty on the wire; replicas is always present
    return status


def _same_status(old: Obj, new: Obj) -> bool:
    keys = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")
    return all(int(old.get(k) or 0) == int(new.get(k) or 0) for k in keys) and \
        (old.get("conditions") or []) == (new.get("conditions") or [])


# ---------------------------------------------------------------------------------- controller
class ReplicaSetController(Controller):
    name = "replicaset"
    workers = 5

    def __init__(self, client: RESTClient, factory: InformerFactory) -> None:
        super().__init__(client, factory)
        indexers = {CONTROLLER_UID_INDEX: index_by_controller_uid}
        self.replicasets = self.watch(REPLICASETS, indexers=indexers)
        self.pods = self.watch(refs.PODS, indexers=indexers)
        self.recorder = self.event_sender = EventRecorder(client, "replicaset-controller")
        self.pod_control = podcontrol.PodControl(client, self.recorder)
        self.expectations = UIDTrackingExpectations()
        self.burst_replicas = BURST_REPLICAS
        self.replicasets.add_handlers(Handlers(on_add=self.enqueue, on_update=self._update_rs,
                                               on_delete=self._delete_rs))
        self.pods.add_handlers(Handlers(on_add=self._add_pod, on_update=self._update_pod,
                                        on_delete=self._delete_pod))

    # ------------------------------------------------------------------ event handlers (owners.py)
    def _update_rs(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("uid") != cur["metadata"].get("uid"):
            self._delete_rs(old)
        self.enqueue(cur)

    def _delete_rs(self, rs: Obj) -> None:
        key = key_of(rs)
        self.expectations.delete(key)
        self.enqueue(key)

    def resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        """The ReplicaSet a controller reference points to, if it is still that object."""
        return owners.resolve(self.replicasets, KIND, namespace, ref)

    def matching_replicasets(self, pod: Obj) -> list[Obj]:
        """ReplicaSets whose (non-empty) selector selects the pod (getPodReplicaSets)."""
        return owners.selecting(self.replicasets.list(pod["metadata"].get("namespace", "")), pod)

    def _add_pod(self, pod: Obj) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._delete_pod(pod)  # a restarted controller sees pods already being deleted
            return
        found, owner = owners.owners_to_sync(None, pod, self.resolve, self.matching_replicasets)
        if owner is not None:
            self.expectations.creation_observed(key_of(owner))
        for rs in found:
            self.enqueue(rs)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        if cur["metadata"].get("deletionTimestamp"):
            self._delete_pod(cur)
            if old["metadata"].get("labels") != cur["metadata"].get("labels"):
                self._delete_pod(old)
            return
        found, owner = owners.owners_to_sync(old, cur, self.resolve, self.matching_replicasets)
        for rs in found:
            self.enqueue(rs)
        if owner is not None:
            min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not podcontrol.is_pod_ready(old) and podcontrol.is_pod_ready(cur):
                self.requeue_after(owner, min_ready + 1.0)

    def _delete_pod(self, pod: Obj) -> None:
        rs = self.resolve(pod["metadata"].get("namespace", ""), podcontrol.controller_of(pod))
        if rs is None:
            return
        key = key_of(rs)
        self.expectations.deletion_observed(key, key_of(pod))
        self.enqueue(key)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> float | None:
        cached = self.replicasets.get(key)
        if cached is None:
            self.expectations.delete(key)
            return None
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = labels.from_label_selector((cached.get("spec") or {}).get("selector"))
        except labels.SelectorError as e:
            log.error("replicaset %s has an invalid selector: %s", key, e)
            return None
        pods = await self.claim_pods(cached, selector)
        manage_error: Exception | None = None
        if needs_sync and not cached["metadata"].get("deletionTimestamp"):
            manage_error = await self.manage_replicas(pods, cached)
        rs = deep_copy(cached)
        updated = await self.update_status(rs, calculate_status(rs, pods, manage_error, wall()))
        spec, status = updated.get("spec") or {}, updated.get("status") or {}
        min_ready, replicas = int(spec.get("minReadySeconds") or 0), desired_replicas(updated)
        if manage_error is not None:
            raise manage_error
        if min_ready > 0 and status.get("readyReplicas", 0) == replicas and \
                status.get("availableReplicas", 0) != replicas:
            return float(min_ready)
        return None

    def candidate_pods(self, rs: Obj) -> list[Obj]:
        """Active pods of the namespace this ReplicaSet may own: its own and the orphans."""
        ns = rs["metadata"].get("namespace", "")
        pods = self.pods.by_index(CONTROLLER_UID_INDEX, rs["metadata"]["uid"])
        pods += [p for p in self.pods.by_index(CONTROLLER_UID_INDEX, "") if p["metadata"].get("namespace") == ns]
        return [p for p in pods if podcontrol.is_pod_active(p)]

    async def claim_pods(self, rs: Obj, selector: labels.Selector) -> list[Obj]:
        manager = podcontrol.RefManager(
            self.client, refs.PODS, rs, podcontrol.controller_ref(rs, API_VERSION, KIND),
            match=lambda pod: bool(selector) and labels.matches(selector, pod["metadata"].get("labels")),
            can_adopt=podcontrol.recheck_deletion(self.client, REPLICASETS, rs))
        claimed, errors = await manager.claim(self.candidate_pods(rs))
        if errors:
            raise errors[0]
        return claimed

    async def manage_replicas(self, pods: list[Obj], rs: Obj) -> Exception | None:
        """Create or delete pods towards spec.replicas; the first error met, if any."""
        key = key_of(rs)
        diff = len(pods) - desired_replicas(rs)
        if diff < 0:
            return await self._create(rs, key, min(-diff, self.burst_replicas))
        if diff > 0:
            return await self._delete(rs, key, pods, min(diff, self.burst_replicas))
        return None

    async def _create(self, rs: Obj, key: str, count: int) -> Exception | None:
        self.expectations.expect_creations(key, count)
        log.info("too few replicas for %s: need %s, creating %d", key, desired_replicas(rs), count)
        ref = podcontrol.controller_ref(rs, API_VERSION, KIND)
        template = (rs.get("spec") or {}).get("template") or {}

        async def create() -> None:
            try:
                await self.pod_control.create_pod(rs["metadata"]["namespace"], template, rs, ref)
            except Exception as e:
                if not podcontrol.namespace_terminating(e):
                    raise

        successes, err = await podcontrol.slow_start_batch(count, podcontrol.SLOW_START_INITIAL_BATCH_SIZE, create)
        for _ in range(count - successes):  # never to be observed
            self.expectations.creation_observed(key)
        return err

    async def _delete(self, rs: Obj, key: str, pods: list[Obj], count: int) -> Exception | None:
        log.info("too many replicas for %s: need %s, deleting %d", key, desired_replicas(rs), count)
        victims = pods if count >= len(pods) else podcontrol.deletion_order(pods, self.related_pods(rs), wall())
        victims = victims[:count]
        self.expectations.expect_deletions(key, [key_of(p) for p in victims])

        async def delete(pod: Obj) -> Exception | None:
            try:
                await self.pod_control.delete_pod(rs["metadata"]["namespace"], pod["metadata"]["name"], rs)
            except Exception as e:
                self.expectations.deletion_observed(key, key_of(pod))
                if not (isinstance(e, ApiError) and e.not_found):
                    return e
            return None

        results = await asyncio.gather(*(delete(p) for p in victims))
        return next((e for e in results if e is not None), None)

    def related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every ReplicaSet with the same controller (getIndirectlyRelatedPods)."""
        owner = podcontrol.controller_of(rs)
        if owner is None:
            return []
        ns = rs["metadata"].get("namespace", "")
        siblings = [r for r in self.replicasets.by_index(CONTROLLER_UID_INDEX, owner.get("uid", ""))
                    if r["metadata"].get("namespace") == ns]
        seen: set[str] = set()
        related = []
        for sibling in siblings:
            for pod in self.pods.by_index(CONTROLLER_UID_INDEX, sibling["metadata"]["uid"]):
                if pod["metadata"]["uid"] not in seen:
                    seen.add(pod["metadata"]["uid"])
                    related.append(pod)
        return related

    async def update_status(self, rs: Obj, status: Obj) -> Obj:
        """PUT /status when anything changed (one retry after a fresh GET); the stored ReplicaSet."""
        meta = rs["metadata"]
        old = rs.get("status") or {}
        if _same_status(old, status) and meta.get("generation") == old.get("observedGeneration"):
            return rs
        status["observedGeneration"] = meta.get("generation")
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            rs["status"] = status
            try:
                return await self.client.update(REPLICASETS, rs, subresource="status")
            except ApiError:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise
                rs = await self.client.get(REPLICASETS, meta["name"], meta.get("namespace", ""))
        raise AssertionError("unreachable")
