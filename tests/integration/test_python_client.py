"""The official `kubernetes` Python client against pocketkube (issue 2 acceptance)."""

from __future__ import annotations

import threading

import pytest
from cluster import Cluster
from kubernetes import client, watch
from kubernetes.client.rest import ApiException


def test_crud_selectors_and_conflict(cluster: Cluster, ns: str) -> None:
    api = client.CoreV1Api(cluster.api_client())
    for i in range(3):
        api.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=f"cm{i}", labels={"idx": str(i), "team": "a" if i else "b"}),
            data={"i": str(i)}))
    got = api.read_namespaced_config_map("cm1", ns)
    assert got.data == {"i": "1"} and int(got.metadata.resource_version) > 0
    team_a = api.list_namespaced_config_map(ns, label_selector="team=a")
    assert sorted(c.metadata.name for c in team_a.items) == ["cm1", "cm2"]
    by_name = api.list_namespaced_config_map(ns, field_selector="metadata.name=cm2")
    assert [c.metadata.name for c in by_name.items] == ["cm2"]
    page = api.list_namespaced_config_map(ns, limit=2, label_selector="idx")
    assert len(page.items) == 2 and page.metadata._continue
    rest = api.list_namespaced_config_map(ns, limit=2, _continue=page.metadata._continue, label_selector="idx")
    assert [c.metadata.name for c in rest.items] == ["cm2"] and not rest.metadata._continue

    got.data["i"] = "changed"
    updated = api.replace_namespaced_config_map("cm1", ns, got)
    assert updated.data["i"] == "changed"
    got.data["i"] = "stale"
    with pytest.raises(ApiException) as err:
        api.replace_namespaced_config_map("cm1", ns, got)  # got still carries the old resourceVersion
    assert err.value.status == 409 and "Conflict" in err.value.body
    api.delete_namespaced_config_map("cm0", ns)
    with pytest.raises(ApiException) as missing:
        api.read_namespaced_config_map("cm0", ns)
    assert missing.value.status == 404

    apps = client.AppsV1Api(cluster.api_client())
    dep = apps.create_namespaced_deployment(ns, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    assert dep.spec.replicas == 1 and dep.spec.strategy.type == "RollingUpdate"
    scale = apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4


def test_watch_resumes_from_resource_version(cluster: Cluster, ns: str) -> None:
    api = client.CoreV1Api(cluster.api_client())
    first = api.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w0")))
    start_rv = first.metadata.resource_version
    api.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w1")))
    api.delete_namespaced_config_map("w0", ns)
    seen: list[tuple[str, str]] = []
    w = watch.Watch()
    for event in w.stream(api.list_namespaced_config_map, ns, resource_version=start_rv, timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 2:
            w.stop()
    assert seen == [("ADDED", "w1"), ("DELETED", "w0")]

    live: list[tuple[str, str]] = []
    ready = threading.Event()

    def consume() -> None:
        w2 = watch.Watch()
        for event in w2.stream(api.list_namespaced_config_map, ns, timeout_seconds=30):
            ready.set()
            live.append((event["type"], event["object"].metadata.name))
            if event["object"].metadata.name == "w2":
                w2.stop()

    t = threading.Thread(target=consume)
    t.start()
    ready.wait(20)
    api.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w2")))
    t.join(30)
    assert ("ADDED", "w1") in live and ("ADDED", "w2") in live
