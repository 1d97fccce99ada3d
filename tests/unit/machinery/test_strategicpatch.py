"""Strategic merge patch as kube-apiserver applies it, driven by the v1.32 schema.

Expected results follow upstream apimachinery strategicpatch (cross-checked against the Go code):
element order included.
"""

from __future__ import annotations

import copy
import importlib.util
from typing import Any

import pytest

from pocketkube.api.schema import Node, get_schema
from pocketkube.machinery.strategicpatch import (
    PatchError,
    apply_strategic_merge_patch,
    create_two_way_merge_patch,
    strip_directives,
)


def root(group: str, version: str, kind: str) -> Node:
    schema = get_schema()
    name = schema.name_for_gvk(group, version, kind)
    assert name
    return schema.root(name)


DEPLOYMENT = root("apps", "v1", "Deployment")
POD = root("", "v1", "Pod")
NODE = root("", "v1", "Node")
SERVICE = root("", "v1", "Service")
PDB = root("policy", "v1", "PodDisruptionBudget")


def smp(original: dict[str, Any], patch: dict[str, Any], node: Node | None) -> Any:
    before, patch_before = copy.deepcopy(original), copy.deepcopy(patch)
    out = apply_strategic_merge_patch(original, patch, node)
    assert original == before and patch == patch_before, "inputs were mutated"
    return out


def deployment() -> dict[str, Any]:
    """A Deployment as kube-apiserver returns it after `kubectl apply` (defaults filled in)."""
    container = {
        "name": "nginx", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "default", "uid": "7d1c", "resourceVersion": "812", "generation": 1,
            "creationTimestamp": "2025-01-01T00:00:00Z", "labels": {"app": "web"},
            "annotations": {"deployment.kubernetes.io/revision": "1",
                            "kubectl.kubernetes.io/last-applied-configuration": "{}\n"},
        },
        "spec": {
            "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [container],
                    "volumes": [{"name": "cfg", "configMap": {"name": "web", "defaultMode": 420}}],
                    "tolerations": [{"key": "a", "operator": "Exists", "effect": "NoSchedule"}],
                    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                    "securityContext": {}, "schedulerName": "default-scheduler",
                },
            },
        },
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1},
    }


def pod_spec(out: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = out["spec"]["template"]["spec"]
    return spec


# ---- the bodies kubectl sends ----------------------------------------------------------------------

def test_kubectl_apply_image_change_keeps_the_rest_of_the_container() -> None:
    live = deployment()
    patch = {"spec": {"replicas": 3, "template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}}}
    out = smp(live, patch, DEPLOYMENT)
    expected = deployment()
    expected["spec"]["replicas"] = 3
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert out == expected
    assert out["status"] is live["status"]  # untouched subtrees are shared, not copied


def test_kubectl_set_image_and_rollout_restart() -> None:
    out = smp(deployment(), {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}},
              DEPLOYMENT)
    assert pod_spec(out)["containers"][0]["image"] == "nginx:1.27"
    stamp = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T10:00:00Z"}}}}}
    out = smp(deployment(), stamp, DEPLOYMENT)
    assert out["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T10:00:00Z"}}


def test_rollout_pause_and_resume() -> None:
    paused = smp(deployment(), {"spec": {"paused": True}}, DEPLOYMENT)
    assert paused["spec"]["paused"] is True
    resumed = smp(paused, {"spec": {"paused": None}}, DEPLOYMENT)
    assert "paused" not in resumed["spec"] and resumed == deployment()


def test_cordon_and_uncordon() -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {"podCIDR": "10.244.0.0/24"}}
    cordoned = smp(node, {"spec": {"unschedulable": True}}, NODE)
    assert cordoned["spec"] == {"podCIDR": "10.244.0.0/24", "unschedulable": True}
    assert smp(cordoned, {"spec": {"unschedulable": None}}, NODE) == node


def test_labels_null_deletes_and_annotations_merge() -> None:
    patch = {"metadata": {"labels": {"app": None, "tier": "fe"}, "annotations": {"note": "x"}}}
    out = smp(deployment(), patch, DEPLOYMENT)
    assert out["metadata"]["labels"] == {"tier": "fe"}
    assert out["metadata"]["annotations"]["note"] == "x"
    assert out["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"


# ---- lists that merge by key ---------------------------------------------------------------------------

def test_env_merges_by_name() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "env": [
        {"name": "B", "value": "20"}, {"name": "A", "$patch": "delete"}, {"name": "C", "value": "3"}]}]}}}}
    env = pod_spec(smp(deployment(), patch, DEPLOYMENT))["containers"][0]["env"]
    # without $setElementOrder the patched elements come first (upstream order rule)
    assert env == [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]


def test_ports_merge_by_container_port() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "ports": [
        {"containerPort": 80, "name": "http"}, {"containerPort": 443, "protocol": "TCP"}]}]}}}}
    ports = pod_spec(smp(deployment(), patch, DEPLOYMENT))["containers"][0]["ports"]
    assert ports == [{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443, "protocol": "TCP"}]


def test_new_container_without_order_goes_first_and_with_order_follows_it() -> None:
    sidecar = {"name": "log", "image": "busybox"}
    patch = {"spec": {"template": {"spec": {"containers": [sidecar]}}}}
    names = [c["name"] for c in pod_spec(smp(deployment(), patch, DEPLOYMENT))["containers"]]
    assert names == ["log", "nginx"]
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}, {"name": "log"}],
                                            "containers": [sidecar]}}}}
    names = [c["name"] for c in pod_spec(smp(deployment(), patch, DEPLOYMENT))["containers"]]
    assert names == ["nginx", "log"]


def test_server_only_elements_interleave_by_live_position() -> None:
    live = {"spec": {"containers": [{"name": "a"}, {"name": "b", "image": "x"}, {"name": "d", "image": "y"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "c"}],
                      "containers": [{"name": "c"}, {"name": "a", "$patch": "delete"}]}}
    # "d" is not in the order list: it keeps its live place after "b"; the new "c" ends the list
    assert smp(live, patch, POD)["spec"]["containers"] == [
        {"name": "b", "image": "x"}, {"name": "d", "image": "y"}, {"name": "c"}]


def test_set_element_order_alone_reorders() -> None:
    live = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}
    assert smp(live, patch, POD)["spec"]["containers"] == [{"name": "b", "image": "2"}, {"name": "a", "image": "1"}]


def test_volumes_merge_by_name_and_retain_keys_switches_the_source() -> None:
    patch = {"spec": {"template": {"spec": {"volumes": [
        {"name": "cfg", "secret": {"secretName": "web"}, "configMap": None, "$retainKeys": ["name", "secret"]},
        {"name": "cache", "emptyDir": {}}]}}}}
    volumes = pod_spec(smp(deployment(), patch, DEPLOYMENT))["volumes"]
    assert volumes == [{"name": "cfg", "secret": {"secretName": "web"}}, {"name": "cache", "emptyDir": {}}]


def test_service_ports_merge_by_port() -> None:
    svc = {"spec": {"type": "ClusterIP", "ports": [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]}}
    patch = {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443, "$patch": "delete"}]}}
    assert smp(svc, patch, SERVICE)["spec"]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 9090}]


def test_delete_directive_removes_every_match() -> None:
    live = {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]}}
    patch = {"metadata": {"ownerReferences": [{"uid": "1", "$patch": "delete"}]}}
    assert smp(live, patch, POD)["metadata"]["ownerReferences"] == [{"uid": "2", "name": "b"}]


def test_replace_directive_in_a_list() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x", "env": None},
                                                           {"$patch": "replace"}]}}}}
    assert pod_spec(smp(deployment(), patch, DEPLOYMENT))["containers"] == [{"name": "only", "image": "x"}]


# ---- lists that are replaced, scalar sets ----------------------------------------------------------

def test_tolerations_are_atomic() -> None:
    patch = {"spec": {"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}}}
    assert pod_spec(smp(deployment(), patch, DEPLOYMENT))["tolerations"] == [{"key": "b", "operator": "Exists"}]


def test_args_are_atomic() -> None:
    live = {"spec": {"containers": [{"name": "a", "args": ["x", "y"]}]}}
    out = smp(live, {"spec": {"containers": [{"name": "a", "args": ["z"]}]}}, POD)
    assert out["spec"]["containers"] == [{"name": "a", "args": ["z"]}]


def test_finalizers_merge_as_a_set() -> None:
    live = {"metadata": {"finalizers": ["a", "b"]}}
    assert smp(live, {"metadata": {"finalizers": ["b", "c"]}}, POD)["metadata"]["finalizers"] == ["a", "b", "c"]
    assert smp(live, {"metadata": {"finalizers": ["c"]}}, POD)["metadata"]["finalizers"] == ["c", "a", "b"]
    out = smp(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, POD)
    assert out["metadata"]["finalizers"] == ["b"]
    patch = {"metadata": {"$setElementOrder/finalizers": ["a", "c"], "finalizers": ["c"],
                          "$deleteFromPrimitiveList/finalizers": ["b"]}}
    assert smp(live, patch, POD)["metadata"]["finalizers"] == ["a", "c"]


def test_delete_from_primitive_list_works_whatever_the_strategy() -> None:
    live = {"spec": {"containers": [{"name": "a", "args": ["x", "y", "x"]}]}}
    patch = {"spec": {"containers": [{"name": "a", "$deleteFromPrimitiveList/args": ["x"]}]}}
    assert smp(live, patch, POD)["spec"]["containers"] == [{"name": "a", "args": ["y"]}]


# ---- maps and directives ----------------------------------------------------------------------------

def test_retain_keys_switches_deployment_strategy() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}}
    assert smp(deployment(), patch, DEPLOYMENT)["spec"]["strategy"] == {"type": "Recreate"}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert smp(deployment(), patch, DEPLOYMENT)["spec"]["strategy"] == {"type": "Recreate"}


def test_replace_and_delete_directives_on_maps() -> None:
    out = smp(deployment(), {"metadata": {"labels": {"$patch": "replace", "new": "1"}}}, DEPLOYMENT)
    assert out["metadata"]["labels"] == {"new": "1"}
    out = smp(deployment(), {"spec": {"template": {"spec": {"securityContext": {"$patch": "delete"}}}}}, DEPLOYMENT)
    assert pod_spec(out)["securityContext"] == {}


def test_replace_strategy_field() -> None:
    pdb = {"spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}, "matchExpressions": []}}}
    out = smp(pdb, {"spec": {"selector": {"matchLabels": {"tier": "fe"}}}}, PDB)
    assert out["spec"]["selector"] == {"matchLabels": {"tier": "fe"}}


def test_new_values_lose_nulls_and_directives() -> None:
    live: dict[str, Any] = {"spec": {}}
    patch = {"spec": {"containers": [{"name": "a", "env": None, "ports": [{"containerPort": 1, "name": None}],
                                      "$setElementOrder/ports": [{"containerPort": 1}]},
                                     {"name": "gone", "$patch": "delete"}]}}
    assert smp(live, patch, POD) == {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 1}]}]}}


def test_unknown_and_free_form_fields_merge_like_json_merge_patch() -> None:
    live = {"spec": {"x-extra": {"a": 1, "b": [1, 2]}}, "data": {"k": {"deep": 1}}}
    patch = {"spec": {"x-extra": {"a": None, "b": [3], "c": {"d": 1}}}, "data": {"k": {"more": 2}}}
    rev = root("apps", "v1", "ControllerRevision")  # .data is a RawExtension
    assert smp(live, patch, rev) == {"spec": {"x-extra": {"b": [3], "c": {"d": 1}}}, "data": {"k": {"deep": 1, "more": 2}}}


def test_type_change_replaces_the_value() -> None:
    live = {"spec": {"nodeSelector": {"a": "1"}}}
    assert smp(live, {"spec": {"nodeSelector": "x"}}, POD) == {"spec": {"nodeSelector": "x"}}


def test_no_schema_node() -> None:
    assert smp({"a": [1, 2], "b": {"c": 1}}, {"a": [3], "b": {"d": 2}}, None) == {"a": [3], "b": {"c": 1, "d": 2}}


def test_null_patch_and_whole_object_directives() -> None:
    live = deployment()
    assert apply_strategic_merge_patch(live, None, DEPLOYMENT) is live
    assert smp(live, {"$patch": "delete"}, DEPLOYMENT) == {}
    assert smp(live, {"$patch": "replace", "kind": "Deployment"}, DEPLOYMENT) == {"kind": "Deployment"}


# ---- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("live", "patch", "code", "message"), [
    ({"metadata": {"labels": {"a": "b"}}}, {"metadata": {"labels": {"$patch": "bogus"}}}, 500,
     "unknown patch type: bogus in map: map[$patch:bogus]"),
    ({"spec": {"containers": [{"name": "a"}]}}, {"spec": {"containers": [{"image": "x"}]}}, 500,
     "map: map[image:x] does not contain declared merge key: name"),
    ({"spec": {"containers": [{"name": "a"}]}}, {"spec": {"containers": [{"$patch": "delete"}]}}, 500,
     "map: map[$patch:delete] does not contain declared merge key: name"),
    ({"spec": {"containers": [{"name": "a"}]}}, {"spec": {"containers": [{"name": "a", "$patch": "merge"}]}}, 500,
     "merging lists cannot yet be specified in the patch"),
    ({"spec": {"containers": [{"name": "a"}]}}, {"spec": {"containers": ["a"]}}, 500,
     "list element types are not identical: [[map[name:a]] [a]]"),
    ({"metadata": {"finalizers": ["a"]}}, {"metadata": {"finalizers": [["b"]]}}, 500,
     "list element types are not identical: [[a] [[b]]]"),
    ({"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": ["b"]}}, 422,
     "lists of lists are not supported"),
    ({"spec": {"strategy": {"type": "Recreate"}}}, {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}},
     400, "invalid patch format of retainKeys"),
    ({"spec": {"strategy": {"type": "Recreate"}}}, {"spec": {"strategy": {"$retainKeys": "type"}}},
     400, "invalid patch format of retainKeys"),
    ({"spec": {}}, {"spec": {"$setElementOrder": []}}, 400, "invalid patch format of setElementOrder list"),
    ({"spec": {}}, {"spec": {"$deleteFromPrimitiveListX/a": []}}, 400, "invalid patch format of primitive list"),
    ({"spec": {}}, {"spec": {"$setElementOrder/containers": "a"}}, 500,
     "expected a []interface {}, but received a string"),
    ({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}},
     {"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "b"}]}}, 500,
     "The order in patch list:\n[map[name:b]]\n doesn't match $setElementOrder list:\n[map[name:a]]\n"),
])
def test_errors(live: dict[str, Any], patch: dict[str, Any], code: int, message: str) -> None:
    node = DEPLOYMENT if "strategy" in live.get("spec", {}) else POD
    with pytest.raises(PatchError) as err:
        smp(live, patch, node)
    assert (err.value.code, err.value.message) == (code, message)


@pytest.mark.parametrize("body", [["a"], "x", 1])
def test_non_object_patch(body: Any) -> None:
    with pytest.raises(PatchError) as err:
        apply_strategic_merge_patch({}, body, POD)
    assert err.value.code == 400
    assert err.value.message.endswith("into Go value of type map[string]interface {}")


# ---- creating patches ----------------------------------------------------------------------------------

def test_two_way_patch_of_an_image_change_is_what_kubectl_sends() -> None:
    live = deployment()
    modified = deployment()
    modified["spec"]["replicas"] = 3
    modified["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert create_two_way_merge_patch(live, modified, DEPLOYMENT) == {"spec": {"replicas": 3, "template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}}}


def test_two_way_patch_directives() -> None:
    live = deployment()
    modified = deployment()
    modified["spec"]["strategy"] = {"type": "Recreate"}
    modified["metadata"]["finalizers"] = ["x"]
    spec = pod_spec(modified)
    spec["containers"][0]["env"] = [{"name": "B", "value": "2"}]
    del spec["volumes"]
    patch = create_two_way_merge_patch(live, modified, DEPLOYMENT)
    assert patch == {
        "metadata": {"finalizers": ["x"]},
        "spec": {
            "strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None},
            "template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{"name": "nginx", "$setElementOrder/env": [{"name": "B"}],
                                "env": [{"$patch": "delete", "name": "A"}]}],
                "volumes": None}}}}
    assert smp(live, patch, DEPLOYMENT) == modified


def test_two_way_patch_of_equal_objects_is_empty() -> None:
    assert create_two_way_merge_patch(deployment(), deployment(), DEPLOYMENT) == {}


def test_two_way_patch_of_a_reordered_scalar_set_round_trips() -> None:
    live = {"metadata": {"finalizers": ["b", "c", "a"]}}
    modified = {"metadata": {"finalizers": ["a", "b", "c"]}}
    patch = create_two_way_merge_patch(live, modified, POD)
    assert patch == {"metadata": {"$setElementOrder/finalizers": ["a", "b", "c"]}}
    assert smp(live, patch, POD) == modified


def test_strip_directives() -> None:
    value = {"a": None, "$retainKeys": ["a"], "l": [{"$patch": "delete", "n": 1}, {"n": 2}],
             "$setElementOrder/l": [{"n": 2}], "m": {"$patch": "replace"}}
    assert strip_directives(value) == {"a": None, "l": [{"n": 2}]}
    assert strip_directives(value, drop_nulls=True) == {"l": [{"n": 2}]}
    assert strip_directives({"$patch": "delete"}) is None


# ---- round trip over random pod-like objects ------------------------------------------------------

if importlib.util.find_spec("hypothesis") is not None:  # a dev dependency
    from hypothesis import given, settings
    from hypothesis import strategies as st

    NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
    WORDS = st.sampled_from(["x", "y", "z", "nginx", "busybox"])

    def keyed(element: st.SearchStrategy[dict[str, Any]], key: str, values: st.SearchStrategy[Any],
              max_size: int = 4) -> st.SearchStrategy[list[dict[str, Any]]]:
        """Lists of objects with unique merge keys."""
        return st.lists(st.tuples(values, element), max_size=max_size, unique_by=lambda t: t[0]).map(
            lambda pairs: [{key: k, **e} for k, e in pairs])

    def optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({}, optional=fields)

    ENV = keyed(optional(value=WORDS), "name", NAMES)
    PORTS = keyed(optional(protocol=st.sampled_from(["TCP", "UDP"]), name=WORDS), "containerPort",
                  st.sampled_from([80, 81, 443, 8080]))
    CONTAINER = optional(image=WORDS, env=ENV, ports=PORTS, args=st.lists(WORDS, max_size=3),
                         resources=optional(limits=st.dictionaries(st.sampled_from(["cpu", "memory"]), WORDS)))
    SOURCE: st.SearchStrategy[dict[str, Any]] = st.one_of(st.just({"emptyDir": {}}), WORDS.map(lambda n: {"configMap": {"name": n}}),
                       WORDS.map(lambda n: {"secret": {"secretName": n}}))
    POD_OBJECTS = st.fixed_dictionaries({
        "metadata": optional(labels=st.dictionaries(NAMES, WORDS, max_size=3),
                             finalizers=st.lists(NAMES, max_size=4, unique=True)),
        "spec": optional(containers=keyed(CONTAINER, "name", NAMES), initContainers=keyed(CONTAINER, "name", NAMES, 2),
                         volumes=keyed(SOURCE, "name", NAMES),
                         tolerations=st.lists(optional(key=NAMES, operator=st.just("Exists")), max_size=2),
                         nodeSelector=st.dictionaries(NAMES, WORDS, max_size=2),
                         restartPolicy=st.sampled_from(["Always", "Never"])),
    })

    @settings(max_examples=300, deadline=None)
    @given(POD_OBJECTS, POD_OBJECTS)
    def test_two_way_patch_round_trips(original: dict[str, Any], modified: dict[str, Any]) -> None:
        patch = create_two_way_merge_patch(original, modified, POD)
        assert smp(original, patch, POD) == modified
