"""apps/v1 defaults (upstream pkg/apis/apps/v1/defaults.go).

Theory of operation: upstream defaults the top-level objects (SetDefaults_Deployment
and friends), not their spec types, so these register for the kind definitions
and fill `spec`, creating it when absent (a Go struct is never nil). The pod
template inside is then defaulted by core's PodSpec/Container rules as the
structural walker descends. Values: Deployment replicas 1, RollingUpdate with
maxSurge/maxUnavailable 25%, revisionHistoryLimit 10, progressDeadlineSeconds
600; ReplicaSet replicas 1; StatefulSet OrderedReady, RollingUpdate partition 0,
PVC retention Retain/Retain, replicas 1, revisionHistoryLimit 10; DaemonSet
RollingUpdate maxUnavailable 1 / maxSurge 0, revisionHistoryLimit 10.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.defaults import defaults_for

Obj = dict[str, Any]


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    return spec


def _child(parent: Obj, key: str) -> Obj:
    child = parent.get(key)
    if not isinstance(child, dict):
        child = parent[key] = {}
    return child


@defaults_for("io.k8s.api.apps.v1.Deployment")
def deployment(obj: Obj) -> None:
    spec = _spec(obj)
    spec.setdefault("replicas", 1)
    strategy = _child(spec, "strategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = _child(strategy, "rollingUpdate")
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)


@defaults_for("io.k8s.api.apps.v1.DaemonSet")
def daemon_set(obj: Obj) -> None:
    spec = _spec(obj)
    strategy = _child(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = _child(strategy, "rollingUpdate")
        ru.setdefault("maxUnavailable", 1)
        ru.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)


@defaults_for("io.k8s.api.apps.v1.StatefulSet")
def stateful_set(obj: Obj) -> None:
    spec = _spec(obj)
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = _child(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        _child(strategy, "rollingUpdate")
    ru = strategy.get("rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(ru, dict):
        ru.setdefault("partition", 0)
    policy = _child(spec, "persistentVolumeClaimRetentionPolicy")
    if not policy.get("whenDeleted"):
        policy["whenDeleted"] = "Retain"
    if not policy.get("whenScaled"):
        policy["whenScaled"] = "Retain"
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)


@defaults_for("io.k8s.api.apps.v1.ReplicaSet")
def replica_set(obj: Obj) -> None:
    _spec(obj).setdefault("replicas", 1)
