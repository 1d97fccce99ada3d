"""The fake API: server behaviour controllers rely on, recorded actions, reactors, raw paths."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pocketkube.client import rest, virtualtime
from pocketkube.client.fake import Action, FakeClient
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient
from pocketkube.machinery.errors import StatusError

CM = ResourceRef("", "v1", "configmaps")
DEPLOY = ResourceRef("apps", "v1", "deployments")
PODS = ResourceRef("", "v1", "pods")
NS = ResourceRef("", "v1", "namespaces", namespaced=False)


def run(coro: Any) -> Any:
    return virtualtime.run(coro)


def deployment(name: str = "web", replicas: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"replicas": replicas, "template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:1"}, {"name": "sidecar", "image": "busybox"}]}}}}


def test_is_a_rest_client_and_records_actions() -> None:
    async def main() -> None:
        fake = FakeClient()
        assert isinstance(fake, RESTClient)
        created = await fake.create(CM, {"metadata": {"name": "a"}, "data": {"k": "v"}}, "ns")
        assert created["kind"] == "ConfigMap" and created["apiVersion"] == "v1"
        meta = created["metadata"]
        assert meta["namespace"] == "ns" and meta["uid"] and meta["creationTimestamp"].endswith("Z")
        assert meta["resourceVersion"] == "2" and meta["generation"] == 1
        got = await fake.get(CM, "a", "ns")
        got["data"]["k"] = "changed"  # callers get copies
        assert (await fake.get(CM, "a", "ns"))["data"] == {"k": "v"}
        listed = await fake.list(CM, "ns")
        assert listed["kind"] == "ConfigMapList" and listed["metadata"]["resourceVersion"] == "2"
        await fake.delete(CM, "a", "ns")
        assert [(a.verb, a.resource_name, a.namespace, a.name) for a in fake.actions] == [
            ("create", "configmaps", "ns", "a"), ("get", "configmaps", "ns", "a"),
            ("get", "configmaps", "ns", "a"), ("list", "configmaps", "ns", ""), ("delete", "configmaps", "ns", "a")]
        assert [a.verb for a in fake.mutations()] == ["create", "delete"]
        with pytest.raises(ApiError) as err:
            await fake.get(CM, "a", "ns")
        assert err.value.not_found and isinstance(err.value, StatusError)
        assert err.value.status["message"] == 'configmaps "a" not found'
        fake.clear_actions()
        assert fake.actions == []
    run(main())


def test_conflicts_generation_and_status_subresource() -> None:
    async def main() -> None:
        fake = FakeClient()
        d = await fake.create(DEPLOY, deployment(), "ns")
        with pytest.raises(ApiError) as dup:
            await fake.create(DEPLOY, deployment(), "ns")
        assert dup.value.already_exists
        stale = dict(d)
        d["spec"]["replicas"] = 3
        d["status"] = {"replicas": 99}
        updated = await fake.update(DEPLOY, d)
        assert updated["metadata"]["generation"] == 2 and "status" not in updated  # status kept (none)
        with pytest.raises(ApiError) as conflict:
            await fake.update(DEPLOY, stale)
        assert conflict.value.conflict
        assert "the object has been modified" in conflict.value.message
        status = await fake.update(DEPLOY, {**updated, "status": {"replicas": 3}}, "status")
        assert status["status"] == {"replicas": 3} and status["metadata"]["generation"] == 2
        labels = await fake.patch(DEPLOY, "web", {"metadata": {"labels": {"a": "b"}}}, "ns")
        assert labels["metadata"]["generation"] == 2  # metadata changes do not bump generation
        assert fake.mutations()[-1].patch_type == rest.MERGE_PATCH
    run(main())


def test_patch_types() -> None:
    async def main() -> None:
        fake = FakeClient()
        await fake.create(DEPLOY, deployment(), "ns")
        smp = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}}
        out = await fake.patch(DEPLOY, "web", smp, "ns", patch_type=rest.STRATEGIC_MERGE_PATCH)
        images = [c["image"] for c in out["spec"]["template"]["spec"]["containers"]]
        assert images == ["nginx:2", "busybox"]  # merged by name, not replaced
        out = await fake.patch(DEPLOY, "web", smp, "ns", patch_type=rest.MERGE_PATCH)
        assert len(out["spec"]["template"]["spec"]["containers"]) == 1
        out = await fake.patch(DEPLOY, "web", [{"op": "replace", "path": "/spec/replicas", "value": 7}], "ns",
                               patch_type=rest.JSON_PATCH)
        assert out["spec"]["replicas"] == 7
        with pytest.raises(ApiError) as bad:
            await fake.patch(DEPLOY, "web", [{"op": "test", "path": "/spec/replicas", "value": 1}], "ns",
                             patch_type=rest.JSON_PATCH)
        assert bad.value.code == 422
        with pytest.raises(ApiError) as unsupported:
            await fake.patch(DEPLOY, "web", {}, "ns", patch_type="text/plain")
        assert unsupported.value.code == 415
    run(main())


def test_finalizers_defer_deletion() -> None:
    async def main() -> None:
        fake = FakeClient()
        await fake.create(CM, {"metadata": {"name": "f", "finalizers": ["x/y"]}}, "ns")
        deleting = await fake.delete(CM, "f", "ns")
        assert deleting["metadata"]["deletionTimestamp"]
        assert (await fake.get(CM, "f", "ns"))["metadata"]["deletionTimestamp"]
        await fake.patch(CM, "f", {"metadata": {"finalizers": None}}, "ns")
        assert fake.object(CM, "f", "ns") is None
        await fake.create(CM, {"metadata": {"name": "p", "uid": "u1"}}, "ns")
        with pytest.raises(ApiError) as pre:
            await fake.delete(CM, "p", "ns", {"preconditions": {"uid": "other"}})
        assert pre.value.conflict
    run(main())


def test_namespace_lifecycle_through_raw_paths() -> None:
    async def main() -> None:
        fake = FakeClient()
        await fake.create(NS, {"metadata": {"name": "team"}, "spec": {"finalizers": ["kubernetes"]}})
        await fake.create(CM, {"metadata": {"name": "c", "labels": {"a": "1"}}}, "team")
        await fake.create(CM, {"metadata": {"name": "d"}}, "team")
        ns = await fake.request("DELETE", "/api/v1/namespaces/team", body={})
        assert ns["status"]["phase"] == "Terminating"
        assert (await fake.request("GET", "/api/v1/namespaces/team/configmaps/c"))["metadata"]["name"] == "c"
        await fake.request("DELETE", "/api/v1/namespaces/team/configmaps", params={"labelSelector": "a=1"}, body={})
        left = await fake.request("GET", "/api/v1/namespaces/team/configmaps")
        assert [c["metadata"]["name"] for c in left["items"]] == ["d"]
        body = {"metadata": {"name": "team"}, "spec": {"finalizers": []}}
        await fake.request("PUT", "/api/v1/namespaces/team/finalize", body=body)
        assert fake.object(NS, "team") is None
        apis = await fake.request("GET", "/apis")
        assert any(g["name"] == "apps" for g in apis["groups"])
        core = await fake.request("GET", "/api/v1")
        pods = next(r for r in core["resources"] if r["name"] == "pods")
        assert pods["namespaced"] and "deletecollection" in pods["verbs"]
        assert any(r["name"] == "pods/status" for r in core["resources"])
    run(main())


def test_binding_sets_node_and_condition_once() -> None:
    async def main() -> None:
        fake = FakeClient()
        await fake.create(PODS, {"metadata": {"name": "p"}, "spec": {}}, "ns")
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}
        await fake.create(PODS, binding, "ns", name="p", subresource="binding")
        pod = await fake.get(PODS, "p", "ns")
        assert pod["spec"]["nodeName"] == "n1"
        assert pod["status"]["conditions"][0]["type"] == "PodScheduled"
        with pytest.raises(ApiError) as again:
            await fake.request("POST", "/api/v1/namespaces/ns/bindings", body=binding)
        assert again.value.conflict and "already assigned" in again.value.message
    run(main())


def test_reactors_answer_or_fail_calls() -> None:
    async def main() -> None:
        fake = FakeClient()
        seen: list[Action] = []

        def fail_status(action: Action) -> tuple[bool, Any]:
            seen.append(action)
            raise ApiError(500, {"reason": "InternalError", "message": "boom"})
        fake.prepend_reactor("update", "deployments/status", fail_status)
        fake.prepend_reactor("get", "*", lambda a: (a.name == "canned", {"metadata": {"name": "canned"}}))
        assert (await fake.get(CM, "canned", "ns"))["metadata"]["name"] == "canned"
        d = await fake.create(DEPLOY, deployment(), "ns")
        await fake.update(DEPLOY, d)  # main resource not matched
        with pytest.raises(ApiError):
            await fake.update(DEPLOY, d, "status")
        assert [a.resource_name for a in seen] == ["deployments/status"]
    run(main())


def test_watch_replays_selects_and_expires() -> None:
    async def main() -> None:
        fake = FakeClient()
        await fake.create(CM, {"metadata": {"name": "a", "labels": {"app": "web"}}}, "ns")
        await fake.create(CM, {"metadata": {"name": "b"}}, "ns")
        events: list[tuple[str, str]] = []

        async def consume(**params: str) -> None:
            async for ev in fake.watch(CM, "ns", **params):
                events.append((ev["type"], ev["object"]["metadata"].get("name", "")))

        await consume(resourceVersion="0", timeoutSeconds="5")
        assert events == [("ADDED", "a"), ("ADDED", "b")]
        events.clear()
        await fake.patch(CM, "a", {"metadata": {"labels": {"app": "db"}}}, "ns")
        await consume(resourceVersion="1", labelSelector="app=web", timeoutSeconds="5")
        assert events == [("ADDED", "a"), ("DELETED", "a")]
        fake.compact()
        with pytest.raises(ApiError) as gone:
            await consume(resourceVersion="2")
        assert gone.value.expired
        task = asyncio.create_task(consume(resourceVersion="", allowWatchBookmarks="true"))
        await asyncio.sleep(1)
        fake.tracker.bookmark()
        fake.end_watches()
        await task
        assert events[-1] == ("BOOKMARK", "")
    run(main())
