"""schema: the compiled v1.32 definitions, GVK lookups, special kinds and walk_path."""

from __future__ import annotations

import pytest

from pocketkube.api import schema
from pocketkube.api.schema import GVK, Node


@pytest.fixture(scope="module")
def s() -> schema.Schema:
    return schema.get_schema()


def node(s: schema.Schema, definition: str, *path: str | int) -> Node:
    n = schema.walk_path(s.root(definition), list(path))
    assert n is not None, path
    return n


def test_loaded_once() -> None:
    assert schema.get_schema() is schema.get_schema()


def test_for_gvk(s: schema.Schema) -> None:
    d = s.for_gvk("apps", "v1", "Deployment")
    assert d is not None
    assert d.name == "io.k8s.api.apps.v1.Deployment"
    assert d.short_name == "Deployment"
    assert d.gvks == (GVK("apps", "v1", "Deployment"),)
    assert s.name_for_gvk("", "v1", "Pod") == "io.k8s.api.core.v1.Pod"
    assert s.name_for_gvk("autoscaling", "v2", "HorizontalPodAutoscaler") == \
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"
    assert s.for_gvk("apps", "v1", "NoSuchKind") is None
    assert s.name_for_gvk("nope.example.com", "v1", "Deployment") is None


@pytest.mark.parametrize("group,version", [("", "v1"), ("apps", "v1"), ("batch", "v1")])
def test_meta_kinds_registered_in_every_group_resolve_to_meta(group: str, version: str, s: schema.Schema) -> None:
    assert s.name_for_gvk(group, version, "DeleteOptions") == "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
    assert s.name_for_gvk(group, version, "WatchEvent") == "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent"


def test_definition_properties_and_required(s: schema.Schema) -> None:
    c = s.definition("io.k8s.api.core.v1.Container")
    assert "name" in c.required
    assert {"name", "image", "ports", "resources"} <= set(c.properties)
    assert s.has("io.k8s.api.core.v1.Container")
    assert not s.has("io.k8s.api.core.v1.NoSuchThing")
    assert s.definition("io.k8s.api.core.v1.Container") is c  # compiled once
    assert s.definition("io.k8s.api.core.v1.ObjectReference").map_type == "atomic"


def test_root_node(s: schema.Schema) -> None:
    root = s.root("io.k8s.api.core.v1.Pod")
    assert root.kind == schema.OBJECT
    assert root.definition.name == "io.k8s.api.core.v1.Pod"


def test_walk_path_through_objects_lists_and_maps(s: schema.Schema) -> None:
    image = node(s, "io.k8s.api.apps.v1.Deployment", "spec", "template", "spec", "containers", 0, "image")
    assert image.kind == schema.STRING
    label = node(s, "io.k8s.api.apps.v1.Deployment", "metadata", "labels", "app")
    assert label.kind == schema.STRING
    containers = node(s, "io.k8s.api.core.v1.Pod", "spec", "containers")
    assert containers.kind == schema.ARRAY
    assert containers.items is not None and containers.items.ref == "io.k8s.api.core.v1.Container"


def test_walk_path_misses(s: schema.Schema) -> None:
    root = s.root("io.k8s.api.core.v1.Pod")
    assert schema.walk_path(root, ["spec", "nope"]) is None
    assert schema.walk_path(root, ["spec", "nope", "deeper"]) is None
    assert schema.walk_path(root, ["metadata", "name", "deeper"]) is None  # into a scalar
    assert schema.walk_path(root, []) is root


def test_special_kinds(s: schema.Schema) -> None:
    pod = "io.k8s.api.core.v1.Pod"
    assert node(s, pod, "spec", "containers", 0, "resources", "limits", "cpu").kind == schema.QUANTITY
    assert node(s, pod, "metadata", "creationTimestamp").kind == schema.TIME
    assert node(s, "io.k8s.api.coordination.v1.Lease", "spec", "renewTime").kind == schema.MICROTIME
    surge = node(s, "io.k8s.api.apps.v1.Deployment", "spec", "strategy", "rollingUpdate", "maxSurge")
    assert surge.kind == schema.INT_OR_STRING
    assert node(s, "io.k8s.api.apps.v1.ControllerRevision", "data").kind == schema.ANY
    assert node(s, pod, "metadata", "managedFields", 0, "fieldsV1").kind == schema.ANY
    crd = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    default = node(s, crd, "spec", "versions", 0, "schema", "openAPIV3Schema", "default")
    assert default.kind == schema.ANY


def test_scalar_formats(s: schema.Schema) -> None:
    assert node(s, "io.k8s.api.apps.v1.Deployment", "spec", "replicas").format == "int32"
    assert node(s, "io.k8s.api.core.v1.Pod", "spec", "activeDeadlineSeconds").format == "int64"
    assert node(s, "io.k8s.api.core.v1.Secret", "data", "key").format == "byte"
    assert node(s, "io.k8s.api.core.v1.Pod", "spec", "hostNetwork").kind == schema.BOOLEAN


def test_list_and_patch_extensions(s: schema.Schema) -> None:
    containers = node(s, "io.k8s.api.core.v1.Pod", "spec", "containers")
    assert (containers.patch_strategy, containers.patch_merge_key) == ("merge", "name")
    assert (containers.list_type, containers.list_map_keys) == ("map", ("name",))
    ports = node(s, "io.k8s.api.core.v1.Pod", "spec", "containers", 0, "ports")
    assert ports.list_map_keys == ("containerPort", "protocol")
    assert ports.patch_merge_key == "containerPort"
    finalizers = node(s, "io.k8s.api.core.v1.Pod", "metadata", "finalizers")
    assert finalizers.list_type == "set"
    args = node(s, "io.k8s.api.core.v1.Pod", "spec", "containers", 0, "args")
    assert args.list_type == "atomic"


def test_compile_node_shapes(s: schema.Schema) -> None:
    assert s.compile_node({"type": ["string", "null"]}).kind == schema.STRING
    assert s.compile_node({"type": "object"}).kind == schema.ANY
    mp = s.compile_node({"type": "object", "additionalProperties": {"type": "integer", "format": "int64"}})
    assert mp.kind == schema.MAP and mp.items is not None and mp.items.format == "int64"
    assert s.compile_node({}).kind == schema.ANY
    assert s.compile_node({"type": "string", "enum": ["A", None, "B"]}).enum == ("A", "B")
    ref = s.compile_node({"$ref": "#/$defs/io.k8s.apimachinery.pkg.api.resource.Quantity"})
    assert (ref.kind, ref.ref) == (schema.QUANTITY, "io.k8s.apimachinery.pkg.api.resource.Quantity")
    obj = s.compile_node({"$ref": "#/definitions/io.k8s.api.core.v1.Container", "x-kubernetes-list-type": "x"})
    assert (obj.kind, obj.ref, obj.list_type) == (schema.OBJECT, "io.k8s.api.core.v1.Container", "x")
