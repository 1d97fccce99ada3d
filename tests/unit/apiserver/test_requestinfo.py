"""requestinfo.parse: every URL shape the apiserver routes, and the verb each method/query gives."""

from __future__ import annotations

import pytest

from pocketkube.apiserver.requestinfo import RequestInfo, parse


def p(method: str, path: str, **query: str) -> RequestInfo:
    return parse(method, path, dict(query))


def test_core_cluster_wide_list() -> None:
    info = p("GET", "/api/v1/pods")
    assert info.is_resource
    assert (info.api_prefix, info.group, info.version) == ("api", "", "v1")
    assert (info.namespace, info.resource, info.name, info.subresource) == ("", "pods", "", "")
    assert info.verb == "list"
    assert info.path == "/api/v1/pods"
    assert info.parts == ()


def test_namespaced_collection_and_object() -> None:
    coll = p("GET", "/api/v1/namespaces/team-a/configmaps")
    assert (coll.namespace, coll.resource, coll.name, coll.verb) == ("team-a", "configmaps", "", "list")
    obj = p("GET", "/api/v1/namespaces/team-a/configmaps/settings")
    assert (obj.namespace, obj.resource, obj.name, obj.verb) == ("team-a", "configmaps", "settings", "get")


def test_group_paths() -> None:
    info = p("GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert (info.api_prefix, info.group, info.version) == ("apis", "apps", "v1")
    assert (info.namespace, info.resource, info.name, info.verb) == ("default", "deployments", "web", "get")
    cluster = p("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles")
    assert (cluster.group, cluster.resource, cluster.namespace, cluster.verb) == (
        "rbac.authorization.k8s.io", "clusterroles", "", "list")


def test_subresources() -> None:
    scale = p("PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale")
    assert (scale.resource, scale.name, scale.subresource, scale.verb) == ("deployments", "web", "scale", "update")
    status = p("GET", "/api/v1/nodes/node-1/status")
    assert (status.namespace, status.resource, status.name, status.subresource) == ("", "nodes", "node-1", "status")
    evict = p("POST", "/api/v1/namespaces/default/pods/web-0/eviction")
    assert (evict.subresource, evict.verb) == ("eviction", "create")


def test_proxy_tail_parts() -> None:
    info = p("GET", "/api/v1/namespaces/default/pods/web:8080/proxy/metrics/raw")
    assert (info.name, info.subresource) == ("web:8080", "proxy")
    assert info.parts == ("metrics", "raw")


def test_namespace_object_itself() -> None:
    info = p("GET", "/api/v1/namespaces/kube-system")
    assert (info.resource, info.name, info.namespace, info.subresource, info.verb) == (
        "namespaces", "kube-system", "kube-system", "", "get")
    assert p("DELETE", "/api/v1/namespaces/kube-system").verb == "delete"


@pytest.mark.parametrize("sub,method,verb", [("status", "GET", "get"), ("status", "PUT", "update"),
                                              ("status", "PATCH", "patch"), ("finalize", "PUT", "update")])
def test_namespace_status_and_finalize(sub: str, method: str, verb: str) -> None:
    info = p(method, f"/api/v1/namespaces/doomed/{sub}")
    assert (info.resource, info.name, info.namespace, info.subresource, info.verb) == (
        "namespaces", "doomed", "doomed", sub, verb)


def test_namespaces_collection() -> None:
    assert (p("GET", "/api/v1/namespaces").resource, p("GET", "/api/v1/namespaces").verb) == ("namespaces", "list")
    created = p("POST", "/api/v1/namespaces")
    assert (created.resource, created.name, created.namespace, created.verb) == ("namespaces", "", "", "create")


@pytest.mark.parametrize("method,path,verb", [
    ("POST", "/api/v1/namespaces/ns/pods", "create"),
    ("PUT", "/api/v1/namespaces/ns/pods/p", "update"),
    ("PATCH", "/api/v1/namespaces/ns/pods/p", "patch"),
    ("DELETE", "/api/v1/namespaces/ns/pods/p", "delete"),
    ("DELETE", "/api/v1/namespaces/ns/pods", "deletecollection"),
    ("DELETE", "/api/v1/pods", "deletecollection"),
    ("HEAD", "/api/v1/namespaces/ns/pods/p", "get"),
    ("HEAD", "/api/v1/namespaces/ns/pods", "list"),
    ("get", "/api/v1/namespaces/ns/pods/p", "get"),
])
def test_verb_from_method(method: str, path: str, verb: str) -> None:
    assert p(method, path).verb == verb


@pytest.mark.parametrize("value,verb", [("true", "watch"), ("1", "watch"), ("false", "list"), ("0", "list")])
def test_watch_query_on_collections(value: str, verb: str) -> None:
    assert p("GET", "/api/v1/namespaces/ns/pods", watch=value).verb == verb
    assert p("GET", "/apis/apps/v1/deployments", watch=value).verb == verb


def test_watch_only_turns_reads_into_watches() -> None:
    assert p("DELETE", "/api/v1/namespaces/ns/pods", watch="true").verb == "deletecollection"
    assert p("POST", "/api/v1/namespaces/ns/pods", watch="true").verb == "create"


@pytest.mark.parametrize("value", ["True", "TRUE", "yes", ""])
def test_watch_query_accepts_every_true_spelling(value: str) -> None:
    assert p("GET", "/api/v1/namespaces/ns/pods", watch=value).verb == "watch"


@pytest.mark.parametrize("value", ["FALSE", "False", "0"])
def test_watch_query_false_spellings(value: str) -> None:
    assert p("GET", "/api/v1/namespaces/ns/pods", watch=value).verb == "list"


def test_watch_query_on_a_named_object_is_a_get() -> None:
    # Upstream turns only a nameless get into list/watch; GET .../pods/p?watch=true reads the object.
    assert p("GET", "/api/v1/namespaces/ns/pods/p", watch="true").verb == "get"


def test_legacy_watch_path_prefix() -> None:
    info = p("GET", "/api/v1/watch/namespaces/ns/pods/p")
    assert (info.verb, info.namespace, info.resource, info.name) == ("watch", "ns", "pods", "p")
    info = p("GET", "/apis/apps/v1/watch/deployments")
    assert (info.verb, info.group, info.resource, info.name) == ("watch", "apps", "deployments", "")


def test_percent_escapes_are_decoded() -> None:
    info = p("GET", "/api/v1/namespaces/default/configmaps/a%3Ab")
    assert info.name == "a:b"


def test_trailing_slash_is_ignored() -> None:
    info = p("GET", "/api/v1/namespaces/default/pods/")
    assert (info.resource, info.name, info.verb) == ("pods", "", "list")


@pytest.mark.parametrize("path", ["/", "", "/version", "/healthz", "/readyz/etcd", "/api", "/api/v1", "/apis",
                                  "/apis/apps", "/apis/apps/v1", "/openapi/v2", "/openapi/v3/apis/apps/v1",
                                  "/metrics", "/apix/v1/pods"])
def test_non_resource_paths(path: str) -> None:
    info = p("GET", path)
    assert not info.is_resource
    assert info.verb == "get"
    assert (info.resource, info.name, info.namespace) == ("", "", "")


def test_non_resource_verb_follows_method() -> None:
    assert p("POST", "/apis").verb == "create"
    assert p("OPTIONS", "/version").verb == "options"
