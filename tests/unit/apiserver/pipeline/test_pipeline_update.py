"""The generic store's update and patch paths end to end (in process): generation, no-op updates,
conflicts, server-owned metadata, status, the four patch types, dry run, and the scale view."""

from __future__ import annotations

from typing import Any

import pytest

from pocketkube.apiserver import patching
from pocketkube.apiserver.subresources import scale_of
from pocketkube.machinery.errors import StatusError

JSON = patching.JSON_PATCH
MERGE = patching.MERGE_PATCH
STRATEGIC = patching.STRATEGIC_PATCH
APPLY = patching.APPLY_PATCH


async def status_of(coro: Any) -> StatusError:
    with pytest.raises(StatusError) as e:
        await coro
    return e.value


def deployment(name: str = "web", replicas: int = 1) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}


async def update(api: Any, plural: str, obj: dict[str, Any], group: str = "", **ctx: Any) -> tuple[dict[str, Any], bool]:
    m = obj["metadata"]
    out = await api.store(plural, group).update(m.get("namespace", "default"), m["name"], obj, api.ctx(**ctx))
    await api.settle()
    return out  # type: ignore[no-any-return]


async def patch(api: Any, plural: str, name: str, kind: str, body: Any, group: str = "", **ctx: Any) -> dict[str, Any]:
    obj, _ = await api.store(plural, group).patch("default", name, kind, body, api.ctx(**ctx))
    await api.settle()
    return obj  # type: ignore[no-any-return]


# --- update ---------------------------------------------------------------------------------------


async def test_generation_bumps_only_on_spec_change(api: Any) -> None:
    d = await api.create("deployments", deployment(), group="apps")
    assert d["metadata"]["generation"] == 1
    d["metadata"]["labels"]["extra"] = "x"
    d, _ = await update(api, "deployments", d, "apps")
    assert d["metadata"]["generation"] == 1
    d["spec"]["replicas"] = 3
    d, _ = await update(api, "deployments", d, "apps")
    assert d["metadata"]["generation"] == 2
    d["status"] = {"replicas": 3}  # status is not writable through the main resource
    d, _ = await update(api, "deployments", d, "apps")
    assert d["metadata"]["generation"] == 2
    assert d["status"] == {}


async def test_no_op_update_keeps_resource_version(api: Any) -> None:
    cm = await api.create("configmaps", {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    rev = await api.revision()
    same, created = await update(api, "configmaps", dict(cm))
    assert not created
    assert same["metadata"]["resourceVersion"] == cm["metadata"]["resourceVersion"]
    assert await api.revision() == rev
    changed, _ = await update(api, "configmaps", {**cm, "data": {"a": "2"}})
    assert int(changed["metadata"]["resourceVersion"]) > int(cm["metadata"]["resourceVersion"])
    assert (await api.get("configmaps", "cfg"))["data"] == {"a": "2"}


async def test_stale_resource_version_is_409(api: Any) -> None:
    cm = await api.create("configmaps", {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    await update(api, "configmaps", {**cm, "data": {"a": "2"}})
    e = await status_of(update(api, "configmaps", {**cm, "data": {"a": "3"}}))
    assert (e.code, e.reason) == (409, "Conflict")
    assert e.message == ('Operation cannot be fulfilled on configmaps "cfg": the object has been modified; please '
                         'apply your changes to the latest version and try again')
    assert (await api.get("configmaps", "cfg"))["data"] == {"a": "2"}


async def test_unconditional_update_without_resource_version(api: Any) -> None:
    await api.create("configmaps", {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    out, _ = await update(api, "configmaps", {"metadata": {"name": "cfg"}, "data": {"b": "2"}})
    assert out["data"] == {"b": "2"}


async def test_server_owned_metadata_is_carried_over(api: Any) -> None:
    cm = await api.create("configmaps", {"metadata": {"name": "cfg"}})
    forged = {"metadata": {"name": "cfg", "creationTimestamp": "2000-01-01T00:00:00Z", "selfLink": "/x"},
              "data": {"x": "y"}}
    out, _ = await update(api, "configmaps", forged)
    m = out["metadata"]
    assert m["uid"] == cm["metadata"]["uid"]
    assert m["creationTimestamp"] == cm["metadata"]["creationTimestamp"]
    assert "selfLink" not in m
    d = await api.create("deployments", deployment(), group="apps")
    d["metadata"]["generation"] = 40
    d, _ = await update(api, "deployments", d, "apps")
    assert d["metadata"]["generation"] == 1


async def test_update_cannot_set_generation(api: Any) -> None:
    await api.create("configmaps", {"metadata": {"name": "cfg"}})
    out, _ = await update(api, "configmaps", {"metadata": {"name": "cfg", "generation": 7}})
    assert "generation" not in out["metadata"]


async def test_uid_precondition(api: Any) -> None:
    await api.create("configmaps", {"metadata": {"name": "cfg"}})
    e = await status_of(update(api, "configmaps", {"metadata": {"name": "cfg", "uid": "not-the-uid"}}))
    assert e.code == 409
    assert "Precondition failed: UID in precondition: not-the-uid" in e.message


async def test_update_of_missing_object(api: Any) -> None:
    e = await status_of(update(api, "configmaps", {"metadata": {"name": "ghost"}}))
    assert (e.code, e.message) == (404, 'configmaps "ghost" not found')


async def test_update_creates_where_the_kind_allows_it(api: Any) -> None:
    ep = {"metadata": {"name": "ext"}, "subsets": [{"addresses": [{"ip": "10.0.0.5"}], "ports": [{"port": 80}]}]}
    out, created = await update(api, "endpoints", ep)
    assert created
    assert out["metadata"]["uid"]
    assert await api.exists("endpoints", "ext")


async def test_name_must_match_url(api: Any) -> None:
    await api.create("configmaps", {"metadata": {"name": "cfg"}})
    store = api.store("configmaps")
    e = await status_of(store.update("default", "cfg", {"metadata": {"name": "other"}}, api.ctx()))
    assert (e.code, e.message) == (400, "the name of the object (other) does not match the name on the URL (cfg)")


async def test_status_subresource_update_changes_only_status(api: Any) -> None:
    d = await api.create("deployments", deployment(), group="apps")
    d["spec"]["replicas"] = 9
    d["status"] = {"replicas": 1, "observedGeneration": 1}
    out, _ = await api.store("deployments", "apps").update("default", "web", d, api.ctx(), subresource="status")
    await api.settle()
    assert out["status"]["replicas"] == 1
    stored = await api.get("deployments", "web", group="apps")
    assert stored["spec"]["replicas"] == 1
    assert stored["status"]["observedGeneration"] == 1
    assert stored["metadata"]["generation"] == 1


async def test_dry_run_update_writes_nothing(api: Any) -> None:
    cm = await api.create("configmaps", {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    rev = await api.revision()
    out, _ = await update(api, "configmaps", {**cm, "data": {"a": "dry"}}, dry_run=True)
    assert out["data"] == {"a": "dry"}
    assert await api.revision() == rev
    assert (await api.get("configmaps", "cfg"))["data"] == {"a": "1"}


async def test_field_validation_on_update(api: Any) -> None:
    cm = await api.create("configmaps", {"metadata": {"name": "cfg"}})
    e = await status_of(update(api, "configmaps", {**cm, "bogus": 1}, field_validation="Strict"))
    assert e.message.endswith('strict decoding error: unknown field "bogus"')
    ctx = api.ctx(field_validation="Warn")
    await api.store("configmaps").update("default", "cfg", {**cm, "bogus": 1}, ctx)
    assert ctx.warnings == ['unknown field "bogus"']


# --- patch ---------------------------------------------------------------------------------------------


async def test_json_patch(api: Any) -> None:
    await api.create("configmaps", {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    out = await patch(api, "configmaps", "cfg", JSON, [{"op": "replace", "path": "/data/a", "value": "2"},
                                                       {"op": "add", "path": "/data/b", "value": "3"}])
    assert out["data"] == {"a": "2", "b": "3"}
    e = await status_of(patch(api, "configmaps", "cfg", JSON, [{"op": "test", "path": "/data/a", "value": "9"}]))
    assert (e.code, e.reason) == (422, "Invalid")


async def test_merge_patch(api: Any) -> None:
    await api.create("configmaps", {"metadata": {"name": "cfg", "labels": {"x": "1"}}, "data": {"a": "1", "b": "2"}})
    out = await patch(api, "configmaps", "cfg", MERGE, {"metadata": {"labels": {"y": "2"}}, "data": {"a": None}})
    assert out["data"] == {"b": "2"}
    assert out["metadata"]["labels"] == {"x": "1", "y": "2"}


async def test_strategic_merge_patch_merges_lists_by_key(api: Any) -> None:
    d = deployment()
    d["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    await api.create("deployments", d, group="apps")
    out = await patch(api, "deployments", "web", STRATEGIC,
                      {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}}}}, "apps")
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("c", "nginx:1.28"), ("sidecar", "busybox")]
    assert out["metadata"]["generation"] == 2


async def test_patch_defaults_and_validates_the_result(api: Any) -> None:
    await api.create("deployments", deployment(), group="apps")
    out = await patch(api, "deployments", "web", MERGE, {"spec": {"strategy": {"type": "RollingUpdate"}}}, "apps")
    assert out["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": "25%", "maxSurge": "25%"}
    e = await status_of(patch(api, "deployments", "web", MERGE, {"spec": {"replicas": -1}}, "apps"))
    assert e.code == 422
    e = await status_of(patch(api, "deployments", "web", MERGE, {"spec": {"replicas": "x"}}, "apps"))
    assert e.code == 400
    e = await status_of(patch(api, "deployments", "web", MERGE, {"spec": {"bogus": 1}}, "apps",
                              field_validation="Strict"))
    assert e.message.endswith('strict decoding error: unknown field "spec.bogus"')


async def test_patch_conflicts_and_misses(api: Any) -> None:
    cm = await api.create("configmaps", {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    await patch(api, "configmaps", "cfg", MERGE, {"data": {"a": "2"}})
    stale = {"metadata": {"resourceVersion": cm["metadata"]["resourceVersion"]}, "data": {"a": "3"}}
    e = await status_of(patch(api, "configmaps", "cfg", MERGE, stale))
    assert (e.code, e.reason) == (409, "Conflict")
    e = await status_of(patch(api, "configmaps", "cfg", JSON, [
        {"op": "replace", "path": "/metadata/resourceVersion", "value": cm["metadata"]["resourceVersion"]}]))
    assert e.code == 409
    e = await status_of(patch(api, "configmaps", "ghost", MERGE, {"data": {}}))
    assert (e.code, e.message) == (404, 'configmaps "ghost" not found')
    e = await status_of(patch(api, "configmaps", "cfg", MERGE, {"metadata": {"name": "other"}}))
    assert (e.code, e.message) == (400, "the name of the object (other) does not match the name on the URL (cfg)")
    e = await status_of(api.store("configmaps").patch("default", "cfg", MERGE, {}, api.ctx(), force=True))
    assert (e.code, e.message) == (400, "force may not be specified for non-apply patch")


async def test_no_op_patch_keeps_resource_version(api: Any) -> None:
    cm = await api.create("configmaps", {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    out = await patch(api, "configmaps", "cfg", MERGE, {"data": {"a": "1"}})
    assert out["metadata"]["resourceVersion"] == cm["metadata"]["resourceVersion"]


async def test_server_side_apply(api: Any) -> None:
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}}
    store = api.store("configmaps")
    obj, created = await store.patch("default", "cfg", APPLY, applied, api.ctx(field_manager="alice"))
    assert created
    await api.settle()
    assert [(f["manager"], f["operation"]) for f in obj["metadata"]["managedFields"]] == [("alice", "Apply")]
    e = await status_of(store.patch("default", "cfg", APPLY, {**applied, "data": {"a": "2"}},
                                    api.ctx(field_manager="bob")))
    assert (e.code, e.reason) == (409, "Conflict")
    assert e.message == 'Apply failed with 1 conflict: conflict with "alice": .data.a'
    forced, created = await store.patch("default", "cfg", APPLY, {**applied, "data": {"a": "2"}},
                                        api.ctx(field_manager="bob"), force=True)
    assert not created
    assert forced["data"] == {"a": "2"}
    e = await status_of(store.patch("default", "cfg", APPLY, applied, api.ctx()))
    assert e.code == 400
    assert e.message == "PATCH, application/apply-patch+yaml requires fieldManager to be specified"


def test_parse_patch() -> None:
    assert patching.parse_patch("application/merge-patch+json", b'{"a":1}') == (MERGE, {"a": 1})
    assert patching.parse_patch("application/apply-patch+yaml; charset=utf-8", b"a: 1\n") == (APPLY, {"a": 1})
    assert patching.parse_patch(JSON, b'[{"op":"remove","path":"/a"}]') == (JSON, [{"op": "remove", "path": "/a"}])
    for content_type, body, code in ((JSON, b'{"op":"remove"}', 400), (MERGE, b"[1]", 400),
                                     ("application/json", b"{}", 415), (None, b"{}", 415)):
        with pytest.raises(StatusError) as e:
            patching.parse_patch(content_type, body)
        assert e.value.code == code


# --- scale ---------------------------------------------------------------------------------------------------


async def test_scale_of_deployment(api: Any) -> None:
    d = await api.create("deployments", deployment(replicas=3), group="apps")
    scale = scale_of(d)
    assert scale == {"kind": "Scale", "apiVersion": "autoscaling/v1",
                     "metadata": {k: d["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                                "creationTimestamp")},
                     "spec": {"replicas": 3}, "status": {"replicas": 0, "selector": "app=web"}}


def test_scale_of_selectors() -> None:
    rs = {"kind": "ReplicaSet", "metadata": {"name": "r"}, "spec": {"replicas": 2, "selector": {
        "matchLabels": {"tier": "front", "app": "web"},
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]}},
        "status": {"replicas": 1}}
    assert scale_of(rs)["status"] == {"replicas": 1, "selector": "app=web,env in (dev,prod),tier=front"}
    rc = {"kind": "ReplicationController", "metadata": {"name": "rc"}, "spec": {"selector": {"b": "2", "a": "1"}}}
    assert scale_of(rc) == {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "rc"},
                            "spec": {"replicas": 0}, "status": {"replicas": 0, "selector": "a=1,b=2"}}


async def test_scale_write_changes_only_replicas(api: Any) -> None:
    await api.create("deployments", deployment(), group="apps")
    store = api.store("deployments", "apps")

    async def to_five(current: Any) -> dict[str, Any]:
        obj: dict[str, Any] = current.copy()
        obj["spec"]["replicas"] = 5
        return obj

    out, _ = await store.guaranteed_update("default", "web", to_five, api.ctx(), subresource="scale")
    await api.settle()
    assert scale_of(out)["spec"] == {"replicas": 5}
    assert out["metadata"]["generation"] == 2


def test_scale_replicas_type_error_message() -> None:
    from pocketkube.apiserver import subresources

    with pytest.raises(StatusError) as e:
        subresources._replicas({"spec": {"replicas": "3"}}, "web", None)  # type: ignore[arg-type]
    assert e.value.message == ("json: cannot unmarshal string into Go struct field ScaleSpec.spec.replicas of "
                               "type int32")
    with pytest.raises(StatusError) as e:
        subresources._replicas({"spec": {"replicas": 1.5}}, "web", None)  # type: ignore[arg-type]
    assert e.value.message == ("json: cannot unmarshal number 1.5 into Go struct field ScaleSpec.spec.replicas of "
                               "type int32")
