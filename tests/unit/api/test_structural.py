"""structural.decode / apply_defaults: Go-like type errors, unknown fields, nulls, special strings, defaults."""

from __future__ import annotations

from typing import Any

import pytest

from pocketkube.api import defaults, schema, structural
from pocketkube.api.structural import TypeMismatch

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
POD = "io.k8s.api.core.v1.Pod"
SECRET = "io.k8s.api.core.v1.Secret"
LEASE = "io.k8s.api.coordination.v1.Lease"
HPA2 = "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"
CONFIGMAP = "io.k8s.api.core.v1.ConfigMap"


def mismatch(obj: dict[str, Any], definition: str = DEPLOYMENT) -> TypeMismatch:
    with pytest.raises(TypeMismatch) as e:
        structural.decode(obj, definition)
    return e.value


def container(**fields: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "c", **fields}]}}}}


# --- type mismatches ---------------------------------------------------------------------


@pytest.mark.parametrize("obj,message,path", [
    ({"spec": {"replicas": "3"}},
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32", "spec.replicas"),
    ({"spec": {"replicas": True}},
     "json: cannot unmarshal bool into Go struct field DeploymentSpec.spec.replicas of type int32", "spec.replicas"),
    ({"spec": {"replicas": [1]}},
     "json: cannot unmarshal array into Go struct field DeploymentSpec.spec.replicas of type int32", "spec.replicas"),
    ({"spec": "x"},
     "json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec", "spec"),
    ({"metadata": []},
     "json: cannot unmarshal array into Go struct field Deployment.metadata of type v1.ObjectMeta", "metadata"),
    ({"spec": {"paused": "yes"}},
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool", "spec.paused"),
    ({"metadata": {"labels": {"a": 1}}},
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
     "metadata.labels[a]"),
    ({"metadata": {"labels": ["a"]}},
     "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string",
     "metadata.labels"),
    ({"metadata": {"finalizers": "a"}},
     "json: cannot unmarshal string into Go struct field ObjectMeta.metadata.finalizers of type []string",
     "metadata.finalizers"),
    ({"spec": {"strategy": {"rollingUpdate": {"maxSurge": True}}}},
     "json: cannot unmarshal bool into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge "
     "of type intstr.IntOrString", "spec.strategy.rollingUpdate.maxSurge"),
])
def test_type_mismatch_messages(obj: dict[str, Any], message: str, path: str) -> None:
    e = mismatch(obj)
    assert str(e) == message
    assert e.path == path


def test_list_items_report_go_field_path_without_indices() -> None:
    e = mismatch(container(image=5))
    assert str(e) == ("json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers."
                      "image of type string")
    assert e.path == "spec.template.spec.containers[0].image"


def test_top_level_value_of_wrong_type() -> None:
    assert str(mismatch([])) == "json: cannot unmarshal array into Go value of type v1.Deployment"  # type: ignore[arg-type]


def test_number_field() -> None:
    crd = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
    obj: dict[str, Any] = {"maximum": 1.5, "minimum": 0}
    assert structural.decode(obj, crd) == []
    assert obj == {"maximum": 1.5, "minimum": 0}
    assert "of type float64" in str(mismatch({"maximum": "1"}, crd))


def test_go_type_name_uses_the_definition_package() -> None:
    assert str(mismatch({"spec": 5}, HPA2)) == (
        "json: cannot unmarshal number into Go struct field HorizontalPodAutoscaler.spec of type "
        "v2.HorizontalPodAutoscalerSpec")


# --- integers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 2**31 - 1, -(2**31)])
def test_int32_range_accepted(value: int) -> None:
    obj: dict[str, Any] = {"spec": {"replicas": value}}
    structural.decode(obj, DEPLOYMENT)
    assert obj["spec"]["replicas"] == value


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1])
def test_int32_overflow_rejected(value: int) -> None:
    e = mismatch({"spec": {"replicas": value}})
    assert e.path == "spec.replicas"
    assert str(e).endswith("into Go struct field DeploymentSpec.spec.replicas of type int32")


def test_int64_range() -> None:
    ok: dict[str, Any] = {"spec": {"activeDeadlineSeconds": 2**63 - 1}}
    structural.decode(ok, POD)
    assert ok["spec"]["activeDeadlineSeconds"] == 2**63 - 1
    e = mismatch({"spec": {"activeDeadlineSeconds": 2**63}}, POD)
    assert str(e).endswith("Go struct field PodSpec.spec.activeDeadlineSeconds of type int64")


def test_integral_float_becomes_int_and_fraction_is_rejected() -> None:
    obj: dict[str, Any] = {"spec": {"replicas": 3.0}}
    structural.decode(obj, DEPLOYMENT)
    assert obj["spec"]["replicas"] == 3
    assert isinstance(obj["spec"]["replicas"], int)
    assert mismatch({"spec": {"replicas": 1.5}}).path == "spec.replicas"


@pytest.mark.parametrize("value,literal", [(1.5, "1.5"), (2**31, "2147483648")])
def test_bad_integer_message_includes_the_literal(value: float, literal: str) -> None:
    assert str(mismatch({"spec": {"replicas": value}})) == (
        f"json: cannot unmarshal number {literal} into Go struct field DeploymentSpec.spec.replicas of type int32")


def test_int_or_string() -> None:
    obj: dict[str, Any] = {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 2, "maxUnavailable": "10%"}}}}
    structural.decode(obj, DEPLOYMENT)
    assert obj["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 2, "maxUnavailable": "10%"}


# --- unknown fields -----------------------------------------------------------------------------


def test_unknown_fields_are_collected_with_paths_and_pruned() -> None:
    obj: dict[str, Any] = {
        "baz": 1,
        "metadata": {"name": "d", "extra": True},
        "spec": {"template": {"spec": {"foo": 2, "containers": [
            {"name": "a"}, {"name": "b", "bar": 1, "ports": [{"containerPort": 80, "x": 1}]}]}}}}
    unknown = structural.decode(obj, DEPLOYMENT)
    assert unknown == ["baz", "metadata.extra", "spec.template.spec.foo", "spec.template.spec.containers[1].bar",
                       "spec.template.spec.containers[1].ports[0].x"]
    assert obj == {"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [
        {"name": "a"}, {"name": "b", "ports": [{"containerPort": 80}]}]}}}}


def test_unknown_fields_kept_without_pruning() -> None:
    obj: dict[str, Any] = {"spec": {"template": {"spec": {"containers": [{"name": "a", "bar": 1}]}}}}
    assert structural.decode(obj, DEPLOYMENT, prune=False) == ["spec.template.spec.containers[0].bar"]
    assert obj["spec"]["template"]["spec"]["containers"][0]["bar"] == 1


def test_unknown_fields_inside_crd_schemas() -> None:
    crd = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    obj: dict[str, Any] = {"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {
        "type": "object", "foo": 1, "properties": {"a": {"type": "string", "bar": 2}}}}}]}}
    assert structural.decode(obj, crd) == ["spec.versions[0].schema.openAPIV3Schema.foo",
                                           "spec.versions[0].schema.openAPIV3Schema.properties[a].bar"]


def test_free_form_values_are_not_inspected() -> None:
    revision: dict[str, Any] = {"data": {"anything": [1, {"goes": None}]}, "revision": 1}
    assert structural.decode(revision, "io.k8s.api.apps.v1.ControllerRevision") == []
    assert revision["data"] == {"anything": [1, {"goes": None}]}
    managed: dict[str, Any] = {"metadata": {"managedFields": [{"manager": "m", "fieldsV1": {"f:data": {"f:x": {}}}}]}}
    assert structural.decode(managed, CONFIGMAP) == []
    assert managed["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {"f:x": {}}}


def test_preserve_unknown_fields_definition_keeps_unknown_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    definition = schema.get_schema().definition(CONFIGMAP)
    monkeypatch.setattr(definition, "preserve_unknown", True)
    obj: dict[str, Any] = {"data": {"a": "b"}, "extra": {"kept": 1}}
    assert structural.decode(obj, CONFIGMAP) == []
    assert obj["extra"] == {"kept": 1}


# --- nulls -----------------------------------------------------------------------------------


def test_null_fields_are_dropped_and_null_items_become_zero_values() -> None:
    obj: dict[str, Any] = {"metadata": {"name": None, "labels": {"a": None, "b": "x"}},
                           "spec": {"replicas": None, "template": {"spec": {"containers": [
                               {"name": "c", "args": [None, "x"], "env": [None]}]}}}}
    assert structural.decode(obj, DEPLOYMENT) == []
    assert obj == {"metadata": {"labels": {"a": "", "b": "x"}}, "spec": {"template": {"spec": {"containers": [
        {"name": "c", "args": ["", "x"], "env": [{}]}]}}}}


def test_null_quantity_in_map_is_zero() -> None:
    obj = container(resources={"limits": {"cpu": None}})
    structural.decode(obj, DEPLOYMENT)
    assert obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "0"}


# --- quantities ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw,canonical", [
    ("1000m", "1"), ("0.5", "500m"), (0.5, "500m"), ("1024Mi", "1Gi"), (1073741824, "1073741824"), (2, "2"),
    (" 100m ", "100m"), ("1e3", "1e3"), ("12e6", "12e6"),
])
def test_quantities_are_canonicalised(raw: Any, canonical: str) -> None:
    obj = container(resources={"requests": {"cpu": raw}})
    structural.decode(obj, DEPLOYMENT)
    assert obj["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == canonical


def test_bad_quantity() -> None:
    e = mismatch(container(resources={"limits": {"cpu": "abc"}}))
    assert str(e) == "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    assert e.path == "spec.template.spec.containers[0].resources.limits[cpu]"
    assert "resource.Quantity" in str(mismatch(container(resources={"limits": {"cpu": True}})))


# --- times -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw,normalised", [
    ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
    ("2024-01-01T10:00:00+02:00", "2024-01-01T08:00:00Z"),
    ("2024-01-01T00:30:00-01:00", "2024-01-01T01:30:00Z"),
    ("2024-01-01T10:00:00.987654Z", "2024-01-01T10:00:00Z"),
])
def test_time_normalised_to_utc_seconds(raw: str, normalised: str) -> None:
    obj: dict[str, Any] = {"metadata": {"creationTimestamp": raw}}
    structural.decode(obj, DEPLOYMENT)
    assert obj["metadata"]["creationTimestamp"] == normalised


@pytest.mark.parametrize("raw,normalised", [
    ("2024-01-01T10:00:00.123456Z", "2024-01-01T10:00:00.123456Z"),
    ("2024-01-01T00:00:00.500000+01:00", "2023-12-31T23:00:00.500000Z"),
    ("2024-01-01T00:00:00,000001Z", "2024-01-01T00:00:00.000001Z"),
])
def test_microtime_normalised_to_utc_microseconds(raw: str, normalised: str) -> None:
    obj: dict[str, Any] = {"spec": {"renewTime": raw, "acquireTime": raw}}
    structural.decode(obj, LEASE)
    assert obj["spec"] == {"renewTime": normalised, "acquireTime": normalised}


def test_bad_time() -> None:
    e = mismatch({"metadata": {"creationTimestamp": "garbage"}})
    assert str(e).startswith('parsing time "garbage" as "2006-01-02T15:04:05Z07:00": cannot parse')
    assert e.path == "metadata.creationTimestamp"
    assert "of type v1.Time" in str(mismatch({"metadata": {"creationTimestamp": 5}}))
    assert "of type v1.MicroTime" in str(mismatch({"spec": {"renewTime": 5}}, LEASE))


def test_bad_time_message_matches_go() -> None:
    assert str(mismatch({"metadata": {"creationTimestamp": "garbage"}})) == (
        'parsing time "garbage" as "2006-01-02T15:04:05Z07:00": cannot parse "garbage" as "2006"')


@pytest.mark.parametrize("raw", ["2024-01-01", "2024-01-01T10:00:00", "2024-01-01 10:00:00Z"])
def test_time_requires_rfc3339(raw: str) -> None:
    mismatch({"metadata": {"creationTimestamp": raw}})


@pytest.mark.parametrize("raw,message", [
    # metav1.MicroTime parses with "2006-01-02T15:04:05.000000Z07:00": exactly six fraction digits.
    ("2024-01-01T10:00:00Z", 'cannot parse "Z" as ".000000"'),
    ("2024-01-01T00:00:00.5+01:00", 'cannot parse "0" as ".000000"'),
    ("2024-01-01T10:00:00.1234567Z", 'cannot parse "7Z" as "Z07:00"'),
])
def test_microtime_requires_six_fraction_digits(raw: str, message: str) -> None:
    assert str(mismatch({"spec": {"renewTime": raw}}, LEASE)) == (
        f'parsing time "{raw}" as "2006-01-02T15:04:05.000000Z07:00": {message}')


@pytest.mark.parametrize("raw,message", [
    ("2024-01-01T25:00:00Z", "hour out of range"),
    ("2024-02-30T10:00:00Z", "day out of range"),
    ("2024-01-01T10:00:00ZX", 'extra text: "X"'),
])
def test_time_range_errors(raw: str, message: str) -> None:
    assert str(mismatch({"metadata": {"creationTimestamp": raw}})) == f'parsing time "{raw}": {message}'


# --- base64 (format: byte) ---------------------------------------------------------------------------


def test_base64_fields() -> None:
    ok: dict[str, Any] = {"data": {"a": "aGVsbG8=", "empty": ""}}
    assert structural.decode(ok, SECRET) == []
    assert ok["data"] == {"a": "aGVsbG8=", "empty": ""}
    e = mismatch({"data": {"a": "not base64!"}}, SECRET)
    assert str(e).startswith("illegal base64 data at input byte")
    assert e.path == "data[a]"
    assert mismatch({"data": {"a": "aGVsbG8"}}, SECRET).path == "data[a]"  # missing padding


def test_base64_error_offset() -> None:
    assert str(mismatch({"data": {"a": "YWJj!"}}, SECRET)) == "illegal base64 data at input byte 4"


def test_base64_with_line_breaks_is_accepted() -> None:
    obj: dict[str, Any] = {"data": {"a": "aGVsbG8g\nd29ybGQ=", "b": "YR=="}}
    structural.decode(obj, SECRET)
    # The stored value is the []byte encoded again: no line breaks, canonical padding bits.
    assert obj["data"] == {"a": "aGVsbG8gd29ybGQ=", "b": "YQ=="}


@pytest.mark.parametrize("raw,offset", [("aGVsbG8", 4), ("YW=j", 2), ("YWJjZA=", 7), ("YWJjZA==YQ==", 8),
                                        ("YQ==\nYQ==", 5)])
def test_base64_error_offsets_match_go(raw: str, offset: int) -> None:
    assert str(mismatch({"data": {"a": raw}}, SECRET)) == f"illegal base64 data at input byte {offset}"


# --- defaults ----------------------------------------------------------------------------------------


def test_defaults_fill_nested_types() -> None:
    obj: dict[str, Any] = {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]}}}}
    structural.apply_defaults(obj, DEPLOYMENT)
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    # A default that creates a child (strategy.rollingUpdate) gets that child defaulted too.
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always"
    assert pod_spec["dnsPolicy"] == "ClusterFirst"
    assert pod_spec["terminationGracePeriodSeconds"] == 30
    c = pod_spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"
    assert c["terminationMessagePolicy"] == "File"
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_defaults_keep_explicit_values() -> None:
    obj: dict[str, Any] = {"spec": {"replicas": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [
        {"name": "c", "image": "nginx:1.27", "imagePullPolicy": "Never"}]}}}}
    structural.apply_defaults(obj, DEPLOYMENT)
    assert obj["spec"]["replicas"] == 0
    assert obj["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_defaults_run_parent_before_child(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def recorder(name: str) -> defaults.Defaulter:
        def fn(obj: dict[str, Any]) -> None:
            calls.append(name.rsplit(".", 1)[-1] + ":" + str(obj.get("name", "")))
        return fn

    table = defaults.load_all()
    for name in ("io.k8s.api.apps.v1.DeploymentSpec", "io.k8s.api.core.v1.PodSpec", "io.k8s.api.core.v1.Container",
                 "io.k8s.api.core.v1.PodTemplateSpec"):
        monkeypatch.setitem(table, name, [*table.get(name, []), recorder(name)])
    obj: dict[str, Any] = {"spec": {"template": {"spec": {"initContainers": [{"name": "i"}],
                                                          "containers": [{"name": "a"}, {"name": "b"}]}}}}
    structural.apply_defaults(obj, DEPLOYMENT)
    assert calls == ["DeploymentSpec:", "PodTemplateSpec:", "PodSpec:", "Container:i", "Container:a", "Container:b"]


def test_defaults_skip_types_without_defaulters() -> None:
    assert not structural._reaches_defaulter(CONFIGMAP)
    assert structural._reaches_defaulter(DEPLOYMENT)
    obj: dict[str, Any] = {"data": {"a": "b"}}
    structural.apply_defaults(obj, CONFIGMAP)
    assert obj == {"data": {"a": "b"}}


def test_defaults_tolerate_wrong_shapes_left_by_free_form_values() -> None:
    obj: dict[str, Any] = {"spec": {"template": None}}
    structural.apply_defaults(obj, DEPLOYMENT)
    assert obj["spec"]["template"] is None


def test_empty_optional_maps_and_lists_are_dropped() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "e", "labels": {}, "finalizers": []}, "data": {}}
    structural.decode(obj, CONFIGMAP)
    assert obj == {"metadata": {"name": "e"}}


def test_empty_values_that_are_not_omitempty_are_kept() -> None:
    # containers is not omitempty; selector is a pointer (so {} stays) whose matchLabels is omitempty;
    # managedFields: [] is a reset request the field manager must still see.
    obj: dict[str, Any] = {"metadata": {"managedFields": [], "annotations": {}},
                           "spec": {"selector": {"matchLabels": {}}, "template": {"spec": {
                               "containers": [], "volumes": [], "nodeSelector": {}}}}}
    structural.decode(obj, DEPLOYMENT)
    assert obj == {"metadata": {"managedFields": []},
                   "spec": {"selector": {}, "template": {"spec": {"containers": []}}}}


def test_empty_fields_of_inline_structs_are_dropped() -> None:
    # admissionregistration Rule is inline in RuleWithOperations; apiGroups is omitempty there.
    obj: dict[str, Any] = {"webhooks": [{"name": "w", "rules": [{"apiGroups": [], "operations": ["CREATE"]}]}]}
    structural.decode(obj, "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration")
    assert obj["webhooks"][0]["rules"] == [{"operations": ["CREATE"]}]
