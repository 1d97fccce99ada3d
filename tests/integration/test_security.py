"""Security model end to end: service-account tokens, RBAC, can-i, 401/403, impersonation (issue 3)."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster import Cluster
from kubernetes import client
from kubernetes.client.rest import ApiException

from pocketkube.apiserver import jws


def endpoint(cluster: Cluster) -> tuple[str, Path]:
    """The API server URL and a file with the cluster CA."""
    cfg = json.loads(cluster.kubectl("config", "view", "--raw", "--minify", "-o", "json").out)
    c = cfg["clusters"][0]["cluster"]
    ca = cluster.tmp / "ca.crt"
    if "certificate-authority-data" in c:
        import base64

        ca.write_bytes(base64.b64decode(c["certificate-authority-data"]))
    else:
        ca.write_bytes(Path(c["certificate-authority"]).read_bytes())
    return c["server"], ca


def token_kubeconfig(cluster: Cluster, token: str, name: str) -> str:
    """A kubeconfig with only the server, the CA and a bearer token (no client certificate)."""
    server, ca = endpoint(cluster)
    path = cluster.tmp / f"kubeconfig-{name}"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "t", "context": {"cluster": "c", "user": "u"}}]}))
    return str(path)


def token_client(cluster: Cluster, token: str | None) -> client.ApiClient:
    server, ca = endpoint(cluster)
    cfg = client.Configuration()
    cfg.host = server
    cfg.ssl_ca_cert = str(ca)
    if token is not None:
        cfg.api_key = {"authorization": token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(cfg)


def create_token(cluster: Cluster, sa: str, ns: str, *args: str) -> str:
    return cluster.kubectl("create", "token", sa, "-n", ns, *args).out.strip()


def service_account(cluster: Cluster, ns: str, name: str) -> str:
    cluster.kubectl("create", "serviceaccount", name, "-n", ns)
    return create_token(cluster, name, ns)


@pytest.fixture
def development(cluster: Cluster) -> Iterator[str]:
    cluster.kubectl("create", "namespace", "development", check=False)
    cluster.wait_for(lambda: cluster.kubectl("get", "sa", "default", "-n", "development", check=False).returncode == 0)
    yield "development"
    cluster.kubectl("delete", "namespace", "development", "--wait=false", check=False)


def test_token_from_kubectl_create_token_authenticates(cluster: Cluster, development: str) -> None:
    token = create_token(cluster, "default", development)
    who: Any = client.AuthenticationV1Api(token_client(cluster, token)).create_self_subject_review(
        client.V1SelfSubjectReview(metadata=client.V1ObjectMeta()))
    assert who.status.user_info.username == "system:serviceaccount:development:default"
    assert who.status.user_info.groups == ["system:serviceaccounts", "system:serviceaccounts:development",
                                           "system:authenticated"]
    sa_uid = cluster.kubectl("get", "sa", "default", "-n", development, "-o", "jsonpath={.metadata.uid}").out
    assert who.status.user_info.uid == sa_uid
    out = cluster.kubectl("auth", "whoami", "--kubeconfig", token_kubeconfig(cluster, token, "dev")).out
    assert "system:serviceaccount:development:default" in out
    assert "[system:serviceaccounts system:serviceaccounts:development system:authenticated]" in out
    assert "authentication.kubernetes.io/credential-id" in out and "JTI=" in out
    claims = jws.unverified_claims(token)
    assert claims["iss"] == claims["aud"][0] == "https://kubernetes.default.svc.cluster.local"
    assert claims["exp"] - claims["iat"] == 3600


def test_rbac_denies_until_a_role_grants(cluster: Cluster, ns: str) -> None:
    token = service_account(cluster, ns, "reader")
    kc = token_kubeconfig(cluster, token, "reader")
    user = f"system:serviceaccount:{ns}:reader"
    message = f'pods is forbidden: User "{user}" cannot list resource "pods" in API group "" in the namespace "{ns}"'
    denied = cluster.kubectl("get", "pods", "-n", ns, "--kubeconfig", kc, check=False)
    assert denied.returncode == 1 and f"Error from server (Forbidden): {message}" in denied.stderr
    core = client.CoreV1Api(token_client(cluster, token))
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod(ns)
    assert err.value.status == 403 and json.loads(str(err.value.body))["message"] == message
    for who in (["--kubeconfig", kc], [f"--as={user}"]):
        no = cluster.kubectl("auth", "can-i", "list", "pods", "-n", ns, *who, check=False)
        assert (no.returncode, no.out.strip()) == (1, "no")

    cluster.kubectl("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods", "-n", ns)
    cluster.kubectl("create", "rolebinding", "reader-pods", "--role=pod-reader", f"--serviceaccount={ns}:reader",
                    "-n", ns)
    for who in (["--kubeconfig", kc], [f"--as={user}"]):
        yes = cluster.kubectl("auth", "can-i", "list", "pods", "-n", ns, *who, check=False)
        assert (yes.returncode, yes.out.strip()) == (0, "yes")
        no = cluster.kubectl("auth", "can-i", "delete", "pods", "-n", ns, *who, check=False)
        assert (no.returncode, no.out.strip()) == (1, "no")
    assert cluster.kubectl("get", "pods", "-n", ns, "--kubeconfig", kc).returncode == 0
    assert core.list_namespaced_pod(ns).items == []
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod("default")
    assert err.value.status == 403
    listing = cluster.kubectl("auth", "can-i", "--list", "-n", ns, "--kubeconfig", kc).out
    rows = [line.split() for line in listing.splitlines()]
    assert ["pods", "[]", "[]", "[get", "list", "watch]"] in rows
    assert ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in rows
    assert ["[/api/*]", "[]", "[get]"] in rows


def test_requests_without_valid_credentials_get_401(cluster: Cluster, ns: str) -> None:
    server, ca = endpoint(cluster)
    tls = ssl.create_default_context(cafile=str(ca))

    def status(path: str, token: str = "") -> int:
        req = urllib.request.Request(server + path, headers={"Authorization": f"Bearer {token}"} if token else {})
        try:
            with urllib.request.urlopen(req, context=tls, timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as e:
            return e.code

    assert status("/api/v1/namespaces/default/pods") == 401
    assert status("/healthz") == 200 and status("/version") == 200  # public, as upstream's public-info-viewer
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(token_client(cluster, None)).list_namespaced_pod(ns)
    assert err.value.status == 401

    token = service_account(cluster, ns, "short")
    assert status("/api", token) == 200
    claims = jws.unverified_claims(token)
    now = int(time.time())
    key = jws.load_private_key(cluster.tmp / "state" / cluster.profile / "pki" / "sa.key")
    expired = jws.sign(key, claims | {"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600})
    header, _, sig = token.split(".")
    forged = jws.b64url(json.dumps(claims | {"sub": "system:serviceaccount:kube-system:default"}).encode())
    for bad in (expired, f"{header}.{forged}.{sig}", token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")):
        assert status("/api", bad) == 401
        assert status("/healthz", bad) == 401  # a presented credential that fails is never anonymous
        with pytest.raises(ApiException) as err:
            client.CoreV1Api(token_client(cluster, bad)).list_namespaced_pod(ns)
        assert err.value.status == 401
    out = cluster.kubectl("get", "pods", "--kubeconfig", token_kubeconfig(cluster, expired, "expired"), check=False)
    assert out.returncode == 1 and "You must be logged in to the server (Unauthorized)" in out.stderr


def test_deleting_the_service_account_invalidates_its_tokens(cluster: Cluster, ns: str) -> None:
    token = service_account(cluster, ns, "temp")
    kc = token_kubeconfig(cluster, token, "temp")
    assert f"system:serviceaccount:{ns}:temp" in cluster.kubectl("auth", "whoami", "--kubeconfig", kc).out
    cluster.kubectl("delete", "serviceaccount", "temp", "-n", ns)
    gone = cluster.kubectl("auth", "whoami", "--kubeconfig", kc, check=False)
    assert gone.returncode == 1 and "Unauthorized" in gone.stderr
    cluster.kubectl("create", "serviceaccount", "temp", "-n", ns)  # same name, new uid: the old token stays dead
    assert cluster.kubectl("auth", "whoami", "--kubeconfig", kc, check=False).returncode == 1


def test_token_request_validation(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "serviceaccount", "robot", "-n", ns)
    short = cluster.kubectl("create", "token", "robot", "-n", ns, "--duration=5m", check=False)
    assert short.returncode == 1 and ("spec.expirationSeconds: Invalid value: 300: may not specify a duration "
                                      "less than 10 minutes") in short.stderr
    missing = cluster.kubectl("create", "token", "nobody", "-n", ns, check=False)
    assert 'serviceaccounts "nobody" not found' in missing.stderr
    token = create_token(cluster, "robot", ns, "--duration=2h", "--audience=https://vault.example")
    claims = jws.unverified_claims(token)
    assert claims["aud"] == ["https://vault.example"] and claims["exp"] - claims["iat"] == 7200
    # a token for another audience does not authenticate to the API server
    kc = token_kubeconfig(cluster, token, "vault")
    assert cluster.kubectl("auth", "whoami", "--kubeconfig", kc, check=False).returncode == 1


def test_escalation_and_impersonation_are_checked(cluster: Cluster, ns: str) -> None:
    token = service_account(cluster, ns, "lead")
    cluster.kubectl("create", "rolebinding", "lead-admin", "--clusterrole=admin", f"--serviceaccount={ns}:lead",
                    "-n", ns)
    kc = token_kubeconfig(cluster, token, "lead")
    ok = cluster.kubectl("create", "role", "cm-reader", "--verb=get", "--resource=configmaps", "-n", ns,
                         "--kubeconfig", kc, check=False)
    assert ok.returncode == 0, ok.stderr
    grab = cluster.kubectl("create", "rolebinding", "grab", "--clusterrole=cluster-admin",
                           f"--serviceaccount={ns}:lead", "-n", ns, "--kubeconfig", kc, check=False)
    assert grab.returncode == 1
    assert (f'rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "system:serviceaccount:{ns}:lead" '
            f'(groups=["system:serviceaccounts" "system:serviceaccounts:{ns}" "system:authenticated"]) is '
            f"attempting to grant RBAC permissions not currently held:") in grab.stderr
    nodes = cluster.kubectl("create", "role", "nodes", "--verb=get", "--resource=nodes", "-n", ns,
                            "--kubeconfig", kc, check=False)
    assert nodes.returncode == 1 and '{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}' in nodes.stderr
    imp = cluster.kubectl("get", "pods", "-n", ns, "--as=bob", "--kubeconfig", kc, check=False)
    assert imp.returncode == 1 and (f'Error from server (Forbidden): users "bob" is forbidden: User '
                                    f'"system:serviceaccount:{ns}:lead" cannot impersonate resource "users" in '
                                    f'API group "" at the cluster scope') in imp.stderr
    who = cluster.kubectl("auth", "whoami", "--as=bob", "--as-group=devs", "-o", "json").out
    assert json.loads(who)["status"]["userInfo"] == {"username": "bob", "groups": ["devs", "system:authenticated"]}


def test_default_roles_and_aggregation(cluster: Cluster) -> None:
    def rules_of(name: str) -> Any:
        return json.loads(cluster.kubectl("get", "clusterrole", name, "-o", "json").out).get("rules") or []

    admin = json.loads(cluster.kubectl("get", "clusterrole", "admin", "-o", "json").out)
    assert admin["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
    assert admin["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}}]
    assert any("rolebindings" in r.get("resources", []) for r in rules_of("admin"))
    subjects = json.loads(cluster.kubectl("get", "clusterrolebinding", "cluster-admin", "-o", "json").out)["subjects"]
    assert subjects == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list"]}]}))
    try:
        for role in ("view", "edit", "admin"):
            cluster.wait_for(lambda r=role: any("widgets" in x.get("resources", []) for x in rules_of(r)))
    finally:
        cluster.kubectl("delete", "clusterrole", "widgets-view")
    cluster.wait_for(lambda: not any("widgets" in x.get("resources", []) for x in rules_of("view")))
