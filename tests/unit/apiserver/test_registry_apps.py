"""apps/v1 strategies: upstream validation messages, immutability, generation, status."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pocketkube.api import structural
from pocketkube.apiserver.registry import apps
from pocketkube.apiserver.strategy import Strategy
from pocketkube.machinery import errors

APPS = "io.k8s.api.apps.v1."
DEPLOY = apps.STRATEGIES["Deployment"]
RS = apps.STRATEGIES["ReplicaSet"]
STS = apps.STRATEGIES["StatefulSet"]
DS = apps.STRATEGIES["DaemonSet"]
POD = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def workload(kind: str, **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"selector": {"matchLabels": {"app": "web"}}, "template": copy.deepcopy(POD)}
    if kind == "StatefulSet":
        base["serviceName"] = "web"
    base.update(spec)
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"}, "spec": base}


def created(obj: dict[str, Any], strategy: Strategy) -> dict[str, Any]:
    structural.decode(obj, APPS + obj["kind"])
    structural.apply_defaults(obj, APPS + obj["kind"])
    strategy.prepare_for_create(obj)
    return obj


def messages(errs: list[errors.FieldError]) -> list[str]:
    return [str(e) for e in errs]


def updated(old: dict[str, Any], strategy: Strategy, change: Any) -> tuple[dict[str, Any], list[str]]:
    new = copy.deepcopy(old)
    change(new)
    structural.apply_defaults(new, APPS + new["kind"])
    strategy.prepare_for_update(new, old)
    return new, messages(strategy.validate_update(new, old))


# --- Deployment -----------------------------------------------------------------------


def test_valid_deployment_create_resets_status_and_sets_generation() -> None:
    d = workload("Deployment")
    d["status"] = {"replicas": 9}
    d["metadata"]["generation"] = 7
    created(d, DEPLOY)
    assert d["status"] == {} and d["metadata"]["generation"] == 1
    assert DEPLOY.validate(d) == []


def test_missing_selector_reports_required_and_mismatch() -> None:
    d = created(workload("Deployment"), DEPLOY)
    del d["spec"]["selector"]
    assert messages(DEPLOY.validate(d)) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`",
    ]


def test_selector_template_mismatch_message() -> None:
    d = created(workload("Deployment", selector={"matchLabels": {"app": "other", "tier": "a"}}), DEPLOY)
    err = errors.invalid_error("Deployment", "apps", "web", DEPLOY.validate(d))
    assert err.code == 422
    assert err.message == ('Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
                           'map[string]string{"app":"web"}: `selector` does not match template `labels`')


def test_empty_selector_is_invalid() -> None:
    d = created(workload("Deployment", selector={}), DEPLOY)
    assert messages(DEPLOY.validate(d)) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]


@pytest.mark.parametrize(("spec", "expected"), [
    ({"replicas": -1}, ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
    ({"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}},
     ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: '
      "may not be 0 when `maxSurge` is 0"]),
    ({"strategy": {"rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "0%"}}},
     ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"0%"}: '
      "may not be 0 when `maxSurge` is 0"]),
    ({"strategy": {"rollingUpdate": {"maxUnavailable": "110%"}}},
     ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"110%"}: '
      "must not be greater than 100%"]),
    ({"strategy": {"rollingUpdate": {"maxSurge": "x"}}},
     ['spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"x"}: '
      "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', "
      "regex used for validation is '[0-9]+%')"]),
    ({"strategy": {"type": "Recreate", "rollingUpdate": {}}},
     ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]),
    ({"revisionHistoryLimit": -2}, ["spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0"]),
    ({"minReadySeconds": 600},
     ["spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"]),
])
def test_deployment_spec_errors(spec: dict[str, Any], expected: list[str]) -> None:
    d = created(workload("Deployment", **spec), DEPLOY)
    assert messages(DEPLOY.validate(d)) == expected


def test_deployment_template_must_restart_always() -> None:
    d = workload("Deployment")
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"' in messages(
        DEPLOY.validate(created(d, DEPLOY)))


def test_deployment_selector_is_immutable() -> None:
    old = created(workload("Deployment"), DEPLOY)

    def change(d: dict[str, Any]) -> None:
        d["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
        d["spec"]["template"]["metadata"]["labels"]["v"] = "2"

    _, errs = updated(old, DEPLOY, change)
    assert errs == ['spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "v":"2"}, '
                    "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]


def test_deployment_generation_tracks_spec_and_annotations() -> None:
    old = created(workload("Deployment"), DEPLOY)
    old["status"] = {"replicas": 1, "observedGeneration": 1}
    new, errs = updated(old, DEPLOY, lambda d: d["spec"].update(replicas=5))
    assert errs == [] and new["metadata"]["generation"] == 2 and new["status"] == old["status"]
    new, _ = updated(old, DEPLOY, lambda d: d["metadata"].setdefault("labels", {}).update(a="b"))
    assert new["metadata"]["generation"] == 1
    new, _ = updated(old, DEPLOY, lambda d: d.update(status={"replicas": 99}))
    assert new["metadata"]["generation"] == 1 and new["status"] == old["status"]
    new, _ = updated(old, DEPLOY, lambda d: d["metadata"].setdefault("annotations", {}).update(a="b"))
    assert new["metadata"]["generation"] == 2


def test_deployment_status_update_keeps_spec_labels_and_generation() -> None:
    old = created(workload("Deployment"), DEPLOY)
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 42
    new["metadata"]["labels"] = {"x": "y"}
    new["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
    new["status"] = {"replicas": 1, "readyReplicas": 2, "observedGeneration": 1}
    DEPLOY.prepare_for_status_update(new, old)
    assert new["spec"] == old["spec"] and "labels" not in new["metadata"]
    assert new["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}
    assert new["metadata"]["generation"] == 1
    assert messages(DEPLOY.validate_status_update(new, old)) == [
        "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"]


# --- ReplicaSet -----------------------------------------------------------------------


def test_replica_set_status_field_selector_and_warning() -> None:
    rs = created(workload("ReplicaSet"), RS)
    assert rs["status"] == {"replicas": 0}
    assert RS.field_value(rs, "status.replicas") == "0"
    assert RS.field_value(rs, "spec.replicas") is None
    rs["metadata"]["name"] = "web.v1"
    [warning] = RS.warnings(rs)
    assert warning.startswith("metadata.name: this is used in Pod names and hostnames, which can result in surprising "
                              "behavior; a DNS label is recommended: [a lowercase RFC 1123 label must consist of")


def test_replica_set_selector_immutable_and_empty_selector_wording() -> None:
    old = created(workload("ReplicaSet"), RS)
    _, errs = updated(old, RS, lambda d: d["spec"].update(selector={"matchLabels": {"app": "web", "x": "1"}}))
    assert errs[-1].endswith("field is immutable") and errs[-1].startswith("spec.selector: Invalid value:")
    empty = created(workload("ReplicaSet", selector={}), RS)
    assert messages(RS.validate(empty))[0].endswith("empty selector is invalid for deployment")


# --- StatefulSet ----------------------------------------------------------------------


def test_stateful_set_valid_and_names_are_labels() -> None:
    sts = created(workload("StatefulSet"), STS)
    assert STS.validate(sts) == []
    assert STS.name_rule == "label"
    assert sts["status"] == {"availableReplicas": 0, "replicas": 0}


def test_stateful_set_forbidden_updates() -> None:
    old = created(workload("StatefulSet"), STS)
    ok, errs = updated(old, STS, lambda d: d["spec"].update(replicas=4, minReadySeconds=3))
    assert errs == [] and ok["metadata"]["generation"] == 2
    _, errs = updated(old, STS, lambda d: d["spec"].update(serviceName="other"))
    assert errs == ["spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                    "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
                    "are forbidden"]


def test_stateful_set_spec_errors() -> None:
    sts = created(workload("StatefulSet", podManagementPolicy="Sometimes",
                           updateStrategy={"type": "OnDelete", "rollingUpdate": {"partition": 1}}), STS)
    assert messages(STS.validate(sts)) == [
        "spec.podManagementPolicy: Invalid value: \"Sometimes\": must be 'OrderedReady' or 'Parallel'",
        'spec.updateStrategy.rollingUpdate: Invalid value: apps.RollingUpdateStatefulSetStrategy{Partition:1}: '
        "only allowed for updateStrategy 'RollingUpdate'",
    ]


# --- DaemonSet ------------------------------------------------------------------------


def test_daemon_set_template_generation_annotation() -> None:
    ds = created(workload("DaemonSet"), DS)
    ann = "deprecated.daemonset.template.generation"
    assert ds["metadata"]["annotations"] == {ann: "1"}
    assert ds["status"] == {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0,
                            "numberReady": 0}
    assert DS.validate(ds) == []
    new, errs = updated(ds, DS, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:2"))
    assert errs == [] and new["metadata"]["annotations"][ann] == "2" and new["metadata"]["generation"] == 2
    newer, _ = updated(new, DS, lambda d: d["spec"].update(minReadySeconds=5))
    assert newer["metadata"]["annotations"][ann] == "2" and newer["metadata"]["generation"] == 3
    forged, _ = updated(newer, DS, lambda d: d["metadata"]["annotations"].update({ann: "99"}))
    assert forged["metadata"]["annotations"][ann] == "2"


def test_daemon_set_rolling_update_rules() -> None:
    both = created(workload("DaemonSet", updateStrategy={"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}), DS)
    assert messages(DS.validate(both)) == [
        'spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:""}: '
        "may not be set when maxUnavailable is non-zero"]
    none = created(workload("DaemonSet", updateStrategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}), DS)
    assert messages(DS.validate(none)) == [
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]


def test_daemon_set_without_selector_only_reports_mismatch() -> None:
    ds = created(workload("DaemonSet"), DS)
    del ds["spec"]["selector"]
    assert messages(DS.validate(ds)) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`"]


# --- ControllerRevision ---------------------------------------------------------------


def test_controller_revision() -> None:
    cr = apps.STRATEGIES["ControllerRevision"]
    obj: dict[str, Any] = {"metadata": {"name": "r", "namespace": "d"}, "revision": -1}
    cr.prepare_for_create(obj)
    assert "status" not in obj and "generation" not in obj["metadata"]
    assert messages(cr.validate(obj)) == ["data: Required value: data is mandatory",
                                          "revision: Invalid value: -1: must be greater than or equal to 0"]
    old = {"metadata": {"name": "r"}, "data": {"a": 1}, "revision": 1}
    new = {"metadata": {"name": "r"}, "data": {"a": 2}, "revision": 1}
    assert messages(cr.validate_update(new, old))[0].startswith("data: Invalid value: runtime.RawExtension{Raw:")
