"""Pure Deployment helpers: hash naming, fenceposts, sizing, revisions, annotations, status and conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pocketkube.client.clock import rfc3339
from pocketkube.controllers.deployment import progress, util

Obj = dict[str, Any]
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}


def deployment(replicas: int = 3, surge: int | str = "25%", unavailable: int | str = "25%", **spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "d-uid", "generation": 1},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                     "template": TEMPLATE, **spec},
            "status": {}}


def rs(name: str, replicas: int, *, revision: int | None = None, created: str = "2024-01-01T00:00:00Z",
       available: int = 0, annotations: dict[str, str] | None = None, template: Obj | None = None) -> Obj:
    ann = dict(annotations or {})
    if revision is not None:
        ann[util.REVISION] = str(revision)
    return {"metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": created, "annotations": ann},
            "spec": {"replicas": replicas, "template": template or TEMPLATE},
            "status": {"replicas": replicas, "availableReplicas": available}}


def test_hash_uses_the_safe_alphabet_and_the_collision_count() -> None:
    h = util.compute_hash(TEMPLATE, None)
    assert h == util.compute_hash({"spec": TEMPLATE["spec"], "metadata": TEMPLATE["metadata"]}, None)
    assert set(h) <= set("456789bcdf") and 1 <= len(h) <= 10  # decimal digits spelled safely
    assert util.compute_hash(TEMPLATE, 1) != h != util.compute_hash(TEMPLATE, 0)
    assert util.safe_encode("0123456789") == "456789bcdf"
    assert util.fnv32a(b"") == 0x811C9DC5 and util.fnv32a(b"a") == 0xE40C292C


@pytest.mark.parametrize(("surge", "unavailable", "desired", "expected"), [
    ("25%", "25%", 3, (1, 0)),
    ("25%", "25%", 10, (3, 2)),
    ("25%", "25%", 4, (1, 1)),
    (0, "1%", 2, (0, 1)),       # both resolve to 0: unavailable becomes 1
    ("1%", 0, 2, (1, 0)),
    (1, 0, 3, (1, 0)),
    (0, 1, 3, (0, 1)),
    ("50%", "50%", 1, (1, 0)),
])
def test_resolve_fenceposts(surge: int | str, unavailable: int | str, desired: int,
                            expected: tuple[int, int]) -> None:
    assert util.resolve_fenceposts(surge, unavailable, desired) == expected


def test_max_surge_and_unavailable() -> None:
    assert (util.max_surge(deployment(10)), util.max_unavailable(deployment(10))) == (3, 2)
    assert util.max_unavailable(deployment(2, surge=0, unavailable=5)) == 2  # capped at replicas
    assert util.max_unavailable(deployment(0)) == 0
    recreate = deployment(3)
    recreate["spec"]["strategy"] = {"type": "Recreate"}
    assert (util.max_surge(recreate), util.max_unavailable(recreate)) == (0, 0)
    with pytest.raises(ValueError):
        util.scaled_value("5", 10, True)


def test_new_replica_set_size_during_a_rolling_update() -> None:
    d = deployment(10)  # surge 3
    new = rs("new", 0)
    assert util.new_rs_new_replicas(d, [rs("old", 10), new], new) == 3
    assert util.new_rs_new_replicas(d, [rs("old", 13), new], new) == 0
    assert util.new_rs_new_replicas(d, [rs("old", 2), rs("new", 7)], rs("new", 7)) == 10


def test_equal_ignore_hash_is_go_semantic() -> None:
    with_hash = {"metadata": {"labels": {"app": "web", util.HASH_LABEL: "abc"}, "annotations": {}},
                 "spec": {"containers": [{"name": "nginx", "image": "nginx", "env": []}]}}
    assert util.equal_ignore_hash(with_hash, TEMPLATE)
    other = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "x"}]}}
    assert not util.equal_ignore_hash(other, TEMPLATE)


def test_new_and_old_replica_sets() -> None:
    d = deployment()
    changed = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "v2"}]}}
    a = rs("a", 3, template=changed, created="2024-01-02T00:00:00Z")
    b = rs("b", 0, created="2024-01-03T00:00:00Z")
    c = rs("c", 0, created="2024-01-01T00:00:00Z")  # same template, older: wins
    assert util.find_new_replica_set(d, [a, b, c]) is c
    assert [r["metadata"]["name"] for r in util.find_old_replica_sets(d, [a, b, c])] == ["a", "b"]
    assert util.find_active_or_latest(None, [a, b]) is a
    assert util.find_active_or_latest(c, [b]) is c
    assert util.find_active_or_latest(rs("n", 1), [a]) is None


def test_revisions_and_history_order() -> None:
    rss = [rs("a", 0, revision=3), rs("b", 0, revision=1), rs("c", 0, revision=7), rs("d", 0),
           rs("e", 0, annotations={util.REVISION: "x"})]
    assert util.max_revision(rss) == 7 and util.last_revision(rss) == 3
    order = [r["metadata"]["name"] for r in util.by_revision(rss)]
    assert order.index("b") < order.index("a") < order.index("c")


def test_new_replica_set_annotations() -> None:
    d = deployment(4)
    d["metadata"]["annotations"] = {"kubernetes.io/change-cause": "kubectl set image", util.REVISION: "9",
                                    util.LAST_APPLIED: "{}"}
    new: Obj = {"metadata": {}, "spec": {"replicas": 0}}
    assert util.set_new_rs_annotations(d, new, 1, exists=False)
    assert new["metadata"]["annotations"] == {
        "kubernetes.io/change-cause": "kubectl set image", util.REVISION: "1",
        util.DESIRED_REPLICAS: "4", util.MAX_REPLICAS: "5"}
    back = rs("old", 0, revision=2, annotations={util.REVISION_HISTORY: "1"})
    assert util.set_new_rs_annotations(d, back, 5, exists=True)  # a rollback to revision 2
    assert back["metadata"]["annotations"][util.REVISION] == "5"
    assert back["metadata"]["annotations"][util.REVISION_HISTORY] == "1,2"
    assert not util.set_new_rs_annotations(d, back, 5, exists=True)


@pytest.mark.parametrize(("sizes", "max_annotation", "replicas", "expected"), [
    ([3, 1], 4, 6, [3, 1]),      # 4 -> 8 allowed: each doubles
    ([5, 5], 12, 5, [-2, -1]),   # 12 -> 7 allowed: round(5*7/12)-5 = -2, then what is left of -3
])
def test_proportions(sizes: list[int], max_annotation: int, replicas: int, expected: list[int]) -> None:
    d = deployment(replicas)
    allowed = replicas + util.max_surge(d)
    sets = [rs(f"r{i}", n, annotations={util.MAX_REPLICAS: str(max_annotation)}) for i, n in enumerate(sizes)]
    to_add, added, got = allowed - sum(sizes), 0, []
    for r in sets:
        share = util.proportion(r, d, to_add, added)
        got.append(share)
        added += share
    assert got == expected
    assert util.go_round(2.5) == 3 and util.go_round(-2.5) == -3 and util.go_round(1.4) == 1


def test_saturation() -> None:
    d = deployment(3)
    full = rs("n", 3, available=3, annotations={util.DESIRED_REPLICAS: "3"})
    assert util.is_saturated(d, full)
    assert not util.is_saturated(d, rs("n", 3, available=2, annotations={util.DESIRED_REPLICAS: "3"}))
    assert not util.is_saturated(d, rs("n", 3, available=3))


def test_status_and_available_condition() -> None:
    d = deployment(3)
    new = rs("n", 3, available=3)
    new["status"]["readyReplicas"] = 3
    status = progress.calculate_status([rs("o", 0), new], new, d, NOW)
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}
    assert status["conditions"] == [{
        "type": "Available", "status": "True", "lastUpdateTime": rfc3339(NOW), "lastTransitionTime": rfc3339(NOW),
        "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."}]
    low = progress.calculate_status([rs("n", 3, available=1)], None, d, NOW)
    assert low["unavailableReplicas"] == 2 and low["conditions"][0]["reason"] == "MinimumReplicasUnavailable"


def test_progressing_condition_through_a_rollout() -> None:
    d = deployment(3, progressDeadlineSeconds=600)
    created = progress.new_condition("Progressing", "True", "NewReplicaSetCreated", 'Created new replica set "web-1"',
                                     NOW - timedelta(seconds=30))
    d["status"] = {"conditions": [created]}
    new = rs("web-1", 3, available=1)
    status = progress.rollout_status([new], new, d, NOW)
    cond = progress.get_condition(status, "Progressing")
    assert cond is not None and (cond["reason"], cond["message"]) == (
        "ReplicaSetUpdated", 'ReplicaSet "web-1" is progressing.')
    assert cond["lastTransitionTime"] == created["lastTransitionTime"] and cond["lastUpdateTime"] == rfc3339(NOW)
    assert [c["type"] for c in status["conditions"]] == ["Available", "Progressing"]
    d["status"] = status
    done = rs("web-1", 3, available=3)
    status = progress.rollout_status([done], done, d, NOW)
    cond = progress.get_condition(status, "Progressing")
    assert cond is not None and (cond["status"], cond["reason"], cond["message"]) == (
        "True", "NewReplicaSetAvailable", 'ReplicaSet "web-1" has successfully progressed.')


def test_progress_deadline_exceeded_and_requeue_delay() -> None:
    d = deployment(3, progressDeadlineSeconds=60)
    cond = progress.new_condition("Progressing", "True", "ReplicaSetUpdated", 'ReplicaSet "web-1" is progressing.',
                                  NOW - timedelta(seconds=45))
    d["status"] = {"replicas": 3, "updatedReplicas": 3, "conditions": [cond]}
    stuck = rs("web-1", 3, available=0)
    status = progress.rollout_status([stuck], stuck, d, NOW)
    assert progress.get_condition(status, "Progressing") == cond
    assert progress.stuck_requeue_delay(d, status, NOW) == 16.0  # 15 s left, plus one
    late = NOW + timedelta(seconds=20)
    status = progress.rollout_status([stuck], stuck, d, late)
    timed_out = progress.get_condition(status, "Progressing")
    assert timed_out is not None and (timed_out["status"], timed_out["reason"], timed_out["message"]) == (
        "False", "ProgressDeadlineExceeded", 'ReplicaSet "web-1" has timed out progressing.')


def test_replica_failure_is_promoted() -> None:
    d = deployment(3)
    bad = rs("web-1", 3)
    bad["status"]["conditions"] = [{"type": "ReplicaFailure", "status": "True", "lastTransitionTime": rfc3339(NOW),
                                    "reason": "FailedCreate", "message": "quota"}]
    status = progress.rollout_status([bad], bad, d, NOW)
    failure = progress.get_condition(status, "ReplicaFailure")
    assert failure is not None and (failure["reason"], failure["message"]) == ("FailedCreate", "quota")
