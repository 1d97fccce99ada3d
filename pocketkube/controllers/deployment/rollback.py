"""Server-side rollback through the deprecated.deployment.rollback.to annotation (upstream rollback.go).

Theory of operation: `kubectl rollout undo` rolls back on the client (a JSON
patch copying an old ReplicaSet's template and annotations into the
Deployment); the controller then simply finds that ReplicaSet as the new one
and raises its revision. This module serves the older, server-side path that
apps/v1 still round-trips as an annotation (written by extensions/v1beta1
clients): revision N (0 = the one before the current) has its template and
annotations copied into the Deployment, with a DeploymentRollback event, or a
warning event when the revision is unknown or already current. The
annotation is always removed, with a plain update of the Deployment.
"""

from __future__ import annotations

from typing import Any

from pocketkube.client.events import NORMAL, WARNING
from pocketkube.client.indexer import deep_copy
from pocketkube.controllers.deployment import util
from pocketkube.controllers.deployment.sync import Syncer
from pocketkube.controllers.refs import DEPLOYMENTS

Obj = dict[str, Any]

ROLLBACK_DONE = "DeploymentRollback"
REVISION_NOT_FOUND = "DeploymentRollbackRevisionNotFound"
TEMPLATE_UNCHANGED = "DeploymentRollbackTemplateUnchanged"


def rollback_to(d: Obj) -> int | None:
    """The revision asked for by the annotation; None when absent or invalid."""
    value = (d["metadata"].get("annotations") or {}).get(util.ROLLBACK_TO)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None


async def rollback(s: Syncer, d: Obj, rs_list: list[Obj]) -> None:
    new_rs, old_rss = await s.get_all_rss_and_sync_revision(d, rs_list, True)
    all_rss = [rs for rs in [*old_rss, new_rs] if rs is not None]
    target = rollback_to(d) or 0
    if target == 0:
        target = util.last_revision(all_rss)
        if target == 0:
            s.recorder.event(d, WARNING, REVISION_NOT_FOUND, "Unable to find last revision.")
            await clear_rollback_to(s, d)
            return
    for rs in all_rss:
        try:
            rev = util.revision(rs)
        except ValueError:
            continue
        if rev == target:
            if await rollback_to_template(s, d, rs):
                s.recorder.event(d, NORMAL, ROLLBACK_DONE,
                                 f'Rolled back deployment "{d["metadata"]["name"]}" to revision {target}')
            return
    s.recorder.event(d, WARNING, REVISION_NOT_FOUND, "Unable to find the revision to rollback to.")
    await clear_rollback_to(s, d)


async def rollback_to_template(s: Syncer, d: Obj, rs: Obj) -> bool:
    performed = False
    if not util.equal_ignore_hash(util.template_of(d), util.template_of(rs)):
        template = deep_copy(util.template_of(rs))
        labels = (template.get("metadata") or {}).get("labels")
        if isinstance(labels, dict):
            labels.pop(util.HASH_LABEL, None)
        d["spec"]["template"] = template
        kept = {k: v for k, v in (d["metadata"].get("annotations") or {}).items() if k in util.ANNOTATIONS_TO_SKIP}
        kept.update({k: v for k, v in (rs["metadata"].get("annotations") or {}).items()
                     if k not in util.ANNOTATIONS_TO_SKIP})
        d["metadata"]["annotations"] = kept
        performed = True
    else:
        s.recorder.event(d, WARNING, TEMPLATE_UNCHANGED,
                         f'The rollback revision contains the same template as current deployment "{d["metadata"]["name"]}"')
    await clear_rollback_to(s, d)
    return performed


async def clear_rollback_to(s: Syncer, d: Obj) -> None:
    (d["metadata"].get("annotations") or {}).pop(util.ROLLBACK_TO, None)
    await s.client.update(DEPLOYMENTS, d)
