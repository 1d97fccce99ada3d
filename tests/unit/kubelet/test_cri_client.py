"""The CRI client against an in-memory CRI server: typed results, errors, requests on the wire."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cri_fakeserver import FakeCRI

from pocketkube.kubelet.runtime.cri_client import CRIClient
from pocketkube.kubelet.runtime.cri_pb import cri_pb2 as pb
from pocketkube.kubelet.runtime.cri_types import (
    AuthConfig,
    ContainerSpec,
    CRIContainerState,
    CRIError,
    DNSConfig,
    LinuxResources,
    NotFound,
    PodSandboxSpec,
    PortMapping,
    Unavailable,
)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeCRI, CRIClient]]:
    folder = Path(tempfile.mkdtemp(prefix="cri", dir="/tmp"))
    server = FakeCRI()
    endpoint = await server.start(folder / "cri.sock")
    client = CRIClient(endpoint, timeout=5)
    yield server, client
    await client.close()
    await server.stop()
    shutil.rmtree(folder)


SANDBOX = PodSandboxSpec(name="web", namespace="default", uid="u1", hostname="web", log_directory="/logs/x",
                         dns=DNSConfig(servers=("10.96.0.10",), searches=("default.svc.cluster.local",)),
                         port_mappings=(PortMapping(3000, 18080, "TCP", "127.0.0.1"),),
                         labels={"io.kubernetes.pod.uid": "u1"}, cgroup_parent="/kubepods/podu1")


async def test_version_and_status(fake: tuple[FakeCRI, CRIClient]) -> None:
    _, cri = fake
    v = await cri.version()
    assert (v.runtime_name, v.runtime_api_version) == ("fakecri", "v1")
    st = await cri.status(verbose=True)
    assert st.ready("RuntimeReady") and not st.ready("NetworkReady")
    assert st.conditions[1].reason == "NetworkPluginNotReady" and st.info == {"v": "1"}


async def test_sandbox_lifecycle_and_request_fields(fake: tuple[FakeCRI, CRIClient]) -> None:
    server, cri = fake
    sid = await cri.run_pod_sandbox(SANDBOX)
    req = server.calls[-1][1]
    assert req.config.linux.security_context.namespace_options.pid == pb.CONTAINER
    assert req.config.dns_config.servers == ["10.96.0.10"]
    assert req.config.port_mappings[0].host_port == 18080 and req.config.linux.cgroup_parent == "/kubepods/podu1"
    assert not req.config.linux.security_context.HasField("run_as_user")
    status = await cri.pod_sandbox_status(sid)
    assert status.ready and status.ip.startswith("10.244.0.") and status.uid == "u1" and status.created_at > 1e9
    assert [s.id for s in await cri.list_pod_sandboxes(labels={"io.kubernetes.pod.uid": "u1"})] == [sid]
    assert await cri.list_pod_sandboxes(labels={"io.kubernetes.pod.uid": "other"}) == []
    await cri.stop_pod_sandbox(sid)
    assert [s.id for s in await cri.list_pod_sandboxes(ready=False)] == [sid]
    assert await cri.list_pod_sandboxes(ready=True) == []
    await cri.remove_pod_sandbox(sid)
    await cri.remove_pod_sandbox(sid)  # idempotent, as containerd's


async def test_errors_name_the_method_and_code(fake: tuple[FakeCRI, CRIClient]) -> None:
    server, cri = fake
    with pytest.raises(NotFound) as info:
        await cri.container_status("nope")
    assert info.value.code == "NOT_FOUND" and info.value.method == "ContainerStatus"
    assert "ContainerStatus: NOT_FOUND:" in str(info.value)
    server.fail["RunPodSandbox"] = (grpc.StatusCode.UNKNOWN, "runc create failed")
    with pytest.raises(CRIError) as unknown:
        await cri.run_pod_sandbox(SANDBOX)
    assert unknown.value.code == "UNKNOWN" and "runc create failed" in str(unknown.value)
    del server.fail["RunPodSandbox"]
    with pytest.raises(CRIError, match="executable file not found"):
        await cri.exec_sync(await _running(cri), ["missing"])


async def test_unreachable_runtime_is_unavailable() -> None:
    cri = CRIClient("unix:///tmp/pocketkube-no-such-cri.sock", timeout=1)
    try:
        with pytest.raises(Unavailable) as info:
            await cri.version()
        assert info.value.code == "UNAVAILABLE"
    finally:
        await cri.close()


async def _running(cri: CRIClient) -> str:
    sid = await cri.run_pod_sandbox(SANDBOX)
    spec = ContainerSpec(name="app", image="busybox", command=("sh",), args=("-c", "sleep 1"),
                         working_dir="/tmp", envs=(("A", "1"), ("B", "é")), log_path="app/0.log",
                         resources=LinuxResources(cpu_period=100000, cpu_quota=50000, cpu_shares=512,
                                                  memory_limit_in_bytes=64 << 20))
    cid = await cri.create_container(sid, spec, SANDBOX)
    await cri.start_container(cid)
    return cid


async def test_container_lifecycle(fake: tuple[FakeCRI, CRIClient]) -> None:
    server, cri = fake
    cid = await _running(cri)
    create = next(r for m, r in server.calls if m == "CreateContainer")
    assert [(e.key, e.value) for e in create.config.envs] == [("A", b"1"), ("B", "é".encode())]
    assert create.config.linux.security_context.namespace_options.pid == pb.CONTAINER
    assert create.sandbox_config.log_directory == "/logs/x"
    status = await cri.container_status(cid)
    assert status.state is CRIContainerState.RUNNING and status.started_at is not None
    assert status.finished_at is None and status.log_path == "/logs/x/app/0.log"
    assert status.resources is not None and status.resources.cpu_quota == 50000
    listed = await cri.list_containers(state=CRIContainerState.RUNNING)
    assert [c.id for c in listed] == [cid] and listed[0].name == "app"
    await cri.stop_container(cid, 10)
    assert next(r for m, r in server.calls if m == "StopContainer").timeout == 10
    done = await cri.container_status(cid)
    assert (done.state, done.exit_code, done.reason) == (CRIContainerState.EXITED, 143, "Error")
    assert await cri.list_containers(state=CRIContainerState.RUNNING) == []
    await cri.remove_container(cid)
    assert await cri.list_containers() == []


async def test_exec_attach_portforward_and_stats(fake: tuple[FakeCRI, CRIClient]) -> None:
    server, cri = fake
    cid = await _running(cri)
    r = await cri.exec_sync(cid, ["echo", "hi"], timeout=5)
    assert (r.stdout, r.stderr, r.exit_code) == (b"echo hi", b"err", 3)
    assert (await cri.exec_url(cid, ["sh"], tty=True, stdin=True)).endswith("/exec/tok1")
    exec_req = next(r for m, r in server.calls if m == "Exec")
    assert exec_req.tty and exec_req.stdin and exec_req.stdout and not exec_req.stderr  # tty merges stderr
    assert (await cri.attach_url(cid, stdin=True)).endswith("/attach/tok2")
    sid = server.container_sandbox[cid]
    assert (await cri.port_forward_url(sid, [3000, 8080])).endswith("/portforward/tok3")
    assert list(server.calls[-1][1].port) == [3000, 8080]
    stats = await cri.container_stats(cid)
    assert stats.id == cid and stats.usage_core_nano_seconds == 5 and stats.usage_nano_cores is None
    assert stats.working_set_bytes == 4096 and stats.available_bytes is None and stats.writable_layer is None


async def test_images(fake: tuple[FakeCRI, CRIClient]) -> None:
    server, cri = fake
    assert await cri.image_status("busybox") is None  # missing: OK with no image, not NOT_FOUND
    ref = await cri.pull_image("busybox", auth=AuthConfig(username="u", password="p", server_address="r.io"))
    pull = next(r for m, r in server.calls if m == "PullImage")
    assert (pull.auth.username, pull.auth.password, pull.auth.server_address) == ("u", "p", "r.io")
    assert ref.startswith("sha256:")
    img = await cri.image_status("busybox:latest")
    assert img is not None and img.id == ref and img.repo_tags == ("docker.io/library/busybox:latest",)
    assert img.uid is None and img.size == 1000
    assert [i.id for i in await cri.list_images()] == [ref]
    with pytest.raises(NotFound):
        await cri.pull_image("nope:1")
    await cri.remove_image("busybox")
    assert await cri.image_status("busybox") is None
