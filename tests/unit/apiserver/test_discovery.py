"""discovery: aggregated (apidiscovery.k8s.io) vs legacy documents, derived from the scheme."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pocketkube.api.scheme import SCHEME
from pocketkube.apiserver import discovery

KUBECTL_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")


@pytest.mark.parametrize("accept,content_type", [
    (KUBECTL_ACCEPT, discovery.AGGREGATED_CT),
    ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;charset=utf-8", discovery.AGGREGATED_CT),
    ("application/json; g=apidiscovery.k8s.io; v=v2beta1; as=APIGroupDiscoveryList", discovery.AGGREGATED_BETA_CT),
    ("application/json", ""),
    ("*/*", ""),
    (None, ""),
    ("", ""),
    ("application/json,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", ""),
    ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList", ""),
    ("application/json;g=other.k8s.io;v=v2;as=APIGroupDiscoveryList", ""),
])
def test_wants_aggregated(accept: str | None, content_type: str) -> None:
    assert discovery.wants_aggregated(accept) == content_type


def test_aggregated_content_types_are_exact() -> None:
    assert discovery.AGGREGATED_CT == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert discovery.AGGREGATED_BETA_CT == "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def resources(doc: dict[str, Any], group: str, version: str) -> dict[str, dict[str, Any]]:
    for item in doc["items"]:
        if item["metadata"].get("name", "") == group:
            for v in item["versions"]:
                if v["version"] == version:
                    return {r["resource"]: r for r in v["resources"]}
    raise KeyError((group, version))


def test_aggregated_core() -> None:
    doc = discovery.aggregated(SCHEME, True)
    assert (doc["kind"], doc["apiVersion"], doc["metadata"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2", {})
    assert len(doc["items"]) == 1
    assert doc["items"][0]["metadata"] == {}
    assert [v["version"] for v in doc["items"][0]["versions"]] == ["v1"]
    assert doc["items"][0]["versions"][0]["freshness"] == "Current"
    pods = resources(doc, "", "v1")["pods"]
    assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert (pods["scope"], pods["singularResource"], pods["shortNames"], pods["categories"]) == (
        "Namespaced", "pod", ["po"], ["all"])
    assert set(pods["verbs"]) == {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
    subs = {s["subresource"]: s for s in pods["subresources"]}
    assert subs["status"]["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert subs["eviction"]["responseKind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}
    assert subs["binding"]["responseKind"] == {"group": "", "version": "v1", "kind": "Binding"}
    token = {s["subresource"]: s for s in resources(doc, "", "v1")["serviceaccounts"]["subresources"]}["token"]
    assert token["responseKind"] == {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}
    assert resources(doc, "", "v1")["nodes"]["scope"] == "Cluster"


def test_aggregated_groups() -> None:
    doc = discovery.aggregated(SCHEME, False, "apidiscovery.k8s.io/v2beta1")
    assert doc["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    names = [i["metadata"]["name"] for i in doc["items"]]
    assert "" not in names
    assert names[0] == "apps"
    assert names == [g for g in SCHEME.groups() if g]
    autoscaling = next(i for i in doc["items"] if i["metadata"]["name"] == "autoscaling")
    assert [v["version"] for v in autoscaling["versions"]] == ["v2", "v1"]  # preferred first
    scale = {s["subresource"]: s for s in resources(doc, "apps", "v1")["deployments"]["subresources"]}["scale"]
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert set(scale["verbs"]) == {"get", "patch", "update"}


def test_response_kind_everywhere() -> None:
    for core in (True, False):
        for item in discovery.aggregated(SCHEME, core)["items"]:
            for version in item["versions"]:
                for r in version["resources"]:
                    assert set(r["responseKind"]) == {"group", "version", "kind"}, r["resource"]
                    assert r["responseKind"]["kind"]
                    for s in r.get("subresources", []):
                        assert s["responseKind"]["kind"], (r["resource"], s["subresource"])


def test_legacy_resource_list() -> None:
    doc = discovery.legacy_resource_list(SCHEME, "", "v1")
    assert (doc["kind"], doc["apiVersion"], doc["groupVersion"]) == ("APIResourceList", "v1", "v1")
    by_name = {r["name"]: r for r in doc["resources"]}
    pods = by_name["pods"]
    assert (pods["singularName"], pods["namespaced"], pods["kind"], pods["shortNames"]) == ("pod", True, "Pod", ["po"])
    assert pods["storageVersionHash"] == discovery.storage_version_hash(SCHEME.get("", "v1", "pods"))  # type: ignore[arg-type]
    assert "storageVersionHash" not in by_name["bindings"]  # not stored
    status = by_name["pods/status"]
    assert (status["singularName"], status["kind"]) == ("", "Pod")
    assert "group" not in status and "version" not in status
    eviction = by_name["pods/eviction"]
    assert (eviction["group"], eviction["version"], eviction["kind"]) == ("policy", "v1", "Eviction")
    apps = discovery.legacy_resource_list(SCHEME, "apps", "v1")
    assert apps["groupVersion"] == "apps/v1"
    scale = {r["name"]: r for r in apps["resources"]}["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")


def test_storage_version_hash_is_stable() -> None:
    pods = SCHEME.get("", "v1", "pods")
    assert pods is not None
    h = discovery.storage_version_hash(pods)
    assert h == discovery.storage_version_hash(pods)
    assert len(h) == 12
    assert h != discovery.storage_version_hash(SCHEME.get("", "v1", "services"))  # type: ignore[arg-type]


def test_legacy_groups_and_versions() -> None:
    groups = discovery.legacy_group_list(SCHEME)
    assert (groups["kind"], groups["apiVersion"]) == ("APIGroupList", "v1")
    auto = next(g for g in groups["groups"] if g["name"] == "autoscaling")
    assert auto["versions"] == [{"groupVersion": "autoscaling/v2", "version": "v2"},
                                {"groupVersion": "autoscaling/v1", "version": "v1"}]
    assert auto["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}
    assert all(g["name"] for g in groups["groups"])
    one = discovery.legacy_group(SCHEME, "apps")
    assert one == {"kind": "APIGroup", "apiVersion": "v1", "name": "apps",
                   "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                   "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}
    assert discovery.legacy_group(SCHEME, "") is None
    assert discovery.legacy_group(SCHEME, "nope.example.com") is None
    versions = discovery.legacy_api_versions("127.0.0.1:6443")
    assert versions == {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}


def test_cached_documents() -> None:
    body, etag = discovery.cached("aggregated", id(SCHEME), True, "apidiscovery.k8s.io/v2")
    assert orjson.loads(body) == discovery.aggregated(SCHEME, True)
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34
    assert discovery.cached("aggregated", id(SCHEME), True, "apidiscovery.k8s.io/v2") == (body, etag)
    other, other_etag = discovery.cached("resources", id(SCHEME), "apps", "v1")
    assert orjson.loads(other)["groupVersion"] == "apps/v1"
    assert other_etag != etag
    assert orjson.loads(discovery.cached("group", id(SCHEME), "apps")[0])["name"] == "apps"
    assert orjson.loads(discovery.cached("groups", id(SCHEME))[0])["kind"] == "APIGroupList"
    with pytest.raises(KeyError):
        discovery.cached("bogus", id(SCHEME))


def test_known_storage_version_hashes() -> None:
    assert discovery.storage_version_hash(SCHEME.get("", "v1", "pods")) == "xPOwRZ+Yhw8="  # type: ignore[arg-type]
    assert discovery.storage_version_hash(SCHEME.get("apps", "v1", "deployments")) == "8aSe+NMegvE="  # type: ignore[arg-type]


@pytest.mark.parametrize("served,stored", [(("events.k8s.io", "v1", "events"), ("", "v1", "events")),
                                           (("autoscaling", "v1", "horizontalpodautoscalers"),
                                            ("autoscaling", "v2", "horizontalpodautoscalers"))])
def test_storage_version_hash_of_converted_versions(served: tuple[str, str, str], stored: tuple[str, str, str]) -> None:
    served_r, stored_r = SCHEME.get(*served), SCHEME.get(*stored)
    assert served_r is not None and stored_r is not None
    assert discovery.storage_version_hash(served_r) == discovery.storage_version_hash(stored_r)
