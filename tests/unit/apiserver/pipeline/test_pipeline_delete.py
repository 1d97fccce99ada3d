"""DELETE end to end (in process): preconditions, finalizers, graceful pods, namespaces, dry run,
deletecollection, DeleteOptions parsing, and service IP / NodePort allocation and release."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pocketkube.api import labels
from pocketkube.apiserver import deletion, listing
from pocketkube.apiserver.deletion import DeleteOptions
from pocketkube.apiserver.store import ListOptions
from pocketkube.machinery.errors import StatusError

NOW = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)


async def status_of(coro: Any) -> StatusError:
    with pytest.raises(StatusError) as e:
        await coro
    return e.value


async def delete(api: Any, plural: str, name: str, namespace: str = "default", group: str = "",
                 opts: DeleteOptions | None = None, **ctx: Any) -> dict[str, Any]:
    body, code = await deletion.delete(api.store(plural, group), namespace, name, opts or DeleteOptions(),
                                       api.ctx(now=NOW, **ctx))
    assert code == 200
    await api.settle()
    return body


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}


# --- plain deletes ----------------------------------------------------------------------------------


async def test_delete_answers_with_a_success_status(api: Any) -> None:
    cm = await api.create("configmaps", {"metadata": {"name": "cfg"}})
    body = await delete(api, "configmaps", "cfg")
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": "cfg", "kind": "configmaps", "uid": cm["metadata"]["uid"]}}
    assert not await api.exists("configmaps", "cfg")
    e = await status_of(delete(api, "configmaps", "cfg"))
    assert (e.code, e.message) == (404, 'configmaps "cfg" not found')


async def test_delete_status_details_carry_the_group(api: Any) -> None:
    await api.create("roles", {"metadata": {"name": "r"}, "rules": []}, group="rbac.authorization.k8s.io")
    body = await delete(api, "roles", "r", group="rbac.authorization.k8s.io")
    assert body["details"]["group"] == "rbac.authorization.k8s.io"
    assert body["details"]["kind"] == "roles"


async def test_preconditions(api: Any) -> None:
    cm = await api.create("configmaps", {"metadata": {"name": "cfg"}})
    e = await status_of(delete(api, "configmaps", "cfg", opts=DeleteOptions(precondition_uid="x")))
    assert (e.code, e.reason) == (409, "Conflict")
    # rest.BeforeDelete words it, naming the kind (GroupResource{Resource: gvk.Kind}).
    assert e.message == (f'Operation cannot be fulfilled on ConfigMap "cfg": the UID in the precondition (x) does '
                         f'not match the UID in record ({cm["metadata"]["uid"]}). The object might have been '
                         f'deleted and then recreated')
    e = await status_of(delete(api, "configmaps", "cfg", opts=DeleteOptions(precondition_rv="1")))
    assert e.message == (f'Operation cannot be fulfilled on ConfigMap "cfg": the ResourceVersion in the precondition '
                         f'(1) does not match the ResourceVersion in record ({cm["metadata"]["resourceVersion"]}). '
                         f'The object might have been modified')
    await delete(api, "configmaps", "cfg", opts=DeleteOptions(precondition_uid=cm["metadata"]["uid"],
                                                             precondition_rv=cm["metadata"]["resourceVersion"]))
    assert not await api.exists("configmaps", "cfg")


async def test_dry_run_delete_keeps_the_object(api: Any) -> None:
    await api.create("configmaps", {"metadata": {"name": "cfg"}})
    rev = await api.revision()
    body = await delete(api, "configmaps", "cfg", opts=DeleteOptions(dry_run=True))
    assert body["status"] == "Success"
    assert await api.revision() == rev
    assert await api.exists("configmaps", "cfg")


# --- finalizers -------------------------------------------------------------------------------------------


async def test_finalizers_hold_the_object_until_removed(api: Any) -> None:
    await api.create("configmaps", {"metadata": {"name": "held", "finalizers": ["example.com/keep"]}})
    marked = await delete(api, "configmaps", "held")
    m = marked["metadata"]
    assert m["deletionTimestamp"] == "2030-05-06T07:08:09Z"
    assert m["deletionGracePeriodSeconds"] == 0
    assert m["finalizers"] == ["example.com/keep"]
    stored = await api.get("configmaps", "held")
    assert stored["metadata"]["deletionTimestamp"] == "2030-05-06T07:08:09Z"
    # A second delete changes nothing.
    rev = await api.revision()
    again = await delete(api, "configmaps", "held")
    assert again["metadata"]["deletionTimestamp"] == "2030-05-06T07:08:09Z"
    assert await api.revision() == rev
    # Dropping the last finalizer removes it.
    stored["metadata"]["finalizers"] = []
    await api.store("configmaps").update("default", "held", stored, api.ctx())
    await api.settle()
    assert not await api.exists("configmaps", "held")


async def test_finalizer_removal_by_patch_deletes(api: Any) -> None:
    await api.create("configmaps", {"metadata": {"name": "held", "finalizers": ["a", "b"]}})
    await delete(api, "configmaps", "held")
    await api.store("configmaps").patch("default", "held", "application/json-patch+json",
                                        [{"op": "remove", "path": "/metadata/finalizers/0"}], api.ctx())
    await api.settle()
    assert (await api.get("configmaps", "held"))["metadata"]["finalizers"] == ["b"]
    await api.store("configmaps").patch("default", "held", "application/merge-patch+json",
                                        {"metadata": {"finalizers": None}}, api.ctx())
    await api.settle()
    assert not await api.exists("configmaps", "held")


@pytest.mark.parametrize("policy,finalizer", [("Foreground", "foregroundDeletion"), ("Orphan", "orphan")])
async def test_propagation_policy_finalizers(api: Any, policy: str, finalizer: str) -> None:
    await api.create("configmaps", {"metadata": {"name": "owner"}})
    marked = await delete(api, "configmaps", "owner", opts=DeleteOptions(propagation=policy))
    assert marked["metadata"]["finalizers"] == [finalizer]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
    assert await api.exists("configmaps", "owner")


async def test_background_policy_removes_gc_finalizers(api: Any) -> None:
    await api.create("configmaps", {"metadata": {"name": "owner", "finalizers": ["orphan"]}})
    await delete(api, "configmaps", "owner", opts=DeleteOptions(propagation="Background"))
    assert not await api.exists("configmaps", "owner")


async def test_finalizer_held_delete_bumps_generation(api: Any) -> None:
    await api.create("deployments", {"metadata": {"name": "d", "finalizers": ["example.com/keep"]}, "spec": {
        "selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}},
        group="apps")
    marked = await delete(api, "deployments", "d", group="apps")
    assert marked["metadata"]["generation"] == 2


# --- graceful pods ------------------------------------------------------------------------------------------


async def test_scheduled_pod_deletes_gracefully(api: Any) -> None:
    await api.service_account()
    await api.create("pods", pod("web", nodeName="node-1"))
    marked = await delete(api, "pods", "web")
    m = marked["metadata"]
    assert m["deletionGracePeriodSeconds"] == 30
    assert m["deletionTimestamp"] == (NOW + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await api.exists("pods", "web")
    shorter = await delete(api, "pods", "web", opts=DeleteOptions(grace_period=5))
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 5
    longer = await delete(api, "pods", "web", opts=DeleteOptions(grace_period=60))
    assert longer["metadata"]["deletionGracePeriodSeconds"] == 5  # may only shorten
    gone = await delete(api, "pods", "web", opts=DeleteOptions(grace_period=0))
    assert gone["kind"] == "Pod"  # pods answer with the deleted object
    assert not await api.exists("pods", "web")


async def test_unscheduled_pod_is_deleted_at_once(api: Any) -> None:
    await api.service_account()
    await api.create("pods", pod("pending"))
    body = await delete(api, "pods", "pending")
    assert body["metadata"]["name"] == "pending"
    assert "deletionTimestamp" not in body["metadata"]
    assert not await api.exists("pods", "pending")


async def test_pod_termination_grace_period_is_the_default(api: Any) -> None:
    await api.service_account()
    await api.create("pods", pod("quick", nodeName="node-1", terminationGracePeriodSeconds=3))
    marked = await delete(api, "pods", "quick")
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 3


# --- namespaces ----------------------------------------------------------------------------------------------


async def test_namespace_goes_terminating(api: Any) -> None:
    await api.namespace("team")
    body = await delete(api, "namespaces", "team", namespace="")
    assert body["kind"] == "Namespace"
    assert body["status"]["phase"] == "Terminating"
    assert body["spec"]["finalizers"] == ["kubernetes"]
    assert body["metadata"]["deletionTimestamp"] == "2030-05-06T07:08:09Z"
    stored = await api.get("namespaces", "team", "")
    assert stored["status"]["phase"] == "Terminating"


async def test_second_namespace_delete_is_a_conflict(api: Any) -> None:
    await api.namespace("team")
    await delete(api, "namespaces", "team", namespace="")
    e = await status_of(delete(api, "namespaces", "team", namespace=""))
    assert (e.code, e.reason) == (409, "Conflict")
    assert e.message == ('Operation cannot be fulfilled on namespaces "team": The system is ensuring all content is '
                         'removed from this namespace.  Upon completion, this namespace will automatically be '
                         'purged by the system.')


async def test_terminating_namespace_has_no_grace_period(api: Any) -> None:
    await api.namespace("team")
    body = await delete(api, "namespaces", "team", namespace="")
    assert "deletionGracePeriodSeconds" not in body["metadata"]


async def test_namespace_without_spec_finalizers_is_removed(api: Any) -> None:
    await api.namespace("team")
    ns = await api.get("namespaces", "team", "")
    ns["spec"] = {}
    await api.store("namespaces").update("", "team", ns, api.ctx(), subresource="finalize")
    await api.settle()
    assert "finalizers" not in (await api.get("namespaces", "team", ""))["spec"]
    # The first delete only marks the namespace (the namespace REST never deletes on first request) ...
    marked = await delete(api, "namespaces", "team", namespace="")
    assert marked["status"]["phase"] == "Terminating"
    assert await api.exists("namespaces", "team", "")
    # ... a second one, with no spec.finalizers left, removes it.
    await delete(api, "namespaces", "team", namespace="")
    assert not await api.exists("namespaces", "team", "")


async def test_finalize_of_a_terminating_namespace_removes_it(api: Any) -> None:
    await api.namespace("team")
    await delete(api, "namespaces", "team", namespace="")
    ns = await api.get("namespaces", "team", "")
    ns["spec"] = {}
    await api.store("namespaces").update("", "team", ns, api.ctx(), subresource="finalize")
    await api.settle()
    assert not await api.exists("namespaces", "team", "")


async def test_namespace_precondition_wording(api: Any) -> None:
    ns = await api.namespace("team")
    e = await status_of(delete(api, "namespaces", "team", namespace="", opts=DeleteOptions(precondition_uid="x")))
    assert e.message == (f'Operation cannot be fulfilled on namespaces "team": Precondition failed: UID in '
                         f'precondition: x, UID in object meta: {ns["metadata"]["uid"]}')


# --- deletecollection ------------------------------------------------------------------------------------------


async def test_delete_collection_with_selector(api: Any) -> None:
    for name, app in (("a", "web"), ("b", "web"), ("c", "db")):
        await api.create("configmaps", {"metadata": {"name": name, "labels": {"app": app}}})
    await api.create("configmaps", {"metadata": {"name": "held", "labels": {"app": "web"}, "finalizers": ["x/y"]}})
    store = api.store("configmaps")
    out = await deletion.delete_collection(store, "default", ListOptions(label_selector=labels.parse_label_selector(
        "app=web")), DeleteOptions(), api.ctx())
    await api.settle()
    assert (out["kind"], out["apiVersion"]) == ("ConfigMapList", "v1")
    assert [i["metadata"]["name"] for i in out["items"]] == ["a", "b", "held"]
    assert "deletionTimestamp" in out["items"][2]["metadata"]
    entries, _, _ = await listing.list_entries(store, "default", ListOptions())
    names = [e.obj["metadata"]["name"] for e in entries]
    assert "a" not in names and "b" not in names and "c" in names and "held" in names


async def test_unsupported_field_selector_is_400(api: Any) -> None:
    e = await status_of(deletion.delete_collection(api.store("configmaps"), "default", ListOptions(
        field_selector=labels.parse_field_selector("data.a=b")), DeleteOptions(), api.ctx()))
    assert (e.code, e.message) == (400, "field label not supported: data.a")


# --- DeleteOptions ------------------------------------------------------------------------------------------------


def test_delete_options_from_body_and_query() -> None:
    opts = DeleteOptions.from_json({"gracePeriodSeconds": 5, "propagationPolicy": "Foreground",
                                    "preconditions": {"uid": "u", "resourceVersion": "7"}, "dryRun": ["All"]}, {})
    assert opts == DeleteOptions(5, "Foreground", "u", "7", True)
    q = DeleteOptions.from_json(None, {"gracePeriodSeconds": "0", "propagationPolicy": "Orphan", "dryRun": "All"})
    assert q == DeleteOptions(0, "Orphan", None, None, True)
    assert DeleteOptions.from_json({"orphanDependents": True}, {}).propagation == "Orphan"
    assert DeleteOptions.from_json({}, {"orphanDependents": "false"}).propagation == "Background"
    assert DeleteOptions.from_json({}, {}) == DeleteOptions()


@pytest.mark.parametrize("body,query,code", [
    ({"propagationPolicy": "Sometimes"}, {}, 422),
    ({"propagationPolicy": "Orphan", "orphanDependents": True}, {}, 422),
    ({"gracePeriodSeconds": "soon"}, {}, 400),
    ({"dryRun": ["Some"]}, {}, 400),
    ({}, {"dryRun": "yes"}, 400),
])
def test_delete_options_errors(body: dict[str, Any], query: dict[str, str], code: int) -> None:
    with pytest.raises(StatusError) as e:
        DeleteOptions.from_json(body, query)
    assert e.value.code == code


# --- services: IPs and node ports ----------------------------------------------------------------------------------


async def test_service_allocation_conflicts_and_release(api: Any) -> None:
    alloc = api.server.allocator
    web = await api.create("services", {"metadata": {"name": "web"}, "spec": {"type": "NodePort",
                                                                              "ports": [{"port": 80}]}})
    ip, node_port = web["spec"]["clusterIP"], web["spec"]["ports"][0]["nodePort"]
    assert web["spec"]["clusterIPs"] == [ip]
    assert (web["spec"]["ipFamilies"], web["spec"]["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
    assert 30000 <= node_port <= 32767
    assert ip in alloc.used_ips and node_port in alloc.used_ports

    e = await status_of(api.create("services", {"metadata": {"name": "b"}, "spec": {
        "type": "NodePort", "ports": [{"port": 80, "nodePort": node_port}]}}))
    assert (e.code, e.message) == (422, f'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: '
                                        f'{node_port}: provided port is already allocated')
    e = await status_of(api.create("services", {"metadata": {"name": "c"}, "spec": {
        "clusterIP": "10.96.0.1", "ports": [{"port": 80}]}}))
    assert e.message == ('Service "c" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: failed to '
                         'allocate IP 10.96.0.1: provided IP is already allocated')
    e = await status_of(api.create("services", {"metadata": {"name": "d"}, "spec": {
        "clusterIP": "10.0.0.1", "ports": [{"port": 80}]}}))
    assert e.message == ('Service "d" is invalid: spec.clusterIPs: Invalid value: []string{"10.0.0.1"}: failed to '
                         'allocate IP 10.0.0.1: the provided IP (10.0.0.1) is not in the valid range. The range of '
                         'valid IPs is 10.96.0.0/12')
    e = await status_of(api.create("services", {"metadata": {"name": "e"}, "spec": {
        "type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}}))
    assert e.message == ('Service "e" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in '
                         'the valid range. The range of valid ports is 30000-32767')
    # A failed write gives back what it took.
    e = await status_of(api.create("services", {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}))
    assert e.code == 409
    assert alloc.used_ips == {"10.96.0.1", ip} and alloc.used_ports == {node_port}

    await delete(api, "services", "web")
    assert alloc.used_ips == {"10.96.0.1"} and alloc.used_ports == set()
    again = await api.create("services", {"metadata": {"name": "again"}, "spec": {
        "type": "NodePort", "clusterIP": ip, "ports": [{"port": 80, "nodePort": node_port}]}})
    assert (again["spec"]["clusterIP"], again["spec"]["ports"][0]["nodePort"]) == (ip, node_port)


async def test_service_update_keeps_and_releases_allocations(api: Any) -> None:
    alloc = api.server.allocator
    svc = await api.create("services", {"metadata": {"name": "s"}, "spec": {"type": "NodePort",
                                                                            "ports": [{"name": "a", "port": 80},
                                                                                      {"name": "b", "port": 81}]}})
    ports = [p["nodePort"] for p in svc["spec"]["ports"]]
    svc["spec"]["ports"] = svc["spec"]["ports"][:1]
    out, _ = await api.store("services").update("default", "s", svc, api.ctx())
    await api.settle()
    assert out["spec"]["clusterIP"] == svc["spec"]["clusterIP"]
    assert out["spec"]["ports"][0]["nodePort"] == ports[0]
    assert alloc.used_ports == {ports[0]}


async def test_headless_and_external_name_services(api: Any) -> None:
    headless = await api.create("services", {"metadata": {"name": "h"}, "spec": {"clusterIP": "None",
                                                                                 "ports": [{"port": 53}]}})
    assert (headless["spec"]["clusterIP"], headless["spec"]["clusterIPs"]) == ("None", ["None"])
    ext = await api.create("services", {"metadata": {"name": "x"}, "spec": {"type": "ExternalName",
                                                                            "externalName": "example.com"}})
    assert "clusterIP" not in ext["spec"]
    assert api.server.allocator.used_ips == {"10.96.0.1"}
