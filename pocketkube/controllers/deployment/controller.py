"""Deployment controller: wiring and dispatch (upstream deployment_controller.go).

Theory of operation: Deployment events enqueue the Deployment; ReplicaSet
events enqueue their controlling Deployment (orphans: every Deployment whose
selector matches, so one may adopt it; the routing rules are owners.py, shared
with the ReplicaSet controller); a pod deletion enqueues a Recreate
Deployment once it has no pods left. `sync(key)` works on a copy of the
cached Deployment:
1. claim ReplicaSets (adopt matching orphans, release owned ones that no
   longer match) and group the pods of the claimed ones by ReplicaSet;
2. dispatch, in upstream's order: being deleted -> status only; paused ->
   scale and status (no rollout); a deprecated rollback annotation ->
   rollback; a scaling event (an active ReplicaSet's desired-replicas
   annotation differs from spec.replicas) -> proportional scaling; otherwise
   the strategy's rollout (Recreate or RollingUpdate).
A sync returns the delay before a stalled rollout's progress deadline must
be checked. Errors retry with the queue's backoff, 15 times at most; a
namespace being deleted ends the sync quietly.
"""

from __future__ import annotations

import logging
from typing import Any

from pocketkube.client.events import WARNING, EventRecorder
from pocketkube.client.indexer import CONTROLLER_UID_INDEX, deep_copy, index_by_controller_uid
from pocketkube.client.informer import Handlers, key_of
from pocketkube.client.rest import RESTClient
from pocketkube.controllers import owners, podcontrol, refs
from pocketkube.controllers.base import Controller, InformerFactory
from pocketkube.controllers.deployment import recreate, rollback, rolling, util
from pocketkube.controllers.deployment.sync import API_VERSION, KIND, Syncer
from pocketkube.controllers.owners import selects
from pocketkube.controllers.refs import DEPLOYMENTS, REPLICASETS

log = logging.getLogger("pocketkube.controllers.deployment")

Obj = dict[str, Any]


class DeploymentController(Controller):
    name = "deployment"
    workers = 5
    max_retries = 15

    def __init__(self, client: RESTClient, factory: InformerFactory) -> None:
        super().__init__(client, factory)
        indexers = {CONTROLLER_UID_INDEX: index_by_controller_uid}
        self.deployments = self.watch(DEPLOYMENTS)
        self.replicasets = self.watch(REPLICASETS, indexers=indexers)
        self.pods = self.watch(refs.PODS, indexers=indexers)
        self.recorder = self.event_sender = EventRecorder(client, "deployment-controller")
        self.syncer = Syncer(client, self.recorder, self.replicasets)
        self.deployments.add_handlers(Handlers(on_add=self.enqueue, on_update=lambda old, cur: self.enqueue(cur),
                                               on_delete=self.enqueue))
        self.replicasets.add_handlers(Handlers(on_add=self._add_rs, on_update=self._update_rs,
                                               on_delete=self._delete_rs))
        self.pods.add_handlers(Handlers(on_delete=self._delete_pod))

    # ------------------------------------------------------------------ event handlers (owners.py)
    def resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        return owners.resolve(self.deployments, KIND, namespace, ref)

    def deployments_for(self, rs: Obj) -> list[Obj]:
        if not rs["metadata"].get("labels"):
            return []
        return owners.selecting(self.deployments.list(rs["metadata"].get("namespace", "")), rs)

    def _add_rs(self, rs: Obj) -> None:
        if rs["metadata"].get("deletionTimestamp"):
            self._delete_rs(rs)
            return
        for d in owners.owners_to_sync(None, rs, self.resolve, self.deployments_for)[0]:
            self.enqueue(d)

    def _update_rs(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        for d in owners.owners_to_sync(old, cur, self.resolve, self.deployments_for)[0]:
            self.enqueue(d)

    def _delete_rs(self, rs: Obj) -> None:
        d = self.resolve(rs["metadata"].get("namespace", ""), podcontrol.controller_of(rs))
        if d is not None:
            self.enqueue(d)

    def _delete_pod(self, pod: Obj) -> None:
        ns = pod["metadata"].get("namespace", "")
        rs = owners.resolve(self.replicasets, "ReplicaSet", ns, podcontrol.controller_of(pod))
        if rs is None:
            return
        d = self.resolve(ns, podcontrol.controller_of(rs))
        if d is None or util.strategy_type(d) != util.RECREATE:
            return
        owned = self.replicasets.by_index(CONTROLLER_UID_INDEX, d["metadata"]["uid"])
        if not any(self.pods.by_index(CONTROLLER_UID_INDEX, r["metadata"]["uid"]) for r in owned):
            self.enqueue(d)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> float | None:
        cached = self.deployments.get(key)
        if cached is None:
            log.debug("deployment %s has been deleted", key)
            return None
        d = deep_copy(cached)
        try:
            return await self.sync_deployment(d)
        except Exception as e:
            if podcontrol.namespace_terminating(e):
                return None
            raise

    async def sync_deployment(self, d: Obj) -> float | None:
        s = self.syncer
        if (d.get("spec") or {}).get("selector") == {}:
            self.recorder.event(d, WARNING, "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            if int((d.get("status") or {}).get("observedGeneration") or 0) < int(d["metadata"].get("generation") or 0):
                d.setdefault("status", {})["observedGeneration"] = d["metadata"].get("generation")
                await s.update_status(d)
            return None
        rs_list = await self.claim_replicasets(d)
        pod_map = self.pod_map(d, rs_list)
        if d["metadata"].get("deletionTimestamp"):
            await s.sync_status_only(d, rs_list)
            return None
        await s.check_paused_conditions(d)
        rollback_pending = rollback.rollback_to(d) is not None
        if (d.get("spec") or {}).get("paused"):
            await s.sync(d, rs_list, rollback_pending=rollback_pending)
            return None
        if rollback_pending:
            await rollback.rollback(s, d, rs_list)
            return None
        if await s.is_scaling_event(d, rs_list):
            await s.sync(d, rs_list, rollback_pending=False)
            return None
        kind = util.strategy_type(d)
        if kind == util.RECREATE:
            return await recreate.rollout_recreate(s, d, rs_list, pod_map)
        if kind == util.ROLLING_UPDATE:
            return await rolling.rollout_rolling(s, d, rs_list)
        raise ValueError(f"unexpected deployment strategy type: {kind}")

    async def claim_replicasets(self, d: Obj) -> list[Obj]:
        """The ReplicaSets this Deployment controls, after adoption and release."""
        if owners.selector_of(d) is None:
            raise ValueError(f"deployment {key_of(d)} has invalid label selector")
        ns = d["metadata"].get("namespace", "")
        candidates = self.replicasets.by_index(CONTROLLER_UID_INDEX, d["metadata"]["uid"])
        candidates += [rs for rs in self.replicasets.by_index(CONTROLLER_UID_INDEX, "")
                       if rs["metadata"].get("namespace") == ns]
        manager = podcontrol.RefManager(
            self.client, REPLICASETS, d, podcontrol.controller_ref(d, API_VERSION, KIND),
            match=lambda rs: selects(d, rs), can_adopt=podcontrol.recheck_deletion(self.client, DEPLOYMENTS, d))
        claimed, errors = await manager.claim(candidates)
        if errors:
            raise errors[0]
        return claimed

    def pod_map(self, d: Obj, rs_list: list[Obj]) -> dict[str, list[Obj]]:
        """Pods selected by the Deployment, by the uid of the claimed ReplicaSet controlling them."""
        return {rs["metadata"]["uid"]: [p for p in self.pods.by_index(CONTROLLER_UID_INDEX, rs["metadata"]["uid"])
                                        if selects(d, p)]
                for rs in rs_list}
