"""The generic store's create path end to end (in process): metadata, decode, fieldValidation, dry run,
namespace lifecycle, bootstrap objects and the pod admission mutations."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import pytest

from pocketkube.apiserver import bootstrap, deletion
from pocketkube.apiserver.admission_pods import TOKEN_MOUNT_PATH
from pocketkube.apiserver.objectmeta import _SUFFIX_ALPHABET
from pocketkube.apiserver.server import APIServer, ServerConfig
from pocketkube.machinery.errors import StatusError
from pocketkube.storage import open_store

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


async def status_of(coro: Any) -> StatusError:
    with pytest.raises(StatusError) as e:
        await coro
    return e.value


def pod(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}], **spec}}


# --- bootstrap ---------------------------------------------------------------------------------


async def test_bootstrap_objects(api: Any) -> None:
    for ns in bootstrap.SYSTEM_NAMESPACES:
        obj = await api.get("namespaces", ns, "")
        assert obj["status"]["phase"] == "Active"
        assert obj["metadata"]["labels"] == {"kubernetes.io/metadata.name": ns}
    svc = await api.get("services", "kubernetes")
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["clusterIPs"] == ["10.96.0.1"]
    assert svc["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]
    assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    ep = await api.get("endpoints", "kubernetes")
    assert ep["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}],
                              "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    slice_ = await api.get("endpointslices", "kubernetes", group="discovery.k8s.io")
    assert slice_["endpoints"][0]["addresses"] == ["127.0.0.1"]
    assert slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
    pcs = {n: (await api.get("priorityclasses", n, "", "scheduling.k8s.io"))["value"]
           for n in ("system-node-critical", "system-cluster-critical")}
    assert pcs == {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
    assert api.server.allocator.used_ips == {"10.96.0.1"}


async def test_bootstrap_is_idempotent_and_reconciles_endpoints(api: Any) -> None:
    svc_rv = (await api.get("services", "kubernetes"))["metadata"]["resourceVersion"]
    await bootstrap.run(api.server, "127.0.0.1", 7443)
    await api.settle()
    assert (await api.get("services", "kubernetes"))["metadata"]["resourceVersion"] == svc_rv
    ep = await api.get("endpoints", "kubernetes")
    assert ep["subsets"][0]["ports"][0]["port"] == 7443
    slice_ = await api.get("endpointslices", "kubernetes", group="discovery.k8s.io")
    assert slice_["ports"][0]["port"] == 7443
    rev = await api.revision()
    await bootstrap.run(api.server, "127.0.0.1", 7443)
    assert await api.revision() == rev  # nothing left to change


# --- metadata ------------------------------------------------------------------------------------


async def test_create_assigns_server_metadata(api: Any) -> None:
    obj = await api.create("configmaps", {"metadata": {"name": "cfg", "uid": "forged", "generation": 9,
                                                       "creationTimestamp": "2000-01-01T00:00:00Z",
                                                       "selfLink": "/x"}, "data": {"a": "1"}},
                           field_manager="tester")
    m = obj["metadata"]
    assert (obj["apiVersion"], obj["kind"]) == ("v1", "ConfigMap")
    assert m["namespace"] == "default"
    assert UID.match(m["uid"])
    assert TIMESTAMP.match(m["creationTimestamp"]) and m["creationTimestamp"] != "2000-01-01T00:00:00Z"
    assert "generation" not in m and "selfLink" not in m
    assert m["resourceVersion"] == str(await api.revision())
    assert [(f["manager"], f["operation"]) for f in m["managedFields"]] == [("tester", "Update")]
    stored = await api.get("configmaps", "cfg")
    assert stored["metadata"]["uid"] == m["uid"]
    assert stored["data"] == {"a": "1"}


async def test_generate_name(api: Any) -> None:
    a = await api.create("configmaps", {"metadata": {"generateName": "job-"}})
    b = await api.create("configmaps", {"metadata": {"generateName": "job-"}})
    for obj in (a, b):
        name = obj["metadata"]["name"]
        assert name.startswith("job-") and len(name) == 9
        assert set(name[4:]) <= set(_SUFFIX_ALPHABET)
        assert obj["metadata"]["generateName"] == "job-"
    assert a["metadata"]["name"] != b["metadata"]["name"]


async def test_generation_starts_at_one_for_spec_kinds(api: Any) -> None:
    d = await api.create("deployments", {"metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}},
        group="apps")
    assert d["metadata"]["generation"] == 1
    assert d["status"] == {}
    assert d["spec"]["replicas"] == 1  # defaults ran


async def test_duplicate_name_is_409(api: Any) -> None:
    await api.create("configmaps", {"metadata": {"name": "dup"}})
    e = await status_of(api.create("configmaps", {"metadata": {"name": "dup"}}))
    assert (e.code, e.reason, e.message) == (409, "AlreadyExists", 'configmaps "dup" already exists')
    assert e.details == {"name": "dup", "kind": "configmaps"}


async def test_resource_version_on_create_is_rejected(api: Any) -> None:
    e = await status_of(api.create("configmaps", {"metadata": {"name": "rv", "resourceVersion": "5"}}))
    assert e.code == 500
    assert e.message == "Internal error occurred: resourceVersion should not be set on objects to be created"


async def test_type_meta_must_match_the_endpoint(api: Any) -> None:
    e = await status_of(api.create("configmaps", {"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "x"}}))
    assert (e.code, e.message) == (400, "the API version in the data (v2) does not match the expected API version (v1)")
    e = await status_of(api.create("configmaps", {"kind": "Secret", "metadata": {"name": "x"}}))
    assert e.message == "the kind in the data (Secret) does not match the expected kind (ConfigMap)"


async def test_namespace_in_body_must_match_url(api: Any) -> None:
    e = await status_of(api.create("configmaps", {"metadata": {"name": "x", "namespace": "other"}}))
    assert e.code == 400
    assert e.message == "the namespace of the provided object does not match the namespace sent on the request"


async def test_cluster_scoped_objects_drop_namespace(api: Any) -> None:
    obj = await api.create("namespaces", {"metadata": {"name": "team", "namespace": "default"}}, namespace="")
    assert "namespace" not in obj["metadata"]


async def test_type_mismatch_is_400_with_go_message(api: Any) -> None:
    e = await status_of(api.create("configmaps", {"metadata": {"name": "x"}, "data": {"a": 1}}))
    assert (e.code, e.reason) == (400, "BadRequest")
    assert e.message == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number '
                         'into Go struct field ConfigMap.data of type string')


async def test_non_object_body_is_400(api: Any) -> None:
    e = await status_of(api.store("configmaps").create("default", ["not", "an", "object"], api.ctx()))
    assert e.code == 400
    assert e.message.startswith("Object 'Kind' is missing in '[")


async def test_validation_failure_is_422(api: Any) -> None:
    e = await status_of(api.create("configmaps", {"metadata": {"name": "Bad_Name"}}))
    assert (e.code, e.reason) == (422, "Invalid")
    assert e.message.startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"')
    assert not await api.exists("configmaps", "Bad_Name")


# --- fieldValidation ---------------------------------------------------------------------------------


UNKNOWN = {"metadata": {"name": "u", "bogus": 1}, "data": {"a": "1"}, "extra": True}


async def test_field_validation_strict(api: Any) -> None:
    e = await status_of(api.create("configmaps", dict(UNKNOWN), field_validation="Strict"))
    assert e.code == 400
    assert e.message == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
                         'unknown field "metadata.bogus", unknown field "extra"')
    assert not await api.exists("configmaps", "u")


async def test_field_validation_warn_prunes_and_warns(api: Any) -> None:
    ctx = api.ctx(field_validation="Warn")
    obj = await api.store("configmaps").create("default", dict(UNKNOWN, metadata={"name": "u", "bogus": 1}), ctx)
    assert ctx.warnings == ['unknown field "metadata.bogus"', 'unknown field "extra"']  # document order
    assert "extra" not in obj and "bogus" not in obj["metadata"]


async def test_field_validation_ignore_prunes_silently(api: Any) -> None:
    ctx = api.ctx(field_validation="Ignore")
    obj = await api.store("configmaps").create("default", dict(UNKNOWN, metadata={"name": "u", "bogus": 1}), ctx)
    assert ctx.warnings == []
    assert "extra" not in obj
    await api.settle()
    assert "extra" not in await api.get("configmaps", "u")


# --- dry run ---------------------------------------------------------------------------------------------


async def test_dry_run_create_writes_nothing(api: Any) -> None:
    rev = await api.revision()
    obj = await api.store("configmaps").create("default", {"metadata": {"name": "dry"}}, api.ctx(dry_run=True))
    assert obj["metadata"]["name"] == "dry"
    assert UID.match(obj["metadata"]["uid"])
    assert "resourceVersion" not in obj["metadata"]
    assert await api.revision() == rev
    await api.settle()
    assert not await api.exists("configmaps", "dry")


async def test_dry_run_service_does_not_keep_its_ip(api: Any) -> None:
    before = set(api.server.allocator.used_ips)
    obj = await api.store("services").create("default", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}},
                                             api.ctx(dry_run=True))
    assert obj["spec"]["clusterIP"].startswith("10.")
    assert api.server.allocator.used_ips == before


# --- namespace lifecycle -----------------------------------------------------------------------------------


async def test_namespace_must_exist(api: Any) -> None:
    e = await status_of(api.create("configmaps", {"metadata": {"name": "x"}}, namespace="nope"))
    assert (e.code, e.reason, e.message) == (404, "NotFound", 'namespaces "nope" not found')


async def test_namespace_must_not_be_terminating(api: Any) -> None:
    await api.namespace("doomed")
    await deletion.delete(api.store("namespaces"), "", "doomed", deletion.DeleteOptions(), api.ctx())
    await api.settle()
    e = await status_of(api.create("configmaps", {"metadata": {"name": "late"}}, namespace="doomed"))
    assert (e.code, e.reason) == (403, "Forbidden")
    assert e.message == ('configmaps "late" is forbidden: unable to create new content in namespace doomed because '
                         'it is being terminated')
    event = {"metadata": {"name": "ev"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "doomed"},
             "reason": "Deleting", "message": "bye", "type": "Normal"}
    created = await api.create("events", event, namespace="doomed")  # events are exempt
    assert created["metadata"]["namespace"] == "doomed"


async def test_create_right_after_namespace_create(api: Any) -> None:
    """No settle in between: admission catches up with storage on a cache miss, as upstream's live lookup."""
    await api.store("namespaces").create("", {"metadata": {"name": "fresh"}}, api.ctx())
    obj = await api.store("configmaps").create("fresh", {"metadata": {"name": "x"}}, api.ctx())
    assert obj["metadata"]["namespace"] == "fresh"


# --- pod admission ----------------------------------------------------------------------------------------


async def test_pod_admission_mutations(api: Any) -> None:
    await api.service_account()
    p = await api.create("pods", pod(initContainers=[{"name": "init", "image": "busybox"}]))
    spec = p["spec"]
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("default", "default")
    (volume,) = spec["volumes"]
    assert re.match(r"^kube-api-access-[a-z0-9]{5}$", volume["name"])
    sources = volume["projected"]["sources"]
    assert volume["projected"]["defaultMode"] == 420
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    for c in spec["initContainers"] + spec["containers"]:
        assert c["volumeMounts"] == [{"name": volume["name"], "readOnly": True, "mountPath": TOKEN_MOUNT_PATH}]
    assert spec["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300}]
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert "priorityClassName" not in spec
    assert p["status"]["phase"] == "Pending"


async def test_pod_needs_its_service_account(api: Any) -> None:
    e = await status_of(api.create("pods", pod(serviceAccountName="robot")))
    assert (e.code, e.reason) == (403, "Forbidden")
    assert e.message == ('pods "web" is forbidden: error looking up service account default/robot: serviceaccount '
                         '"robot" not found')


async def test_pod_right_after_its_service_account(api: Any) -> None:
    await api.store("serviceaccounts").create("default", {"metadata": {"name": "robot"}}, api.ctx())
    p = await api.store("pods").create("default", pod(serviceAccountName="robot"), api.ctx())
    assert p["spec"]["serviceAccountName"] == "robot"


async def test_automount_opt_out_and_existing_mount(api: Any) -> None:
    await api.service_account(name="quiet", automountServiceAccountToken=False)
    await api.service_account()
    quiet = await api.create("pods", pod("a", serviceAccountName="quiet"))
    assert "volumes" not in quiet["spec"]
    assert "volumeMounts" not in quiet["spec"]["containers"][0]
    forced = await api.create("pods", pod("b", serviceAccountName="quiet", automountServiceAccountToken=True))
    assert forced["spec"]["volumes"][0]["name"].startswith("kube-api-access-")
    off = await api.create("pods", pod("c", automountServiceAccountToken=False))
    assert "volumes" not in off["spec"]
    own = pod("d", volumes=[{"name": "mine", "emptyDir": {}}])
    own["spec"]["containers"][0]["volumeMounts"] = [{"name": "mine", "mountPath": TOKEN_MOUNT_PATH}]
    kept = await api.create("pods", own)
    assert [v["name"] for v in kept["spec"]["volumes"]] == ["mine"]


async def test_existing_tolerations_are_respected(api: Any) -> None:
    await api.service_account()
    everything = await api.create("pods", pod("a", tolerations=[{"operator": "Exists"}]))
    assert everything["spec"]["tolerations"] == [{"operator": "Exists"}]
    mine = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}
    one = await api.create("pods", pod("b", tolerations=[mine]))
    assert one["spec"]["tolerations"] == [mine, {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                                 "effect": "NoExecute", "tolerationSeconds": 300}]
    no_schedule = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"}
    other = await api.create("pods", pod("c", tolerations=[no_schedule]))
    assert len(other["spec"]["tolerations"]) == 3


async def test_priority_class_admission(api: Any) -> None:
    await api.service_account()
    critical = await api.create("pods", pod("a", priorityClassName="system-node-critical"))
    assert (critical["spec"]["priority"], critical["spec"]["preemptionPolicy"]) == (2000001000, "PreemptLowerPriority")
    e = await status_of(api.create("pods", pod("b", priorityClassName="missing")))
    assert (e.code, e.message) == (403, 'pods "b" is forbidden: no PriorityClass with name missing was found')
    e = await status_of(api.create("pods", pod("c", priority=7)))
    assert e.code == 403
    assert e.message == ('pods "c" is forbidden: the integer value of priority (7) must not be provided in pod spec; '
                         'priority admission controller computed 0 from the given PriorityClass name')
    same = await api.create("pods", pod("d", priority=0))
    assert same["spec"]["priority"] == 0


async def test_global_default_priority_class(api: Any) -> None:
    await api.service_account()
    await api.create("priorityclasses", {"metadata": {"name": "batch"}, "value": 1000, "globalDefault": True,
                                         "preemptionPolicy": "Never"}, namespace="", group="scheduling.k8s.io")
    p = await api.create("pods", pod())
    assert (p["spec"]["priorityClassName"], p["spec"]["priority"], p["spec"]["preemptionPolicy"]) == (
        "batch", 1000, "Never")


async def test_mirror_pods_skip_service_account_admission(api: Any) -> None:
    mirror = pod("static")
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    mirror["spec"]["nodeName"] = "node-1"
    p = await api.create("pods", mirror)
    assert "serviceAccountName" not in p["spec"]
    assert "volumes" not in p["spec"]


async def test_bootstrap_twice_in_one_process(api: Any) -> None:
    store = await open_store("memory://")
    server = APIServer(ServerConfig(), store)
    task = asyncio.create_task(server.cache.run())
    try:
        await asyncio.wait_for(server.cache.ready.wait(), 5)
        await bootstrap.run(server, "127.0.0.1", 6443)  # api's server already ran it in this process
        assert all("uid" not in pc["metadata"] for pc in bootstrap.SYSTEM_PRIORITY_CLASSES)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
