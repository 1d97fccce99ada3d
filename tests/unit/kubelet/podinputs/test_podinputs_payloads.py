"""Volume payloads: configMap, secret, downwardAPI, projected; emptyDir memory sizing; token refresh."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from pocketkube.kubelet.podinputs.volumes import configmap, downwardapi, emptydir, projected, secret
from pocketkube.kubelet.podinputs.volumes.atomic_writer import FileProjection
from pocketkube.kubelet.podinputs.volumes.token import Token, requires_refresh

Obj = dict[str, Any]
CM = {"data": {"a": "1", "b": "2"}, "binaryData": {"bin": base64.b64encode(b"\x00\x01").decode()}}
POD: Obj = {"metadata": {"name": "web", "namespace": "ns", "uid": "u1", "labels": {"b": "2", "a": "1"},
                    "annotations": {"x": "y"}},
       "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"},
                                                           "requests": {"cpu": "100m"}}}]}}


def test_configmap_all_keys_and_items() -> None:
    assert configmap.payload({"name": "cm"}, CM) == {
        "a": FileProjection(b"1", 0o644), "b": FileProjection(b"2", 0o644), "bin": FileProjection(b"\x00\x01", 0o644)}
    got = configmap.payload({"name": "cm", "defaultMode": 0o400,
                             "items": [{"key": "a", "path": "dir/a.txt"}, {"key": "b", "path": "b", "mode": 0o777}]},
                            CM)
    assert got == {"dir/a.txt": FileProjection(b"1", 0o400), "b": FileProjection(b"2", 0o777)}


def test_configmap_missing_keys() -> None:
    with pytest.raises(configmap.PayloadMissing, match=r"^configmap references non-existent config key: zz$"):
        configmap.payload({"items": [{"key": "zz", "path": "zz"}]}, CM)
    assert configmap.payload({"optional": True, "items": [{"key": "zz", "path": "zz"}]}, CM) == {}
    assert configmap.payload({"optional": True}, None) == {}


def test_secret_payload_decodes() -> None:
    sec = {"data": {"user": base64.b64encode(b"admin").decode()}}
    assert secret.payload({"secretName": "s"}, sec) == {"user": FileProjection(b"admin", 0o644)}
    with pytest.raises(configmap.PayloadMissing, match=r"^secret references non-existent secret key: pw$"):
        secret.payload({"items": [{"key": "pw", "path": "pw"}]}, sec)


def test_downward_api_items() -> None:
    items = [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
             {"path": "./sub//name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o600},
             {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory",
                                                  "divisor": "1Mi"}},
             {"path": "cpu", "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu"}}]
    got = downwardapi.payload({"items": items}, POD, {"cpu": "2", "memory": "1Gi"})
    assert got == {"labels": FileProjection(b'a="1"\nb="2"', 0o644), "sub/name": FileProjection(b"web", 0o600),
                   "mem": FileProjection(b"64", 0o644), "cpu": FileProjection(b"2", 0o644)}
    bad = [{"path": "x", "fieldRef": {"fieldPath": "spec.nodeName"}},
           {"path": "y", "resourceFieldRef": {"containerName": "nope", "resource": "limits.cpu"}}]
    with pytest.raises(downwardapi.DownwardAPIError) as info:
        downwardapi.payload({"items": bad}, POD, {})
    assert str(info.value) == "[unsupported fieldPath: spec.nodeName, container nope not found]"


class FakeTokens:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def get(self, namespace: str, sa: str, audiences: list[str], expiration: int, pod: Obj) -> str:
        self.calls.append((namespace, sa, tuple(audiences), expiration))
        return "tok"


async def test_projected_service_account_volume() -> None:
    tokens = FakeTokens()

    async def cm(ns: str, name: str) -> Obj | None:
        return {"data": {"ca.crt": "PEM"}} if name == "kube-root-ca.crt" else None

    async def sec(ns: str, name: str) -> Obj | None:
        return None

    source = {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "metadata.namespace"}}]}}]}
    got = await projected.payload(source, POD, get_configmap=cm, get_secret=sec, tokens=tokens,  # type: ignore[arg-type]
                                  allocatable={})
    assert got == {"token": FileProjection(b"tok", 0o644), "ca.crt": FileProjection(b"PEM", 0o644),
                   "namespace": FileProjection(b"ns", 0o644)}
    assert tokens.calls == [("ns", "default", (), 3607)]
    fs_pod = {**POD, "spec": {**POD["spec"], "securityContext": {"fsGroup": 2000}, "serviceAccountName": "robot"}}
    with pytest.raises(projected.ProjectedError) as info:
        await projected.payload({"sources": [{"serviceAccountToken": {"audience": "vault", "path": "t"}},
                                             {"secret": {"name": "gone", "optional": True}},
                                             {"configMap": {"name": "missing"}}, {"secret": {"name": "nope"}}]},
                                fs_pod, get_configmap=cm, get_secret=sec, tokens=tokens,  # type: ignore[arg-type]
                                allocatable={})
    assert str(info.value) == '[configmap "missing" not found, secret "nope" not found]'
    assert tokens.calls[-1] == ("ns", "robot", ("vault",), 3600)
    got = await projected.payload({"sources": [{"serviceAccountToken": {"path": "t"}}]}, fs_pod,
                                  get_configmap=cm, get_secret=sec, tokens=tokens,  # type: ignore[arg-type]
                                  allocatable={})
    assert got == {"t": FileProjection(b"tok", 0o600)}  # fsGroup: 0600, the group bit comes from ownership


def test_memory_emptydir_size() -> None:
    alloc = {"memory": "8Gi"}
    assert emptydir.memory_size({}, POD, alloc) == 64 * 2**20  # the pod's limit is smaller
    assert emptydir.memory_size({"sizeLimit": "1Mi"}, POD, alloc) == 2**20
    assert emptydir.memory_size({"sizeLimit": "1Ti"}, POD, alloc) == 64 * 2**20
    unlimited = {"spec": {"containers": [{"name": "a"}, {"name": "b", "resources": {"limits": {"memory": "1Gi"}}}]}}
    assert emptydir.memory_size({}, unlimited, alloc) == 8 * 2**30
    assert emptydir.memory_size({}, unlimited, {}) == 0
    with_init = {"spec": {"containers": [{"name": "a", "resources": {"limits": {"memory": "1Gi"}}}],
                          "initContainers": [{"name": "i", "resources": {"limits": {"memory": "3Gi"}}},
                                             {"name": "s", "restartPolicy": "Always",
                                              "resources": {"limits": {"memory": "1Gi"}}}],
                          "overhead": {"memory": "1Mi"}}}
    assert emptydir.pod_memory_limit(with_init) == 3 * 2**30 + 2**20


def test_token_refresh_points() -> None:
    t = Token("x", expires_at=10_000.0, expiration_seconds=3600)  # issued at 6400
    assert not requires_refresh(t, 6400 + 2879, 0)
    assert requires_refresh(t, 6400 + 2881, 0)  # past 80% of its lifetime
    assert requires_refresh(t, 6400 + 2875, 10)  # the jitter brings it forward
    long = Token("y", expires_at=1_000_000.0, expiration_seconds=365 * 86400)
    assert not requires_refresh(long, long.issued_at + 86399, 0)
    assert requires_refresh(long, long.issued_at + 86401, 0)  # never older than 24 h
