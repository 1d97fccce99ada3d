"""The Recreate strategy (upstream recreate.go): all old pods gone before any new pod exists.

Theory of operation: each sync first scales every active old ReplicaSet to 0
(and stops there if it did). While an old ReplicaSet still reports pods, or
any pod controlled by an old ReplicaSet is not in a terminal phase (pods being
deleted included: they may still run), nothing else happens. Only then is the
new ReplicaSet created (it is never created earlier, so no new pod can start
beside old ones) and scaled to the full size; a complete rollout prunes the
history. The pod informer wakes the Deployment when its last pod is gone.
"""

from __future__ import annotations

from typing import Any

from pocketkube.controllers.deployment import progress, util
from pocketkube.controllers.deployment.sync import Syncer

Obj = dict[str, Any]


async def rollout_recreate(s: Syncer, d: Obj, rs_list: list[Obj], pod_map: dict[str, list[Obj]]) -> float | None:
    new_rs, old_rss = await s.get_all_rss_and_sync_revision(d, rs_list, False)
    all_rss: list[Obj | None] = [*old_rss, new_rs]
    if await scale_down_old_replica_sets(s, util.filter_active(list(old_rss)), d):
        return await s.sync_rollout_status(all_rss, new_rs, d)
    if old_pods_running(new_rs, old_rss, pod_map):
        return await s.sync_rollout_status(all_rss, new_rs, d)
    if new_rs is None:
        new_rs, old_rss = await s.get_all_rss_and_sync_revision(d, rs_list, True)
        all_rss = [*old_rss, new_rs]
    assert new_rs is not None
    await s.scale_rs_and_record_event(new_rs, util.replicas(d), d)
    if progress.deployment_complete(d, d.get("status") or {}):
        await s.cleanup(old_rss, d)
    return await s.sync_rollout_status(all_rss, new_rs, d)


async def scale_down_old_replica_sets(s: Syncer, old_rss: list[Obj], d: Obj) -> bool:
    scaled = False
    for rs in old_rss:
        if util.replicas(rs) == 0:
            continue
        changed, _ = await s.scale_rs_and_record_event(rs, 0, d)
        scaled = scaled or changed
    return scaled


def old_pods_running(new_rs: Obj | None, old_rss: list[Obj], pod_map: dict[str, list[Obj]]) -> bool:
    """Old ReplicaSets still count pods, or an old pod is not Succeeded/Failed."""
    if util.total(list(old_rss), "replicas") > 0:
        return True
    new_uid = new_rs["metadata"]["uid"] if new_rs is not None else None
    for rs_uid, pods in pod_map.items():
        if rs_uid == new_uid:
            continue
        if any((p.get("status") or {}).get("phase") not in ("Succeeded", "Failed") for p in pods):
            return True
    return False
