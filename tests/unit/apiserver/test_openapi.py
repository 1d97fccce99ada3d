"""Tests for the /openapi/v2 and /openapi/v3 documents.

Unit tests check the document shapes kubectl relies on; the `kubectl` tests
serve the documents (plus legacy discovery) from a throwaway loopback aiohttp
server and run the real /usr/bin/kubectl against it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from pocketkube.api.scheme import SCHEME, Scheme
from pocketkube.apiserver import openapi

KUBECTL = "/usr/bin/kubectl"
PATCH_MEDIA = {"application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml"}


def v3(key: str) -> dict[str, Any]:
    data = openapi.v3_path_document(SCHEME, key)
    assert data is not None, key
    return orjson.loads(data)


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, op


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):  # JSONSchemaProps has a *property* named $ref
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def schema_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A schema and its subschemas (properties are names, not keywords, so walk them as such)."""
    yield node
    for sub in node.get("properties", {}).values():
        yield from schema_nodes(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from schema_nodes(node[key])
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in node.get(key, ()):
            yield from schema_nodes(sub)


# ---------------------------------------------------------------- v3 root and caching

def test_root_lists_every_served_group_version_with_its_hash() -> None:
    root = openapi.v3_root(SCHEME)["paths"]
    for group, versions in SCHEME.groups().items():
        for version in versions:
            key = f"apis/{group}/{version}" if group else f"api/{version}"
            digest = openapi.v3_hash(SCHEME, group, version)
            assert root[key]["serverRelativeURL"] == f"/openapi/v3/{key}?hash={digest}"
            data = openapi.v3_document(SCHEME, group, version)
            assert digest == hashlib.sha512(data).hexdigest().upper()
    assert {"api", "apis", "version", "apis/apps"} <= set(root)


def test_documents_are_cached_and_stable() -> None:
    assert openapi.v3_document(SCHEME, "apps", "v1") is openapi.v3_document(SCHEME, "apps", "v1")
    other = Scheme()  # same table, different object: same bytes, separate cache
    assert openapi.v3_document(other, "apps", "v1") == openapi.v3_document(SCHEME, "apps", "v1")
    assert openapi.v2_protobuf(SCHEME) is openapi.v2_protobuf(SCHEME)


def test_unknown_documents() -> None:
    assert openapi.v3_path_document(SCHEME, "apis/nope/v1") is None
    assert openapi.v3_path_hash(SCHEME, "apis/apps/v9") is None
    with pytest.raises(KeyError):
        openapi.v3_document(SCHEME, "apps", "v1beta1")


# ---------------------------------------------------------------- v3 operations

def test_every_patchable_kind_declares_field_validation_on_patch() -> None:
    for r in SCHEME.resources:
        doc = v3(f"apis/{r.group}/{r.version}" if r.group else f"api/{r.version}")
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        by_action: dict[str, list[dict[str, Any]]] = {}
        for _, _, op in operations(doc):
            if op.get("x-kubernetes-group-version-kind") == gvk:
                by_action.setdefault(op["x-kubernetes-action"], []).append(op)
        if "patch" in r.verbs:
            patch = by_action["patch"][0]
            names = {p["name"] for p in patch["parameters"]}
            assert {"dryRun", "fieldManager", "fieldValidation", "force"} <= names, r.kind
            assert set(patch["requestBody"]["content"]) == PATCH_MEDIA
        if "create" in r.verbs:
            names = {p["name"] for p in by_action["post"][0]["parameters"]}
            assert {"dryRun", "fieldManager", "fieldValidation"} <= names, r.kind
        if "list" in r.verbs:
            listed = {p["name"] for p in doc["paths"][_collection(r)]["get"]["parameters"]}
            assert {"watch", "labelSelector", "fieldSelector", "limit", "continue", "resourceVersion"} <= listed


def _collection(r: Any) -> str:
    prefix = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
    return f"{prefix}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{prefix}/{r.plural}"


def test_operation_ids_and_tags_follow_upstream_naming() -> None:
    apps = v3("apis/apps/v1")
    ops = {op["operationId"]: (path, method, op) for path, method, op in operations(apps)}
    path, method, op = ops["patchAppsV1NamespacedDeployment"]
    assert (path, method) == ("/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch")
    assert op["tags"] == ["apps_v1"] and op["x-kubernetes-action"] == "patch"
    _, _, scale = ops["readAppsV1NamespacedDeploymentScale"]
    assert scale["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert "watchAppsV1DeploymentListForAllNamespaces" in ops
    assert "deleteAppsV1CollectionNamespacedDeployment" in ops
    core = {op["operationId"]: op for _, _, op in operations(v3("api/v1"))}
    assert core["createCoreV1NamespacedPodEviction"]["x-kubernetes-group-version-kind"]["group"] == "policy"
    assert core["connectCoreV1PostNamespacedPodExec"]["x-kubernetes-action"] == "connect"
    assert "text/plain" in core["readCoreV1NamespacedPodLog"]["responses"]["200"]["content"]
    assert "listCoreV1PodForAllNamespaces" in core and "deleteCoreV1CollectionNamespace" not in core
    rbac = {op["operationId"] for _, _, op in operations(v3("apis/rbac.authorization.k8s.io/v1"))}
    assert "patchRbacAuthorizationV1NamespacedRole" in rbac
    for key in openapi.v3_root(SCHEME)["paths"]:
        ids = [op["operationId"] for _, _, op in operations(v3(key))]
        assert len(ids) == len(set(ids)), key


# ---------------------------------------------------------------- v3 schemas

def test_components_are_closed_and_in_openapi3_form() -> None:
    for key in openapi.v3_root(SCHEME)["paths"]:
        doc = v3(key)
        assert doc["openapi"] == "3.0.0" and doc["info"]["title"] == "Kubernetes"
        schemas = doc["components"]["schemas"]
        for ref in refs(doc):
            assert ref.startswith("#/components/schemas/"), ref
            assert ref.rsplit("/", 1)[-1] in schemas, (key, ref)
        for schema in schemas.values():
            for node in schema_nodes(schema):
                assert isinstance(node.get("type", ""), str) and "nullable" not in node, (key, node)
                assert "enum" not in node, (key, node)


def test_schema_shapes_match_upstream() -> None:
    schemas = v3("apis/apps/v1")["components"]["schemas"]
    deploy = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deploy["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert deploy["properties"]["kind"] == {"description": deploy["properties"]["kind"]["description"],
                                            "type": "string"}  # no synthesized enum
    strategy = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    assert strategy["description"].startswith("The deployment strategy to use")
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["type"] == "array" and containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["oneOf"] == [
        {"type": "integer"}, {"type": "string"}]
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert "type" not in schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    time = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]
    assert (time["type"], time["format"]) == ("string", "date-time")
    labels = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["labels"]
    assert labels["additionalProperties"] == {"type": "string"}


# ---------------------------------------------------------------- v2

def test_v2_document_is_swagger_with_resolvable_refs() -> None:
    doc = orjson.loads(openapi.v2_document(SCHEME))
    assert doc["swagger"] == "2.0"
    for ref in refs(doc):
        assert ref.startswith("#/definitions/") and ref.rsplit("/", 1)[-1] in doc["definitions"], ref
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert set(patch["consumes"]) == PATCH_MEDIA
    assert {p["name"] for p in patch["parameters"]} >= {"body", "fieldValidation", "force"}
    assert doc["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"] == "string"
    strategy = doc["definitions"]["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["$ref"] == "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy"


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """A minimal protobuf wire decoder: (field, wire type, value) at one level."""
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i)
        field, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire == 2:
            size, i = _read_varint(data, i)
            value, i = data[i:i + size], i + size
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        yield field, wire, value


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def test_v2_protobuf_top_level_fields() -> None:
    top = list(_fields(openapi.v2_protobuf(SCHEME)))
    assert (1, 2, b"2.0") in top
    (definitions,) = [v for f, _, v in top if f == 9]
    names = {bytes(dict((f, v) for f, _, v in _fields(entry))[1]).decode()
             for f, _, entry in _fields(definitions) if f == 1}
    assert "io.k8s.api.apps.v1.Deployment" in names
    (paths,) = [v for f, _, v in top if f == 8]
    assert sum(1 for f, _, _ in _fields(paths) if f == 2) == len(orjson.loads(openapi.v2_document(SCHEME))["paths"])


# ---------------------------------------------------------------- real kubectl against a throwaway server

def _resource_list(group: str, version: str) -> dict[str, Any]:
    out = []
    for r in SCHEME.in_group_version(group, version):
        out.append({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                    "verbs": list(r.verbs), "shortNames": list(r.short_names)})
        for s in r.subresources:
            entry = {"name": f"{r.plural}/{s.name}", "singularName": "", "namespaced": r.namespaced,
                     "kind": s.kind, "verbs": list(s.verbs)}
            if s.group is not None:
                entry.update(group=s.group, version=s.version)
            out.append(entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}".lstrip("/"),
            "resources": out}


def _group_list() -> dict[str, Any]:
    groups = [{"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
               "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
              for g, vs in SCHEME.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


class FakeServer:
    """Legacy discovery, /openapi and a tiny object store; records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str, bytes]] = []  # method, path?query, content type, body
        self.objects: dict[str, Any] = {}

    async def handle(self, req: web.Request) -> web.StreamResponse:
        body = await req.read()
        self.requests.append((req.method, req.path_qs, req.content_type, body))
        path = req.path
        if path == "/version":
            return web.json_response({"major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "0",
                                      "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z",
                                      "goVersion": "go1.23", "compiler": "gc", "platform": "linux/amd64"})
        if path == "/api":
            return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            return web.json_response(_group_list())
        parts = path.strip("/").split("/")
        if path == "/api/v1" or (parts[0] == "apis" and len(parts) == 3):
            return web.json_response(_resource_list(*(parts[1:] if len(parts) == 3 else ["", "v1"])))
        if path.startswith("/openapi/"):
            return self.openapi(req)
        return self.store(req.method, path, body)

    def openapi(self, req: web.Request) -> web.Response:
        if req.path == "/openapi/v3":
            return web.json_response(openapi.v3_root(SCHEME))
        if req.path == "/openapi/v2":
            if "protobuf" in req.headers.get("Accept", ""):
                return web.Response(body=openapi.v2_protobuf(SCHEME),
                                    content_type="application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
            return web.Response(body=openapi.v2_document(SCHEME), content_type="application/json")
        data = openapi.v3_path_document(SCHEME, req.path.removeprefix("/openapi/v3/"))
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/json")

    def store(self, method: str, path: str, body: bytes) -> web.Response:
        if method == "POST":
            obj = orjson.loads(body)
            self.objects[f"{path}/{obj['metadata']['name']}"] = obj
            return web.json_response(obj, status=201)
        if method in ("GET", "PATCH") and path in self.objects:
            return web.json_response(self.objects[path])
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                  "code": 404}, status=404)


@pytest.fixture
async def kube() -> AsyncIterator[tuple[FakeServer, list[str], dict[str, str]]]:
    if not os.access(KUBECTL, os.X_OK):
        pytest.skip("needs /usr/bin/kubectl")
    fake = FakeServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    tmp = tempfile.mkdtemp(prefix="pk-openapi-")
    try:
        port = runner.addresses[0][1]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp,
               "KUBECACHEDIR": os.path.join(tmp, "cache"), "KUBECONFIG": os.path.join(tmp, "kubeconfig")}
        yield fake, [KUBECTL, "--server", f"http://127.0.0.1:{port}"], env
    finally:
        await runner.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


async def run(cmd: list[str], env: dict[str, str], *args: str, stdin: bytes = b"") -> str:
    proc = await asyncio.create_subprocess_exec(*cmd, *args, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                env=env)
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode()
    return out.decode()


@pytest.mark.kubectl
async def test_kubectl_explain_uses_v3_schemas(kube: tuple[FakeServer, list[str], dict[str, str]]) -> None:
    _, cmd, env = kube
    out = await run(cmd, env, "explain", "deployment.spec.strategy")
    assert "FIELD: strategy <DeploymentStrategy>" in out
    assert "The deployment strategy to use to replace existing pods with new ones." in out
    assert "DeploymentStrategy describes how to replace existing pods with new ones." in out
    assert "rollingUpdate\t<RollingUpdateDeployment>" in out
    out = await run(cmd, env, "explain", "pods.spec.containers", "--recursive")
    assert "FIELD: containers <[]Container>" in out
    assert "A single application container that you want to run within a pod." in out
    assert "livenessProbe\t<Probe>" in out and "limits\t<map[string]Quantity>" in out
    out = await run(cmd, env, "explain", "svc.spec.ports.targetPort")
    assert "FIELD: targetPort <IntOrString>" in out


@pytest.mark.kubectl
async def test_kubectl_explain_openapiv2_reads_protobuf(kube: tuple[FakeServer, list[str], dict[str, str]]) -> None:
    _, cmd, env = kube
    out = await run(cmd, env, "explain", "deployment.spec.strategy", "--output=plaintext-openapiv2")
    assert "RESOURCE: strategy <Object>" in out
    assert "The deployment strategy to use to replace existing pods with new ones." in out


DEPLOYMENT = b"""apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx:1.26}]}
"""


@pytest.mark.kubectl
async def test_kubectl_uses_server_side_validation_and_v3_patch_metadata(
        kube: tuple[FakeServer, list[str], dict[str, str]]) -> None:
    fake, cmd, env = kube
    await run(cmd, env, "apply", "-f", "-", stdin=DEPLOYMENT)
    (post,) = [r for r in fake.requests if r[0] == "POST"]
    assert "fieldValidation=Strict" in post[1]
    changed = DEPLOYMENT.replace(b"image: nginx:1.26}", b"image: nginx:1.27}, {name: d, image: busybox}")
    await run(cmd, env, "apply", "-f", "-", stdin=changed)
    (patch,) = [r for r in fake.requests if r[0] == "PATCH"]
    assert "fieldValidation=Strict" in patch[1]
    assert patch[2] == "application/strategic-merge-patch+json"
    body = orjson.loads(patch[3])
    assert body["spec"]["template"]["spec"]["$setElementOrder/containers"] == [{"name": "c"}, {"name": "d"}]
    assert not any(r[1].startswith("/openapi/v2") for r in fake.requests)  # v3 was enough
