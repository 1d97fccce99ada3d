"""The control plane's mirror pods: posted for the supervisor's processes, recreated when deleted or
stale, restarts counted from pid changes, logs served from the component's log file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from kubelet_harness import FakePods

from pocketkube.client.rest import ApiError
from pocketkube.kubelet.clock import ManualClock
from pocketkube.kubelet.staticpods import StaticPods, read_process
from pocketkube.kubelet.streaming_backend import StreamingError, StreamOptions


class Pods(FakePods):
    """FakePods whose handlers may leave callbacks unset (as the informer's Handlers allow)."""

    def put(self, pod: dict[str, Any]) -> None:
        self.cache[f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"] = pod

    def remove(self, key: str) -> None:
        pod = self.cache.pop(key)
        for h in self.handlers:
            if h.on_delete is not None:
                h.on_delete(pod)


class FakeClient:
    def __init__(self, pods: FakePods) -> None:
        self.pods = pods
        self.deleted: list[str] = []
        self.n = 0

    async def create(self, ref: Any, body: dict[str, Any], namespace: str = "") -> dict[str, Any]:
        self.n += 1
        obj = {**body, "metadata": {**body["metadata"], "uid": f"u{self.n}"}}
        self.pods.put(obj)
        return obj

    async def delete(self, ref: Any, name: str, namespace: str = "", body: Any = None) -> dict[str, Any]:
        self.deleted.append(name)
        self.pods.remove(f"{namespace}/{name}")
        return {}


class Writer:
    def __init__(self) -> None:
        self.statuses: dict[str, dict[str, Any]] = {}

    def submit(self, key: str, uid: str, status: dict[str, Any]) -> None:
        self.statuses[key] = status


def setup(tmp_path: Path, node_uid: str = "node-1") -> tuple[StaticPods, FakeClient, FakePods, Writer]:
    run = tmp_path / "run"
    run.mkdir()
    for part in ("apiserver", "controller-manager", "scheduler"):
        (run / f"{part}.pid").write_text(str(os.getpid()))
    (tmp_path / "logs").mkdir()
    pods, writer = Pods(), Writer()
    client = FakeClient(pods)
    static = StaticPods(client, pods, writer, ManualClock(), node="dev", node_uid=lambda: node_uid,  # type: ignore[arg-type]
                        node_ip=lambda: "192.0.2.2", profile_dir=tmp_path)
    return static, client, pods, writer


def test_read_process_sees_a_running_process(tmp_path: Path) -> None:
    (tmp_path / "x.pid").write_text(str(os.getpid()))
    facts = read_process(tmp_path / "x.pid")
    assert facts is not None and facts.pid == os.getpid() and facts.command
    assert read_process(tmp_path / "missing.pid") is None


async def test_mirror_pods_are_posted_with_the_processes_status(tmp_path: Path) -> None:
    static, client, pods, writer = setup(tmp_path)
    await static.reconcile()
    assert sorted(k for k in pods.cache) == ["kube-system/kube-apiserver-dev", "kube-system/kube-controller-manager-dev",
                                             "kube-system/kube-scheduler-dev"]
    status = writer.statuses["kube-system/kube-apiserver-dev"]
    assert status["phase"] == "Running"
    assert status["containerStatuses"][0]["containerID"] == f"process://{os.getpid()}"
    await static.reconcile()
    assert client.n == 3  # current pods are kept


async def test_deleted_or_stale_mirror_pods_are_recreated(tmp_path: Path) -> None:
    static, client, pods, _ = setup(tmp_path)
    await static.reconcile()
    pods.remove("kube-system/kube-scheduler-dev")
    await static.reconcile()
    assert client.n == 4 and "kube-system/kube-scheduler-dev" in pods.cache
    static.node_uid = lambda: "node-2"  # the Node was recreated: every mirror pod is replaced
    await static.reconcile()
    assert client.n == 7 and len(client.deleted) == 3


async def test_a_new_pid_is_a_restart(tmp_path: Path) -> None:
    static, _, _, writer = setup(tmp_path)
    await static.reconcile()
    (tmp_path / "run" / "apiserver.pid").write_text(str(os.getppid()))
    await static.reconcile()
    cs = writer.statuses["kube-system/kube-apiserver-dev"]["containerStatuses"][0]
    assert cs["restartCount"] == 1 and cs["containerID"] == f"process://{os.getppid()}"


async def test_nothing_is_posted_before_the_node_is_registered(tmp_path: Path) -> None:
    static, client, _, _ = setup(tmp_path, node_uid="")
    await static.reconcile()
    assert client.n == 0


async def test_logs_come_from_the_component_log_and_exec_is_refused(tmp_path: Path) -> None:
    static, _, _, _ = setup(tmp_path)
    await static.reconcile()
    target = await static.log_path("kube-system", "kube-apiserver-dev", "kube-apiserver", False)
    assert target.path == tmp_path / "logs" / "apiserver.log" and target.plain and await target.running()
    with pytest.raises(StreamingError, match="not supported for kube-apiserver"):
        await static.exec("kube-system", "kube-apiserver-dev", "kube-apiserver", ["sh"], StreamOptions())
    with pytest.raises(StreamingError):
        await static.log_path("kube-system", "kube-apiserver-dev", "other", False)
    assert await static.pod_status("default", "kube-apiserver-dev") is None
    assert (await static.pod_status("kube-system", "kube-apiserver-dev")) is None  # the fake writer posts nothing
    assert ApiError  # the real client's errors are what _recreate tolerates
