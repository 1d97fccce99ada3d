"""apps/v1 defaulting, checked against what kube-apiserver v1.32 stores."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from pocketkube.api import structural

TUTORIAL = Path("/work/shared/seeds/003_9fd137296ca99e87.txt")
APPS = "io.k8s.api.apps.v1."


def defaulted(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    structural.decode(obj, APPS + kind)
    structural.apply_defaults(obj, APPS + kind)
    return obj


def tutorial_deployment() -> dict[str, Any]:
    if TUTORIAL.exists():
        text = TUTORIAL.read_text()
        start = text.index("apiVersion: apps/v1")
        doc: dict[str, Any] = yaml.safe_load(text[start:text.index("```", start)])
        return doc
    return {  # the same manifest, for machines without the shared seeds
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "pod-info-deployment", "namespace": "development", "labels": {"app": "pod-info"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "pod-info"}},
                 "template": {"metadata": {"labels": {"app": "pod-info"}},
                              "spec": {"containers": [{"name": "pod-info-container", "image": "pod-info-app",
                                                       "imagePullPolicy": "IfNotPresent",
                                                       "ports": [{"containerPort": 3000}]}]}}},
    }


def test_tutorial_deployment_gets_upstream_spec_defaults() -> None:
    spec = defaulted(tutorial_deployment(), "Deployment")["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["selector"] == {"matchLabels": {"app": "pod-info"}}
    assert spec["template"]["spec"]["restartPolicy"] == "Always"  # core defaults reach the template


def test_deployment_replicas_default_and_user_values_kept() -> None:
    d = tutorial_deployment()
    del d["spec"]["replicas"]
    d["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 1}}
    d["spec"]["revisionHistoryLimit"] = 0
    spec = defaulted(d, "Deployment")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}
    assert spec["revisionHistoryLimit"] == 0


def test_recreate_deployment_gets_no_rolling_update() -> None:
    d = tutorial_deployment()
    d["spec"]["strategy"] = {"type": "Recreate"}
    assert defaulted(d, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}


def test_deployment_without_spec_is_defaulted() -> None:
    spec = defaulted({"metadata": {"name": "x"}}, "Deployment")["spec"]
    assert spec["replicas"] == 1 and spec["progressDeadlineSeconds"] == 600


def test_replica_set_replicas() -> None:
    assert defaulted({"spec": {}}, "ReplicaSet")["spec"] == {"replicas": 1}
    assert defaulted({"spec": {"replicas": 0}}, "ReplicaSet")["spec"] == {"replicas": 0}


def test_stateful_set_defaults() -> None:
    spec = defaulted({"spec": {"serviceName": "web"}}, "StatefulSet")["spec"]
    assert spec == {
        "serviceName": "web",
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "replicas": 1,
        "revisionHistoryLimit": 10,
    }


@pytest.mark.parametrize(("given", "expected"), [
    ({"type": "OnDelete"}, {"type": "OnDelete"}),
    ({"type": "RollingUpdate"}, {"type": "RollingUpdate"}),  # type given: rollingUpdate is not created
    ({"type": "RollingUpdate", "rollingUpdate": {}}, {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
    ({"rollingUpdate": {"partition": 2}}, {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}),
])
def test_stateful_set_update_strategy(given: dict[str, Any], expected: dict[str, Any]) -> None:
    assert defaulted({"spec": {"updateStrategy": given}}, "StatefulSet")["spec"]["updateStrategy"] == expected


def test_stateful_set_partial_retention_policy() -> None:
    spec = defaulted({"spec": {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}}}, "StatefulSet")["spec"]
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Delete", "whenScaled": "Retain"}


def test_daemon_set_defaults() -> None:
    spec = defaulted({"spec": {}}, "DaemonSet")["spec"]
    assert spec == {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                    "revisionHistoryLimit": 10}
    on_delete = defaulted({"spec": {"updateStrategy": {"type": "OnDelete"}}}, "DaemonSet")["spec"]
    assert on_delete["updateStrategy"] == {"type": "OnDelete"}
