"""Bad input gets upstream's errors and writes nothing (issue 2 acceptance)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cluster import Cluster


def _context(cluster: Cluster, with_cert: bool = True) -> ssl.SSLContext:
    pki = Path(cluster.env["POCKETKUBE_HOME"]) / cluster.profile / "pki"
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if with_cert:
        ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    return ctx


def request(cluster: Cluster, method: str, path: str, body: bytes | None = None,
            content_type: str = "application/json", with_cert: bool = True) -> tuple[int, Any]:
    server = json.loads(cluster.kubectl("config", "view", "-o", "json", "--minify").out)["clusters"][0]["cluster"][
        "server"]
    req = urllib.request.Request(server + path, data=body, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, context=_context(cluster, with_cert), timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_unauthenticated_gets_401(cluster: Cluster) -> None:
    code, status = request(cluster, "GET", "/api/v1/namespaces", with_cert=False)
    assert code == 401 and status["reason"] == "Unauthorized" and status["kind"] == "Status"
    code, _ = request(cluster, "GET", "/version", with_cert=False)
    assert code == 200


def test_malformed_bodies_get_400(cluster: Cluster, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    code, status = request(cluster, "POST", base, b'{"apiVersion": "v1", "kind": ')
    assert code == 400 and status["reason"] == "BadRequest"
    code, status = request(cluster, "POST", base, b"kind: ConfigMap\n  bad: [", "application/yaml")
    assert code == 400 and status["reason"] == "BadRequest"
    code, status = request(cluster, "POST", base, b"k8s\x00\x0a\x05garbage", "application/vnd.kubernetes.protobuf")
    assert code == 400 and status["reason"] == "BadRequest"
    names = [i["metadata"]["name"] for i in request(cluster, "GET", base)[1]["items"]]
    assert names == ["kube-root-ca.crt"]  # published by the controller-manager; nothing else was written


def test_unknown_fields_strict_and_warn(cluster: Cluster, ns: str) -> None:
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "u1", "namespace": ns},
           "data": {"a": "1"}, "spek": {"x": 1}}
    strict = cluster.kubectl("create", "-f", "-", input=json.dumps(bad), check=False)
    assert strict.returncode == 1 and 'unknown field "spek"' in strict.stderr
    assert cluster.kubectl("get", "cm", "u1", "-n", ns, check=False).returncode == 1
    warn = cluster.kubectl("create", "--validate=warn", "-f", "-", input=json.dumps(bad))
    assert 'Warning: unknown field "spek"' in warn.stderr
    assert warn.out.strip() == "configmap/u1 created"


def test_duplicate_fields_strict_warn_and_ignore(cluster: Cluster, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    body = ('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "NAME", "labels": {"a": "1", "a": "2"}},'
            ' "data": {"k": "v"}, "data": {"k": "w"}, "spek": 1}')
    code, status = request(cluster, "POST", base + "?fieldValidation=Strict", body.replace("NAME", "d1").encode())
    assert code == 400 and status["reason"] == "BadRequest", status
    assert status["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
                                 'unknown field "spek", duplicate field "metadata.labels.a", duplicate field "data"')
    assert request(cluster, "GET", base + "/d1")[0] == 404
    warnings: list[str] = []
    for validation, name in (("Warn", "d2"), ("Ignore", "d3")):
        server = json.loads(cluster.kubectl("config", "view", "-o", "json", "--minify").out)["clusters"][0][
            "cluster"]["server"]
        req = urllib.request.Request(f"{server}{base}?fieldValidation={validation}",
                                     data=body.replace("NAME", name).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=_context(cluster), timeout=10) as resp:
            assert resp.status == 201
            created = json.loads(resp.read())
            warnings = resp.headers.get_all("Warning") or []
        assert created["data"] == {"k": "w"} and created["metadata"]["labels"] == {"a": "2"}  # the last one wins
        if validation == "Warn":
            assert warnings == ['299 - "unknown field \\"spek\\""', '299 - "duplicate field \\"metadata.labels.a\\""',
                                '299 - "duplicate field \\"data\\""'], warnings
    assert warnings == []


def test_wrong_types_missing_required_and_invalid_names(cluster: Cluster, ns: str) -> None:
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "typed", "namespace": ns},
              "spec": {"replicas": "three", "selector": {"matchLabels": {"a": "b"}},
                       "template": {"metadata": {"labels": {"a": "b"}},
                                    "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    code, status = request(cluster, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments",
                           json.dumps(deploy).encode())
    assert code == 400 and "spec.replicas" in status["message"]

    deploy["spec"]["replicas"] = -1
    del deploy["spec"]["template"]["spec"]["containers"][0]["image"]
    code, status = request(cluster, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments",
                           json.dumps(deploy).encode())
    assert code == 422 and status["reason"] == "Invalid"
    fields = {c["field"] for c in status["details"]["causes"]}
    assert "spec.replicas" in fields and "spec.template.spec.containers[0].image" in fields

    bad_name = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name", "namespace": ns}}
    code, status = request(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps", json.dumps(bad_name).encode())
    assert code == 422
    assert status["details"]["causes"][0]["field"] == "metadata.name"
    assert "RFC 1123" in status["message"]
    out = cluster.kubectl("create", "-f", "-", input=json.dumps(bad_name), check=False)
    assert 'The ConfigMap "Bad_Name" is invalid' in out.stderr


def test_too_large_unknown_resource(cluster: Cluster, ns: str) -> None:
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": ns},
           "data": {"a": "x" * (3 * 1024 * 1024 + 10)}}
    code, status = request(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps", json.dumps(big).encode())
    assert code == 413 and status["reason"] == "RequestEntityTooLarge"
    code, status = request(cluster, "GET", f"/api/v1/namespaces/{ns}/widgets")
    assert code == 404 and status["reason"] == "NotFound"
    missing = cluster.kubectl("get", "widgets", check=False)
    assert missing.returncode == 1 and 'the server doesn\'t have a resource type "widgets"' in missing.stderr
    notfound = cluster.kubectl("get", "cm", "nope", "-n", ns, check=False)
    assert 'Error from server (NotFound): configmaps "nope" not found' in notfound.stderr
