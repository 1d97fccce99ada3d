"""The RollingUpdate strategy (upstream rolling.go).

Theory of operation: each sync makes at most one kind of move and then writes
the rollout status:
1. Scale the new ReplicaSet up, never past replicas + maxSurge pods in all
   ReplicaSets together (spec sizes, so pods still terminating are already
   discounted) and never past replicas.
2. Otherwise scale old ReplicaSets down, never below replicas - maxUnavailable
   available pods: first the old pods that are not available anyway (oldest
   ReplicaSet first; "cleanup of unhealthy replicas"), then available ones as
   far as the availability budget allows. The budget also discounts the new
   ReplicaSet's unavailable pods, so a broken new template does not eat into
   the old, working pods.
3. When nothing moved and the rollout is complete, prune old ReplicaSets to
   revisionHistoryLimit.
Because the ReplicaSet controller creates pods only for spec increases and
the bounds are on spec sizes, at no moment do the pods of all ReplicaSets
exceed replicas + maxSurge, nor do available pods drop below
replicas - maxUnavailable through this controller's own actions.
"""

from __future__ import annotations

import logging
from typing import Any

from pocketkube.controllers.deployment import progress, util
from pocketkube.controllers.deployment.sync import Syncer

log = logging.getLogger("pocketkube.controllers.deployment")

Obj = dict[str, Any]


async def rollout_rolling(s: Syncer, d: Obj, rs_list: list[Obj]) -> float | None:
    new_rs, old_rss = await s.get_all_rss_and_sync_revision(d, rs_list, True)
    assert new_rs is not None
    all_rss: list[Obj | None] = [*old_rss, new_rs]
    if await reconcile_new_replica_set(s, all_rss, new_rs, d):
        return await s.sync_rollout_status(all_rss, new_rs, d)
    if await reconcile_old_replica_sets(s, all_rss, util.filter_active(list(old_rss)), new_rs, d):
        return await s.sync_rollout_status(all_rss, new_rs, d)
    if progress.deployment_complete(d, d.get("status") or {}):
        await s.cleanup(old_rss, d)
    return await s.sync_rollout_status(all_rss, new_rs, d)


async def reconcile_new_replica_set(s: Syncer, all_rss: list[Obj | None], new_rs: Obj, d: Obj) -> bool:
    want = util.replicas(d)
    if util.replicas(new_rs) == want:
        return False
    if util.replicas(new_rs) > want:
        scaled, _ = await s.scale_rs_and_record_event(new_rs, want, d)
        return scaled
    scaled, _ = await s.scale_rs_and_record_event(new_rs, util.new_rs_new_replicas(d, all_rss, new_rs), d)
    return scaled


async def reconcile_old_replica_sets(s: Syncer, all_rss: list[Obj | None], old_rss: list[Obj], new_rs: Obj,
                                     d: Obj) -> bool:
    if util.total(list(old_rss)) == 0:
        return False
    min_available = util.replicas(d) - util.max_unavailable(d)
    new_unavailable = util.replicas(new_rs) - util.status_int(new_rs, "availableReplicas")
    max_scaled_down = util.total(all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    try:
        old_rss, cleaned = await cleanup_unhealthy_replicas(s, old_rss, d, max_scaled_down)
    except Exception as e:  # upstream swallows these and tries again on the next sync
        log.info("cleaning up unhealthy replicas of %s failed: %s", d["metadata"]["name"], e)
        return False
    try:
        scaled = await scale_down_old_replica_sets(s, [*old_rss, new_rs], old_rss, d)
    except Exception as e:
        log.info("scaling down old replica sets of %s failed: %s", d["metadata"]["name"], e)
        return False
    return cleaned + scaled > 0


async def cleanup_unhealthy_replicas(s: Syncer, old_rss: list[Obj], d: Obj,
                                     max_cleanup: int) -> tuple[list[Obj], int]:
    """Scale old ReplicaSets down by their unavailable pods (at most max_cleanup in all)."""
    old_rss = util.by_creation(old_rss)
    done = 0
    for i, rs in enumerate(old_rss):
        if done >= max_cleanup:
            break
        size, available = util.replicas(rs), util.status_int(rs, "availableReplicas")
        if size == 0 or size == available:
            continue
        count = min(max_cleanup - done, size - available)
        _, updated = await s.scale_rs_and_record_event(rs, size - count, d)
        done += count
        old_rss[i] = updated
    return old_rss, done


async def scale_down_old_replica_sets(s: Syncer, all_rss: list[Obj | None], old_rss: list[Obj], d: Obj) -> int:
    """Scale old ReplicaSets down, oldest first, as far as available pods above the minimum allow."""
    min_available = util.replicas(d) - util.max_unavailable(d)
    available = util.total(all_rss, "availableReplicas")
    if available <= min_available:
        return 0
    budget, done = available - min_available, 0
    for rs in util.by_creation(old_rss):
        if done >= budget:
            break
        if util.replicas(rs) == 0:
            continue
        count = min(util.replicas(rs), budget - done)
        await s.scale_rs_and_record_event(rs, util.replicas(rs) - count, d)
        done += count
    return done
