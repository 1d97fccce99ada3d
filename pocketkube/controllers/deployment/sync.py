"""The Deployment controller's actions: new ReplicaSet and revisions, scaling, cleanup, status (upstream sync.go).

Theory of operation: a `Syncer` performs every write of one Deployment sync.
It works on a private copy of the Deployment (`d`), which it updates as
upstream does (revision annotation, conditions, collisionCount) and writes
through /status; the ReplicaSets it reads are cache objects and are copied
before any change.
- `get_all_rss_and_sync_revision`: old ReplicaSets are all but the new one
  (the one whose template is the Deployment's). The new one gets revision
  max(old)+1 (keeping a revision-history when it already had one: a
  rollback), the Deployment's annotations and minReadySeconds; the
  Deployment gets the new one's revision. With `create`, a missing new
  ReplicaSet is created as `<name>-<hash>`, sized by the strategy; a name
  taken by a different template is a hash collision: collisionCount goes up
  and the sync is retried.
- `scale` handles scaling events and paused Deployments: a single active (or
  the newest) ReplicaSet takes the whole size; a saturated new one lets the
  old ones go to 0; otherwise the surplus or deficit against replicas +
  maxSurge is spread proportionally to the size each ReplicaSet was last
  scaled for (the max-replicas annotation), leftovers to the largest.
- Every size change is one ReplicaSet update with the desired-replicas and
  max-replicas annotations and one ScalingReplicaSet event
  "Scaled up|down replica set <rs> from <old> to <new>".
- `cleanup` deletes old ReplicaSets beyond revisionHistoryLimit, oldest
  revision first, but only those fully scaled down and observed so.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from pocketkube.client.clock import WallClock, wall
from pocketkube.client.events import NORMAL, WARNING, EventRecorder
from pocketkube.client.indexer import deep_copy
from pocketkube.client.informer import Informer
from pocketkube.client.rest import ApiError, RESTClient
from pocketkube.controllers import podcontrol
from pocketkube.controllers.deployment import progress, util
from pocketkube.controllers.refs import DEPLOYMENTS, REPLICASETS

log = logging.getLogger("pocketkube.controllers.deployment")

Obj = dict[str, Any]

API_VERSION, KIND = "apps/v1", "Deployment"


class Syncer:
    def __init__(self, client: RESTClient, recorder: EventRecorder, replicasets: Informer, *,
                 now: WallClock = wall) -> None:
        self.client = client
        self.recorder = recorder
        self.replicasets = replicasets
        self.now = now

    # ------------------------------------------------------------------ writes of the Deployment
    async def update_status(self, d: Obj) -> None:
        """PUT d through /status (annotations travel too); d keeps the new resourceVersion."""
        stored = await self.client.update(DEPLOYMENTS, d, subresource="status")
        d["metadata"]["resourceVersion"] = stored["metadata"].get("resourceVersion")

    # ------------------------------------------------------------------ new ReplicaSet and revisions
    async def get_all_rss_and_sync_revision(self, d: Obj, rs_list: list[Obj],
                                            create: bool) -> tuple[Obj | None, list[Obj]]:
        old_rss = util.find_old_replica_sets(d, rs_list)
        new_rs = await self.get_new_rs(d, rs_list, old_rss, create)
        if new_rs is not None:  # later steps of this sync must not write from the stale copy
            uid = new_rs["metadata"].get("uid")
            known = any(rs["metadata"].get("uid") == uid for rs in rs_list)
            rs_list[:] = [new_rs if rs["metadata"].get("uid") == uid else rs for rs in rs_list]
            if not known:
                rs_list.append(new_rs)
        return new_rs, old_rss

    async def get_new_rs(self, d: Obj, rs_list: list[Obj], old_rss: list[Obj], create: bool) -> Obj | None:
        existing = util.find_new_replica_set(d, rs_list)
        new_revision = util.max_revision(old_rss) + 1
        if existing is not None:
            return await self._sync_existing_new_rs(d, existing, new_revision)
        if not create:
            return None
        return await self._create_new_rs(d, old_rss, new_revision)

    async def _sync_existing_new_rs(self, d: Obj, existing: Obj, new_revision: int) -> Obj:
        rs = deep_copy(existing)
        annotations_changed = util.set_new_rs_annotations(d, rs, new_revision, exists=True)
        min_ready = (d.get("spec") or {}).get("minReadySeconds") or 0
        if annotations_changed or (rs["spec"].get("minReadySeconds") or 0) != min_ready:
            _set_min_ready(rs, min_ready)
            return await self.client.update(REPLICASETS, rs)
        needs_update = util.set_deployment_revision(d, (rs["metadata"].get("annotations") or {}).get(
            util.REVISION, ""))
        if util.has_progress_deadline(d) and progress.get_condition(d.get("status"), progress.PROGRESSING) is None:
            self._set_progressing(d, "True", progress.FOUND_NEW_RS, f'Found new replica set "{rs["metadata"]["name"]}"')
            needs_update = True
        if needs_update:
            await self.update_status(d)
        return rs

    def _new_rs_object(self, d: Obj, all_old: list[Obj], new_revision: int) -> Obj:
        collision = (d.get("status") or {}).get("collisionCount")
        pod_hash = util.compute_hash(util.template_of(d), collision)
        template, selector = util.new_rs_template(d, pod_hash)
        meta = d["metadata"]
        rs: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": f"{meta['name']}-{pod_hash}", "namespace": meta.get("namespace", ""),
                                "labels": dict(template["metadata"]["labels"]),
                                "ownerReferences": [podcontrol.controller_ref(d, API_VERSION, KIND)]},
                   "spec": {"replicas": 0, "selector": selector, "template": template}}
        _set_min_ready(rs, (d.get("spec") or {}).get("minReadySeconds") or 0)
        rs["spec"]["replicas"] = util.new_rs_new_replicas(d, [*all_old, rs], rs)
        util.set_new_rs_annotations(d, rs, new_revision, exists=False)
        return rs

    async def _create_new_rs(self, d: Obj, old_rss: list[Obj], new_revision: int) -> Obj:
        rs = self._new_rs_object(d, old_rss, new_revision)
        name, ns, count = rs["metadata"]["name"], rs["metadata"]["namespace"], rs["spec"]["replicas"]
        already_exists = False
        try:
            created = await self.client.create(REPLICASETS, rs, ns)
        except ApiError as e:
            if not e.already_exists:
                await self._report_create_failure(d, name, e)
                raise
            already_exists = True
            created = await self._existing_or_collision(d, name, e)
        if not already_exists and count > 0:
            self.recorder.event(d, NORMAL, "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {count}")
        needs_update = util.set_deployment_revision(d, str(new_revision))
        if not already_exists and util.has_progress_deadline(d):
            self._set_progressing(d, "True", progress.NEW_RS_CREATED, f'Created new replica set "{name}"')
            needs_update = True
        if needs_update:
            await self.update_status(d)
        return created

    async def _existing_or_collision(self, d: Obj, name: str, err: ApiError) -> Obj:
        """After AlreadyExists: our own new ReplicaSet (a slow cache), or a hash collision to retry."""
        rs = self.replicasets.get(f"{d['metadata'].get('namespace', '')}/{name}")
        if rs is None:
            raise err
        ref = podcontrol.controller_of(rs)
        if ref is not None and ref.get("uid") == d["metadata"]["uid"] and \
                util.equal_ignore_hash(util.template_of(d), util.template_of(rs)):
            return rs
        status = d.setdefault("status", {})
        before = int(status.get("collisionCount") or 0)
        status["collisionCount"] = before + 1
        try:
            await self.update_status(d)
            log.info("hash collision for deployment %s: collisionCount %d -> %d", d["metadata"]["name"], before,
                     before + 1)
        except ApiError:
            pass
        raise err

    async def _report_create_failure(self, d: Obj, name: str, err: ApiError) -> None:
        if podcontrol.namespace_terminating(err):
            return
        msg = f'Failed to create new replica set "{name}": {podcontrol.error_text(err)}'
        if util.has_progress_deadline(d):
            self._set_progressing(d, "False", progress.FAILED_RS_CREATE, msg)
            with contextlib.suppress(ApiError):
                await self.update_status(d)
        self.recorder.event(d, WARNING, progress.FAILED_RS_CREATE, msg)

    # ------------------------------------------------------------------ scaling
    async def scale_rs_and_record_event(self, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
        if util.replicas(rs) == new_scale:
            return False, rs
        return await self.scale_rs(rs, new_scale, d, "up" if util.replicas(rs) < new_scale else "down")

    async def scale_rs(self, rs: Obj, new_scale: int, d: Obj, operation: str) -> tuple[bool, Obj]:
        old_scale = util.replicas(rs)
        desired, maximum = util.replicas(d), util.replicas(d) + util.max_surge(d)
        size_changes = old_scale != new_scale
        if not size_changes and not util.replicas_annotations_need_update(rs, desired, maximum):
            return False, rs
        copy = deep_copy(rs)
        copy["spec"]["replicas"] = new_scale
        util.set_replicas_annotations(copy, desired, maximum)
        updated = await self.client.update(REPLICASETS, copy)
        if size_changes:
            self.recorder.event(d, NORMAL, "ScalingReplicaSet",
                                f"Scaled {operation} replica set {rs['metadata']['name']} from {old_scale} to {new_scale}")
        return size_changes, updated

    async def scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        """Scale for a scaling event or a paused Deployment (proportional during a rollout)."""
        only = util.find_active_or_latest(new_rs, old_rss)
        if only is not None:
            if util.replicas(only) != util.replicas(d):
                await self.scale_rs_and_record_event(only, util.replicas(d), d)
            return
        if util.is_saturated(d, new_rs):
            for old in util.filter_active(list(old_rss)):
                await self.scale_rs_and_record_event(old, 0, d)
            return
        if util.is_rolling_update(d):
            await self._scale_proportionally(d, util.filter_active([*old_rss, new_rs]))

    async def _scale_proportionally(self, d: Obj, active: list[Obj]) -> None:
        allowed = util.replicas(d) + util.max_surge(d) if util.replicas(d) > 0 else 0
        to_add = allowed - util.total(list(active))
        operation = ""
        if to_add > 0:
            active, operation = util.by_size_newer(active), "up"
        elif to_add < 0:
            active, operation = util.by_size_older(active), "down"
        added, sizes = 0, []
        for rs in active:
            share = util.proportion(rs, d, to_add, added) if to_add else 0
            sizes.append(util.replicas(rs) + share)
            added += share
        if active and to_add:
            sizes[0] = max(sizes[0] + to_add - added, 0)
        for rs, size in zip(active, sizes, strict=True):
            await self.scale_rs(rs, size, d, operation)

    async def is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rs_list, False)
        for rs in util.filter_active([*old_rss, new_rs]):
            desired = util.desired_replicas_annotation(rs)
            if desired is not None and desired != util.replicas(d):
                return True
        return False

    # ------------------------------------------------------------------ history and status
    async def cleanup(self, old_rss: list[Obj], d: Obj) -> None:
        if not util.has_revision_history_limit(d):
            return
        alive = [rs for rs in old_rss if not rs["metadata"].get("deletionTimestamp")]
        excess = len(alive) - int(d["spec"]["revisionHistoryLimit"])
        for rs in util.by_revision(alive)[:max(excess, 0)]:
            meta = rs["metadata"]
            if util.status_int(rs, "replicas") or util.replicas(rs) or \
                    int(meta.get("generation") or 0) > util.status_int(rs, "observedGeneration"):
                continue
            log.info("cleaning up replica set %s/%s of deployment %s", meta.get("namespace"), meta["name"],
                     d["metadata"]["name"])
            try:
                await self.client.delete(REPLICASETS, meta["name"], meta.get("namespace", ""))
            except ApiError as e:
                if not e.not_found:
                    raise

    async def sync_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        status = progress.calculate_status(all_rss, new_rs, d, self.now())
        if progress.normalized(d.get("status")) != status:
            d["status"] = status
            await self.update_status(d)

    async def sync_rollout_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> float | None:
        """Write the rollout status if it changed; else the delay before the next progress check."""
        now = self.now()
        status = progress.rollout_status(all_rss, new_rs, d, now)
        if progress.normalized(d.get("status")) == status:
            return progress.stuck_requeue_delay(d, status, now)
        d["status"] = status
        await self.update_status(d)
        return None

    async def sync(self, d: Obj, rs_list: list[Obj], *, rollback_pending: bool) -> None:
        """Scaling event or paused Deployment: scale, clean up (paused), update status."""
        new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rs_list, False)
        await self.scale(d, new_rs, old_rss)
        if (d.get("spec") or {}).get("paused") and not rollback_pending:
            await self.cleanup(old_rss, d)
        await self.sync_status([*old_rss, new_rs], new_rs, d)

    async def sync_status_only(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rs_list, False)
        await self.sync_status([*old_rss, new_rs], new_rs, d)

    async def check_paused_conditions(self, d: Obj) -> None:
        """Progressing Unknown while paused and on resume, so a pause never counts against the deadline."""
        if not util.has_progress_deadline(d):
            return
        cond = progress.get_condition(d.get("status"), progress.PROGRESSING)
        if cond is not None and cond.get("reason") == progress.TIMED_OUT:
            return
        paused_shown = cond is not None and cond.get("reason") == progress.PAUSED
        paused = bool((d.get("spec") or {}).get("paused"))
        if paused and not paused_shown:
            self._set_progressing(d, "Unknown", progress.PAUSED, "Deployment is paused")
        elif not paused and paused_shown:
            self._set_progressing(d, "Unknown", progress.RESUMED, "Deployment is resumed")
        else:
            return
        await self.update_status(d)

    def _set_progressing(self, d: Obj, status: str, reason: str, message: str) -> None:
        """Set the Deployment's Progressing condition, stamped now."""
        cond = progress.new_condition(progress.PROGRESSING, status, reason, message, self.now())
        progress.set_condition(d.setdefault("status", {}), cond)


def _set_min_ready(rs: Obj, value: int) -> None:
    if value:
        rs["spec"]["minReadySeconds"] = value
    else:
        rs["spec"].pop("minReadySeconds", None)
