"""Deployment controller: wiring and dispatch (upstream deployment_controller.go).

Theory of operation: Deployment events enqueue the Deployment; ReplicaSet
events enqueue their controlling Deployment (orphans: every Deployment whose
selector matches, so one may adopt it); a pod deletion enqueues a Recreate
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

import asyncio
import contextlib
import logging
from typing import Any

from pocketkube.api import labels
from pocketkube.client.events import WARNING, EventRecorder
from pocketkube.client.indexer import CONTROLLER_UID_INDEX, deep_copy, index_by_controller_uid
from pocketkube.client.informer import Handlers, key_of
from pocketkube.client.rest import RESTClient
from pocketkube.controllers import podcontrol, refs
from pocketkube.controllers.base import Controller, InformerFactory
from pocketkube.controllers.deployment import recreate, rollback, rolling, util
from pocketkube.controllers.deployment.sync import API_VERSION, DEPLOYMENTS, KIND, REPLICASETS, Syncer

log = logging.getLogger("pocketkube.controllers.deployment")

Obj = dict[str, Any]

EVENT_FLUSH_TIMEOUT = 2.0


def _selector(obj: Obj) -> labels.Selector | None:
    try:
        return labels.from_label_selector((obj.get("spec") or {}).get("selector"))
    except labels.SelectorError:
        return None


def selects(d: Obj, obj: Obj) -> bool:
    """A non-empty, valid selector of d matches obj's labels (an empty one matches nothing)."""
    sel = _selector(d)
    return bool(sel) and labels.matches(sel or (), (obj.get("metadata") or {}).get("labels"))


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
        self.recorder = EventRecorder(client, "deployment-controller")
        self.syncer = Syncer(client, self.recorder, self.replicasets)
        self.deployments.add_handlers(Handlers(on_add=self.enqueue, on_update=lambda old, cur: self.enqueue(cur),
                                               on_delete=self.enqueue))
        self.replicasets.add_handlers(Handlers(on_add=self._add_rs, on_update=self._update_rs,
                                               on_delete=self._delete_rs))
        self.pods.add_handlers(Handlers(on_delete=self._delete_pod))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            events = tg.create_task(self.recorder.run(), name=f"{self.name}-events")
            await super().run()
            with contextlib.suppress(TimeoutError):  # best effort, as events are
                await asyncio.wait_for(self.recorder.flush(), EVENT_FLUSH_TIMEOUT)
            events.cancel()

    # ------------------------------------------------------------------ event handlers
    def resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != KIND:
            return None
        d = self.deployments.get(f"{namespace}/{ref.get('name', '')}")
        if d is None or d["metadata"].get("uid") != ref.get("uid"):
            return None
        return d

    def deployments_for(self, rs: Obj) -> list[Obj]:
        if not rs["metadata"].get("labels"):
            return []
        return [d for d in self.deployments.list(rs["metadata"].get("namespace", "")) if selects(d, rs)]

    def _add_rs(self, rs: Obj) -> None:
        if rs["metadata"].get("deletionTimestamp"):
            self._delete_rs(rs)
            return
        ref = podcontrol.controller_of(rs)
        if ref is not None:
            d = self.resolve(rs["metadata"].get("namespace", ""), ref)
            if d is not None:
                self.enqueue(d)
            return
        for d in self.deployments_for(rs):
            self.enqueue(d)

    def _update_rs(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        ns = cur["metadata"].get("namespace", "")
        cur_ref, old_ref = podcontrol.controller_of(cur), podcontrol.controller_of(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None and (old_d := self.resolve(ns, old_ref)) is not None:
            self.enqueue(old_d)
        if cur_ref is not None:
            d = self.resolve(ns, cur_ref)
            if d is not None:
                self.enqueue(d)
            return
        if ref_changed or old["metadata"].get("labels") != cur["metadata"].get("labels"):
            for d in self.deployments_for(cur):
                self.enqueue(d)

    def _delete_rs(self, rs: Obj) -> None:
        d = self.resolve(rs["metadata"].get("namespace", ""), podcontrol.controller_of(rs))
        if d is not None:
            self.enqueue(d)

    def _delete_pod(self, pod: Obj) -> None:
        ns = pod["metadata"].get("namespace", "")
        ref = podcontrol.controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.get(f"{ns}/{ref.get('name', '')}")
        if rs is None or rs["metadata"].get("uid") != ref.get("uid"):
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
        if _selector(d) is None:
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
