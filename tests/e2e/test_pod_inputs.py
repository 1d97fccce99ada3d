"""Pod inputs on a real node: volumes on disk and tmpfs seen from a container, env, and real probes.

The node runs its own bridge and pod CIDR (not cni0), so another node stack on this host cannot
collide with it; the bridge is deleted afterwards. API objects come from the fake client.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nodekit import HTTPD, Node, e2e_mark, get_when_up, pod, require_e2e, wait_for

from pocketkube.client.fake import FakeClient
from pocketkube.kubelet.clock import RealClock
from pocketkube.kubelet.hostcleanup import restore_host, snapshot_host
from pocketkube.kubelet.podinputs.env import resolve_env
from pocketkube.kubelet.podinputs.errors import ContainerConfigError
from pocketkube.kubelet.podinputs.expansion import expand_command_and_args
from pocketkube.kubelet.podinputs.probes.manager import ProbeManager, ProbeUpdate
from pocketkube.kubelet.podinputs.probes.prober import Prober
from pocketkube.kubelet.podinputs.probes.spec import Outcome, ProbeKind, Result, Verdict
from pocketkube.kubelet.podinputs.volumes import mounts as mountlib
from pocketkube.kubelet.podinputs.volumes.manager import CONFIGMAPS, SECRETS, VolumeManager
from pocketkube.kubelet.runtime import cri_podconfig as pc
from pocketkube.kubelet.runtime import cri_types

pytestmark = e2e_mark()
Obj = dict[str, Any]
BRIDGE = "pkinputs0"


@pytest.fixture
async def inode() -> AsyncIterator[Node]:
    require_e2e()
    before = snapshot_host()
    n = await Node.start(pod_cidr="10.244.213.0/24", bridge=BRIDGE)
    try:
        yield n
    finally:
        left = await n.teardown()
        restore_host(before, bridges=(BRIDGE,))
        assert left == [], f"the node left these behind: {left}"


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, pod: Obj, type_: str, reason: str, message: str, field_path: str = "") -> None:
        self.seen.append((type_, reason, message))


async def start(node: Node, p: Obj, container: Obj, envs: list[tuple[str, str]],
                mounts: list[cri_types.Mount]) -> tuple[str, str]:
    """Run the pod's sandbox and `container` the way the pod workers will; (container id, pod IP)."""
    rt = node.runtime
    spec = pc.sandbox_spec(p, log_root=rt.log_root, cgroup_root=rt.cgroup_root)
    sandbox = await rt.run_pod_sandbox(spec)
    command, args = expand_command_and_args(container, envs)
    await node.cri.pull_image(container["image"])
    cid = await rt.create_container(spec.uid, pc.container_spec(p, {**container, "command": command, "args": args},
                                                               envs=tuple(envs), mounts=tuple(mounts)))
    await rt.start_container(cid)
    return cid, sandbox.ip


async def sh(node: Node, cid: str, script: str) -> tuple[int, str]:
    r = await node.cri.exec_sync(cid, ["sh", "-c", script], timeout=10)
    return r.exit_code, (r.stdout + r.stderr).decode()


def fake_api() -> FakeClient:
    client = FakeClient()
    client.add(CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": "default"}, "data": {"k": "v1", "greeting": "hi"}})
    client.add(SECRETS, {"metadata": {"name": "sec", "namespace": "default"},
                         "data": {"pw": base64.b64encode(b"hunter2").decode()}})
    return client


async def test_volumes_and_env_in_a_container(inode: Node) -> None:
    client, events = fake_api(), Events()
    vm = VolumeManager(inode.base / "kubelet", client, RealClock(), events=events,
                       allocatable=lambda: {"cpu": "2", "memory": "1Gi"})
    c = {"name": "app", "image": "busybox", "command": ["sh", "-c", "echo $(GREETING)-$(POD_NAME) > /tmp/msg; "
                                                        "exec sleep 3600"],
         "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                 {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}},
                 {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}}],
         "volumeMounts": [{"name": "mem", "mountPath": "/mem"}, {"name": "cfg", "mountPath": "/cfg"},
                          {"name": "sec", "mountPath": "/sec"}, {"name": "info", "mountPath": "/info"},
                          {"name": "cfg", "mountPath": "/sub/k", "subPath": "k"},
                          {"name": "scratch", "mountPath": "/work", "subPathExpr": "$(POD_NAME)"}]}
    p = pod("inputs", [c], volumes=[
        {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
        {"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "sec", "secret": {"secretName": "sec"}},
        {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "scratch", "emptyDir": {}}])
    uid = p["metadata"]["uid"]
    try:
        await vm.setup(p)
        mem = vm.root / "pods" / uid / "volumes" / "kubernetes.io~empty-dir" / "mem"
        assert mountlib.fs_type(mem) == "tmpfs" and any(
            "size=16384k" in line for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if f" {mem} " in line)
        assert mountlib.fs_type(vm.root / "pods" / uid / "volumes" / "kubernetes.io~secret" / "sec") == "tmpfs"
        envs = await resolve_env(p, c, node_allocatable=vm.allocatable(), get_configmap=vm.get_configmap,
                                 get_secret=vm.get_secret, pod_ips=("10.244.213.9",))
        cid, _ = await start(inode, p, c, envs, await vm.mounts(p, c, envs))
        code, out = await sh(inode, cid, "cat /cfg/k /sec/pw /info/labels /sub/k; echo; cat /tmp/msg; "
                                         "echo $MEM; df -k /mem | tail -1; touch /work/made && echo ok")
        assert code == 0, out
        assert out.startswith('v1hunter2app="inputs"v1\nhi-inputs\n1024\n') and " 16384 " in out and "ok" in out
        assert (vm.root / "pods" / uid / "volumes" / "kubernetes.io~empty-dir" / "scratch" / "inputs" / "made").exists()
        assert (await sh(inode, cid, "touch /cfg/x"))[0] != 0  # configMap volumes are read-only

        cm = client.object(CONFIGMAPS, "cfg", "default")
        assert cm is not None
        await client.update(CONFIGMAPS, {**cm, "data": {"k": "v2", "greeting": "hi"}})
        await vm.resync()
        assert (await sh(inode, cid, "cat /cfg/k; echo; cat /sub/k; echo; ls -a /cfg | grep -c '^\\.\\.[0-9d]'"))[1] \
            == "v2\nv1\n2\n"  # the ..data swap is seen; a subPath keeps the old file, as upstream
        assert events.seen == []
    finally:
        await inode.runtime.remove_pod(uid)
        await vm.teardown(uid)
    assert mountlib.mount_points(vm.root) == [] and not (vm.root / "pods" / uid).exists()


async def test_probes_against_busybox_httpd(inode: Node) -> None:
    events = Events()
    prober = Prober(inode.cri.exec_sync, events)
    c: Obj = {"name": "web", "image": "busybox", "command": ["sh", "-c", HTTPD], "ports": [{"name": "http",
                                                                                     "containerPort": 3000}],
         "startupProbe": {"tcpSocket": {"port": 3000}, "periodSeconds": 1},
         "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
         "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1, "failureThreshold": 2}}
    p = pod("probed", [c])
    uid = p["metadata"]["uid"]
    cid, ip = await start(inode, p, c, [], [])
    updates: list[ProbeUpdate] = []
    manager = ProbeManager(prober, RealClock(), updates.append)
    task = asyncio.get_running_loop().create_task(manager.run())
    try:
        await get_when_up(f"http://{ip}:3000/")
        manager.add(p, "web", cid, time.time(), pod_ip=ip)

        async def settled() -> bool:
            return manager.ready(uid, "web") is True and manager.result(uid, "web", ProbeKind.LIVENESS) is Result.FAILURE

        await wait_for(settled, 15)
        assert manager.started(uid, "web")
        assert ("Warning", "Unhealthy", "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or "
                "directory\n") in events.seen
        run = prober.run_once
        assert await run({"tcpSocket": {"port": 3999}}, p, c, cid, ip) == Outcome(
            Verdict.FAILURE, f"dial tcp {ip}:3999: connect: connection refused")
        assert await run({"httpGet": {"path": "/", "port": 3999}}, p, c, cid, ip) == Outcome(
            Verdict.FAILURE, f'Get "http://{ip}:3999/": dial tcp {ip}:3999: connect: connection refused')
        assert await run({"httpGet": {"path": "/missing", "port": 3000}}, p, c, cid, ip) == Outcome(
            Verdict.FAILURE, "HTTP probe failed with statuscode: 404")
        assert await run({"exec": {"command": ["sh", "-c", "echo out; echo err >&2; exit 3"]}}, p, c, cid, ip) == \
            Outcome(Verdict.FAILURE, "out\nerr\n")
        assert await run({"exec": {"command": ["sleep", "5"]}, "timeoutSeconds": 1}, p, c, cid, ip) == \
            Outcome(Verdict.FAILURE, 'command "sleep 5" timed out')
        missing = await run({"exec": {"command": ["nope"]}}, p, c, cid, ip)
        assert missing.error is not None and missing.error.startswith("rpc error: code = Unknown desc = ")
        assert (await sh(inode, cid, "touch /tmp/healthy"))[0] == 0
        assert await run(c["livenessProbe"], p, c, cid, ip) == Outcome(Verdict.SUCCESS, "")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await inode.runtime.remove_pod(uid)
    assert not manager._inflight
    assert os.path.exists("/proc/self")


async def test_subpath_symlink_escape_is_refused(tmp_path: Path) -> None:
    require_e2e()
    vm = VolumeManager(tmp_path / "kubelet", fake_api(), RealClock())
    c = {"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/x", "subPath": "escape/passwd"}]}
    p = pod("escape", [c], volumes=[{"name": "data", "emptyDir": {}}])
    uid = p["metadata"]["uid"]
    try:
        await vm.setup(p)
        data = vm.root / "pods" / uid / "volumes" / "kubernetes.io~empty-dir" / "data"
        (data / "escape").symlink_to("/etc")  # what another container sharing the volume could do
        with pytest.raises(ContainerConfigError) as info:
            await vm.mounts(p, c)
        assert str(info.value) == 'failed to prepare subPath for volumeMount "data" of container "c"'
        (data / "inside").mkdir()
        (data / "link").symlink_to("inside")  # a symlink that stays inside the volume is fine
        ok = await vm.mounts(p, {"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/y",
                                                                 "subPath": "link"}]})
        assert mountlib.fs_type(ok[0].host_path) is not None and os.path.isdir(ok[0].host_path)
        assert ok[0].host_path.endswith(f"/pods/{uid}/volume-subpaths/data/c/0")
    finally:
        await vm.teardown(uid)
    assert mountlib.mount_points(vm.root) == [] and Path("/etc/passwd").exists()
