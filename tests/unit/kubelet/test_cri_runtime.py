"""CRIRuntime (the seam on CRI) against the in-memory CRI server: pods found by labels, no state."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cri_fakeserver import FakeCRI

from pocketkube.kubelet.runtime import cri_podconfig
from pocketkube.kubelet.runtime.cri import CRIRuntime
from pocketkube.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    PodSandboxConfig,
    RuntimeFailure,
)


@pytest.fixture
async def env() -> AsyncIterator[tuple[FakeCRI, CRIRuntime, Path]]:
    folder = Path(tempfile.mkdtemp(prefix="crirt", dir="/tmp"))
    server = FakeCRI()
    endpoint = await server.start(folder / "cri.sock")
    rt = await CRIRuntime.connect(endpoint, log_root=folder / "pods", cgroup_root="/pocketkube-unit-none")
    yield server, rt, folder
    await rt.close()
    await server.stop()
    shutil.rmtree(folder)


async def test_seam_configs_get_kubelet_defaults(env: tuple[FakeCRI, CRIRuntime, Path]) -> None:
    server, rt, folder = env
    assert (rt.runtime_name, rt.runtime_version) == ("fakecri", "1.0")
    sb = await rt.run_pod_sandbox(PodSandboxConfig("u1", "web", "default", {"a": "b"}))
    assert sb.ready and sb.ip
    cfg = server.calls[-2][1].config
    assert cfg.hostname == "web" and cfg.log_directory == str(folder / "pods" / "default_web_u1")
    assert dict(cfg.labels) == {"io.kubernetes.pod.name": "web", "io.kubernetes.pod.namespace": "default",
                                "io.kubernetes.pod.uid": "u1"}
    assert cfg.linux.cgroup_parent == "/pocketkube-unit-none/podu1" and dict(cfg.annotations) == {"a": "b"}
    again = await rt.run_pod_sandbox(PodSandboxConfig("u1", "web", "default"))
    assert again.id == sb.id  # a ready sandbox is reused
    cid = await rt.create_container("u1", ContainerConfig("app", "busybox", 2, init=True))
    create = next(r for m, r in server.calls if m == "CreateContainer")
    assert create.config.log_path == "app/2.log" and create.config.metadata.attempt == 2
    assert create.config.labels["io.kubernetes.container.name"] == "app"
    assert create.config.annotations["io.pocketkube.container.init"] == "true"
    status = await rt.pod_status("u1")
    assert status.sandbox == sb and [c.id for c in status.containers] == [cid]
    c = status.containers[0]
    assert (c.name, c.attempt, c.state, c.init, c.started_at) == ("app", 2, ContainerState.CREATED, True, None)


async def test_full_specs_pass_through(env: tuple[FakeCRI, CRIRuntime, Path]) -> None:
    server, rt, folder = env
    pod: dict[str, Any] = {"metadata": {"name": "p", "namespace": "ns", "uid": "u2"},
           "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "9"],
                                    "resources": {"limits": {"memory": "32Mi"}}}]},
           "status": {"qosClass": "Burstable"}}
    await rt.run_pod_sandbox(cri_podconfig.sandbox_spec(pod, log_root=folder / "pods", cgroup_root="/kp"))
    cid = await rt.create_container("u2", cri_podconfig.container_spec(pod, pod["spec"]["containers"][0]))
    create = next(r for m, r in server.calls if m == "CreateContainer")
    assert list(create.config.command) == ["sleep", "9"]
    assert create.config.linux.resources.memory_limit_in_bytes == 32 << 20
    assert create.sandbox_config.linux.cgroup_parent == "/kp/burstable/podu2"
    await rt.start_container(cid)
    assert (await rt.pod_status("u2")).latest("c").state is ContainerState.RUNNING  # type: ignore[union-attr]


async def test_stop_container_returns_and_exit_shows_later(env: tuple[FakeCRI, CRIRuntime, Path]) -> None:
    server, rt, _ = env
    await rt.run_pod_sandbox(PodSandboxConfig("u1", "web", "default"))
    cid = await rt.create_container("u1", ContainerConfig("app", "busybox", 0))
    await rt.start_container(cid)
    await rt.stop_container(cid, 7.4)
    await rt.wait_stopped()
    stop = next(r for m, r in server.calls if m == "StopContainer")
    assert stop.timeout == 7
    rt2 = await CRIRuntime.connect(rt.client.endpoint)  # a restarted agent sees the same pod
    c = (await rt2.pod_status("u1")).latest("app")
    assert c is not None and (c.state, c.exit_code, c.reason) == (ContainerState.EXITED, 143, "Error")
    await rt2.close()


async def test_sandbox_stop_and_remove(env: tuple[FakeCRI, CRIRuntime, Path]) -> None:
    server, rt, folder = env
    await rt.run_pod_sandbox(PodSandboxConfig("u1", "web", "default"))
    cid = await rt.create_container("u1", ContainerConfig("app", "busybox", 0))
    await rt.start_container(cid)
    (folder / "pods" / "default_web_u1" / "app").mkdir(parents=True)
    server.fail_once["StopPodSandbox"] = (grpc.StatusCode.UNKNOWN, "failed to kill container: ttrpc: closed")
    await rt.stop_pod_sandbox("u1")  # retried, as the kubelet's next sync would
    assert [m for m, _ in server.calls].count("StopPodSandbox") == 2
    status = await rt.pod_status("u1")
    assert status.sandbox is not None and not status.sandbox.ready and status.sandbox.ip == ""
    assert status.containers[0].exit_code == 137
    with pytest.raises(RuntimeFailure, match="no ready sandbox"):
        await rt.create_container("u1", ContainerConfig("app", "busybox", 1))
    again = await rt.run_pod_sandbox(PodSandboxConfig("u1", "web", "default"))  # a new sandbox: attempt 1
    assert again.ready and server.sandboxes[again.id].metadata.attempt == 1
    assert (await rt.pod_status("u1")).sandbox == again
    await rt.remove_pod("u1")
    assert (await rt.pod_status("u1")).sandbox is None and server.sandboxes == {} and server.containers == {}
    assert not (folder / "pods" / "default_web_u1").exists()  # the kubelet removes the pod's logs


async def test_images_through_the_seam(env: tuple[FakeCRI, CRIRuntime, Path]) -> None:
    _, rt, _ = env
    assert await rt.image_status("busybox") is None
    pulled = await rt.pull_image("busybox")
    assert pulled.name == "docker.io/library/busybox:latest" and pulled.ref.startswith("docker.io/library/busybox@")
    assert await rt.image_status("busybox:latest") == pulled
    assert [i.name for i in await rt.list_images()] == ["docker.io/library/busybox:latest"]
    with pytest.raises(RuntimeFailure):
        await rt.pull_image("nope")
