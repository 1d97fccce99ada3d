"""The volume manager on disk with a fake API: layout, FailedMount, refresh through ..data, tokens, mounts."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from pocketkube.client.fake import Action, FakeClient
from pocketkube.client.fakestore import api_error
from pocketkube.kubelet.clock import ManualClock
from pocketkube.kubelet.podinputs.errors import ContainerConfigError, VolumeSetupError
from pocketkube.kubelet.podinputs.volumes.manager import CONFIGMAPS, SECRETS, VolumeManager
from pocketkube.kubelet.runtime.cri_types import MountPropagation
from pocketkube.kubelet.timefmt import rfc3339
from pocketkube.machinery import errors

Obj = dict[str, Any]
START = 1_700_000_000.0


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, pod: Obj, type_: str, reason: str, message: str, field_path: str = "") -> None:
        self.seen.append((type_, reason, message))


def sa_volume() -> Obj:
    return {"name": "kube-api-access-x", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "metadata.namespace"}}]}}]}}


def make_pod(tmp_path: Path, *volumes: Obj, labels: Obj | None = None) -> Obj:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "uid-1", "labels": labels or {"app": "web"}},
            "spec": {"containers": [{"name": "c", "volumeMounts": [
                {"name": v["name"], "mountPath": f"/mnt/{v['name']}"} for v in volumes]}],
                     "volumes": list(volumes)}}


@pytest.fixture
def env(tmp_path: Path) -> tuple[VolumeManager, FakeClient, ManualClock, Events]:
    client, clock, events = FakeClient(), ManualClock(START), Events()
    client.add(CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": "ns"}, "data": {"k": "v1", "other": "o"}})
    client.add(CONFIGMAPS, {"metadata": {"name": "kube-root-ca.crt", "namespace": "ns"}, "data": {"ca.crt": "PEM"}})
    client.add(SECRETS, {"metadata": {"name": "sec", "namespace": "ns"},
                         "data": {"pw": base64.b64encode(b"hunter2").decode()}})
    issued: list[int] = []

    def token(action: Action) -> tuple[bool, Any]:
        issued.append(1)
        exp = action.body["spec"]["expirationSeconds"]
        assert action.subresource == "token" and action.name == "default"
        assert action.body["spec"]["boundObjectRef"] == {"apiVersion": "v1", "kind": "Pod", "name": "web",
                                                         "uid": "uid-1"}
        return True, {**action.body, "status": {"token": f"token-{len(issued)}",
                                                "expirationTimestamp": rfc3339(clock.now() + exp)}}

    client.prepend_reactor("create", "serviceaccounts", token)
    vm = VolumeManager(tmp_path / "kubelet", client, clock, events=events, memory_backed=False,
                       allocatable=lambda: {"cpu": "2", "memory": "4Gi"}, sync_period=5)
    vm.tokens.jitter = lambda: 0.0
    return vm, client, clock, events


def vol(vm: VolumeManager, plugin: str, name: str) -> Path:
    return vm.root / "pods" / "uid-1" / "volumes" / plugin / name


async def test_setup_lays_out_every_kind(env: Any, tmp_path: Path) -> None:
    vm, _, _, events = env
    host = tmp_path / "host"
    pod = make_pod(tmp_path, {"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "k", "path": "a/k"}]}},
                   {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 0o400}},
                   {"name": "info", "downwardAPI": {"items": [{"path": "labels",
                                                                "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                   sa_volume(), {"name": "scratch", "emptyDir": {}},
                   {"name": "host", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}})
    await vm.setup(pod)
    await vm.setup(pod)  # idempotent
    assert (vol(vm, "kubernetes.io~configmap", "cfg") / "a" / "k").read_text() == "v1"
    assert os.readlink(vol(vm, "kubernetes.io~configmap", "cfg") / "a") == "..data/a"
    assert os.stat(vol(vm, "kubernetes.io~configmap", "cfg")).st_mode & 0o777 == 0o777
    pw = vol(vm, "kubernetes.io~secret", "sec") / "pw"
    assert pw.read_text() == "hunter2" and os.stat(pw).st_mode & 0o777 == 0o400
    assert (vol(vm, "kubernetes.io~downward-api", "info") / "labels").read_text() == 'app="web"'
    sa = vol(vm, "kubernetes.io~projected", "kube-api-access-x")
    assert {p: (sa / p).read_text() for p in ("token", "ca.crt", "namespace")} == {
        "token": "token-1", "ca.crt": "PEM", "namespace": "ns"}
    assert vol(vm, "kubernetes.io~empty-dir", "scratch").is_dir() and host.is_dir()
    assert events.seen == []
    mounts = {m.container_path: m for m in await vm.mounts(pod, pod["spec"]["containers"][0])}
    assert mounts["/mnt/cfg"].host_path == str(vol(vm, "kubernetes.io~configmap", "cfg"))
    assert mounts["/mnt/cfg"].readonly and mounts["/mnt/kube-api-access-x"].readonly
    assert not mounts["/mnt/scratch"].readonly and mounts["/mnt/host"].host_path == str(host)
    assert mounts["/mnt/host"].selinux_relabel is False and mounts["/mnt/scratch"].selinux_relabel
    await vm.teardown("uid-1")
    assert not (vm.root / "pods" / "uid-1").exists() and host.is_dir()


async def test_failures_are_failed_mount_events_and_others_still_set_up(env: Any, tmp_path: Path) -> None:
    vm, _, _, events = env
    pod = make_pod(tmp_path, {"name": "missing", "configMap": {"name": "nope"}},
                   {"name": "badkey", "secret": {"secretName": "sec", "items": [{"key": "zz", "path": "zz"}]}},
                   {"name": "optional", "configMap": {"name": "nope", "optional": True}},
                   {"name": "notdir", "hostPath": {"path": str(tmp_path), "type": "File"}},
                   {"name": "pvc", "persistentVolumeClaim": {"claimName": "data"}},
                   {"name": "ok", "emptyDir": {}})
    with pytest.raises(VolumeSetupError) as info:
        await vm.setup(pod)
    assert info.value.unmounted == ["badkey", "missing", "notdir", "pvc"]
    assert ("Warning", "FailedMount", 'MountVolume.SetUp failed for volume "missing" : configmap "nope" not found') \
        in events.seen
    assert ("Warning", "FailedMount", 'MountVolume.SetUp failed for volume "badkey" : '
            "secret references non-existent secret key: zz") in events.seen
    assert ("Warning", "FailedMount", f'MountVolume.SetUp failed for volume "notdir" : hostPath type check '
            f"failed: {tmp_path} is not a file") in events.seen
    assert all(n.startswith("..") for n in os.listdir(vol(vm, "kubernetes.io~configmap", "optional")))  # empty
    with pytest.raises(ContainerConfigError) as cfg:
        await vm.mounts(pod, pod["spec"]["containers"][0])
    assert str(cfg.value) == 'cannot find volume "missing" to mount into container "c"'
    await vm.teardown("uid-1")


async def test_refresh_propagates_configmap_edits_and_label_changes(env: Any, tmp_path: Path) -> None:
    vm, client, _, _ = env
    pod = make_pod(tmp_path, {"name": "cfg", "configMap": {"name": "cfg"}},
                   {"name": "info", "downwardAPI": {"items": [{"path": "labels",
                                                                "fieldRef": {"fieldPath": "metadata.labels"}}]}})
    await vm.setup(pod)
    root = vol(vm, "kubernetes.io~configmap", "cfg")
    before = os.readlink(root / "..data")
    cm = client.object(CONFIGMAPS, "cfg", "ns")
    assert cm is not None
    with open(root / "k") as held:
        await client.update(CONFIGMAPS, {**cm, "data": {"k": "v2"}})
        await vm.resync()
        assert held.read() == "v1"
    assert (root / "k").read_text() == "v2" and not os.path.lexists(root / "other")
    assert os.readlink(root / "..data") != before
    after = os.readlink(root / "..data")
    await vm.resync()
    assert os.readlink(root / "..data") == after  # nothing changed, nothing written
    await vm.refresh(make_pod(tmp_path, *pod["spec"]["volumes"], labels={"app": "web", "v": "2"}))
    assert (vol(vm, "kubernetes.io~downward-api", "info") / "labels").read_text() == 'app="web"\nv="2"'
    vm.update_pod(make_pod(tmp_path, *pod["spec"]["volumes"], labels={"v": "3"}))
    assert (vol(vm, "kubernetes.io~downward-api", "info") / "labels").read_text() == 'app="web"\nv="2"'
    await vm.resync()
    assert (vol(vm, "kubernetes.io~downward-api", "info") / "labels").read_text() == 'v="3"'
    await vm.teardown("uid-1")


async def test_tokens_are_refreshed_at_eighty_percent(env: Any, tmp_path: Path) -> None:
    vm, _, clock, _ = env
    pod = make_pod(tmp_path, sa_volume())
    await vm.setup(pod)
    token = vol(vm, "kubernetes.io~projected", "kube-api-access-x") / "token"
    assert token.read_text() == "token-1"
    clock.advance(3607 * 0.79)
    await vm.resync()
    assert token.read_text() == "token-1"
    clock.advance(3607 * 0.02)
    await vm.resync()
    assert token.read_text() == "token-2"
    await vm.teardown("uid-1")


async def test_mount_options(env: Any, tmp_path: Path) -> None:
    vm, _, _, _ = env
    pod = make_pod(tmp_path, {"name": "scratch", "emptyDir": {}})
    await vm.setup(pod)
    c = {"name": "c", "volumeMounts": [{"name": "scratch", "mountPath": "/a", "readOnly": True,
                                        "mountPropagation": "HostToContainer"},
                                       {"name": "scratch", "mountPath": "rel"}]}
    got = await vm.mounts(pod, c)
    assert [(m.container_path, m.readonly, m.propagation) for m in got] == [
        ("/a", True, MountPropagation.HOST_TO_CONTAINER), ("/rel", False, MountPropagation.PRIVATE)]
    for mount, message in (({"subPath": "/abs"}, "error SubPath `/abs` must not be an absolute path"),
                           ({"subPath": "a/../b"}, "unable to provision SubPath `a/../b`: must not contain '..'"),
                           ({"subPathExpr": "$(POD)"}, "missing value for POD"),
                           ({"mountPropagation": "Sideways"}, 'invalid MountPropagation mode: "Sideways"')):
        with pytest.raises(ContainerConfigError) as info:
            await vm.mounts(pod, {"name": "c", "volumeMounts": [{"name": "scratch", "mountPath": "/x", **mount}]})
        assert str(info.value) == message
    await vm.teardown("uid-1")
    assert vm.pods_on_disk() == []


async def test_token_failures(env: Any, tmp_path: Path) -> None:
    vm, client, _, events = env

    def refuse(action: Action) -> tuple[bool, Any]:
        raise api_error(errors.not_found_error("serviceaccounts", "", "default"))

    client.prepend_reactor("create", "serviceaccounts", refuse)
    with pytest.raises(VolumeSetupError):
        await vm.setup(make_pod(tmp_path, sa_volume()))
    assert events.seen[-1][2] == ('MountVolume.SetUp failed for volume "kube-api-access-x" : '
                                  'failed to fetch token: serviceaccounts "default" not found')
    await vm.teardown("uid-1")

