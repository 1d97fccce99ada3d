"""Support for tests on a real node stack (containerd, runc, CNI): start it, tear it down, find leaks.

A `Node` is the node agent's runtime stack (kubelet/noderuntime.py) in a short temp folder
(/tmp/pke2e-*, so unix socket paths stay under 108 bytes) with its own cgroup root. `teardown()`
removes every pod (containers stopped, sandboxes stopped and removed, pod cgroups and logs
removed), stops containerd by PID and the registry, removes the cgroup root, and `leaks()` then
lists anything of this node still on the host: processes naming its folder (containerd, shims),
mounts under it, network namespaces, cgroup directories. Host-wide leftovers of CNI (the cni0
bridge, the CNI-* nat chains, ip_forward) are undone by `restore_host` from a snapshot taken
before the first node started (the session fixture in conftest.py).

Pod helpers: `pod()` builds a pod object, `run_pod()` runs it the way the kubelet would
(cri_podconfig specs, image pulled through the local registry), `wait_for`/`exited`/
`get_when_up` poll for a condition, a container exit or a listening server.

Images come from the builtin image cache (~/.cache/pocketkube/images, as scripts/build-images.py
and the node agent use it); the registry and containerd copies live in the node's folder.

Prerequisites: root and the Debian packages containerd, runc, containernetworking-plugins and
busybox-static. Missing ones FAIL the tests unless POCKETKUBE_SKIP_E2E=1 (then they skip).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import time
import urllib.request
import uuid
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from pocketkube.kubelet.containerd_config import ContainerdSettings
from pocketkube.kubelet.hostcleanup import CGROUP_ROOT
from pocketkube.kubelet.noderuntime import NodeRuntime, NodeRuntimeConfig
from pocketkube.kubelet.runtime import cri_podconfig as pc
from pocketkube.kubelet.runtime.cri import CRIRuntime
from pocketkube.kubelet.runtime.cri_client import CRIClient
from pocketkube.kubelet.runtime.cri_types import (
    LABEL_POD_UID,
    CRIContainerState,
    CRIContainerStatus,
    DNSConfig,
    Mount,
    NotFound,
    PodSandboxSpec,
)

SKIP_ENV = "POCKETKUBE_SKIP_E2E"
REQUIRED = ("/usr/bin/containerd", "/usr/bin/ctr", "/usr/sbin/runc", "/usr/lib/cni/bridge",
            "/usr/lib/cni/host-local", "/usr/lib/cni/portmap", "/usr/lib/cni/loopback", "/bin/busybox")


def e2e_mark() -> pytest.MarkDecorator:
    """pytest.mark.e2e, without the unknown-mark warning where the marker is not registered yet."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        return pytest.mark.e2e


def missing_prerequisites() -> list[str]:
    missing = [] if os.geteuid() == 0 else ["root"]
    return missing + [p for p in REQUIRED if not os.path.exists(p)]


def require_e2e() -> None:
    missing = missing_prerequisites()
    if not missing:
        return
    message = f"e2e prerequisites missing: {', '.join(missing)} (scripts/setup.sh installs them)"
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(message)
    pytest.fail(message + f"; set {SKIP_ENV}=1 to skip")


class Node:
    def __init__(self, base: Path, stack: NodeRuntime) -> None:
        self.base, self.stack = base, stack

    @classmethod
    async def start(cls, pod_cidr: str = "10.244.0.0/24", bridge: str = "cni0") -> Node:
        base = Path(tempfile.mkdtemp(prefix="pke2e-", dir="/tmp"))
        config = NodeRuntimeConfig(
            profile_dir=base, pod_cidr=pod_cidr, cgroup_root=f"/pocketkube-e2e-{uuid.uuid4().hex[:8]}/kubepods",
            upstream_fallback=False,
            settings=ContainerdSettings(bridge=bridge, network_name=f"pke2e-{bridge}"))
        stack = NodeRuntime(config)
        try:
            await stack.start()
        except BaseException:
            await stack.stop()
            shutil.rmtree(base, ignore_errors=True)
            raise
        return cls(base, stack)

    @property
    def runtime(self) -> CRIRuntime:
        assert self.stack.runtime is not None
        return self.stack.runtime

    @property
    def cri(self) -> CRIClient:
        return self.runtime.client

    async def remove_all_pods(self) -> None:
        cri = self.cri
        for c in await cri.list_containers():
            try:
                await cri.stop_container(c.id, 0)
            except NotFound:
                continue
        uids = {s.labels.get(LABEL_POD_UID, "") for s in await cri.list_pod_sandboxes()}
        for uid in uids:
            await self.runtime.remove_pod(uid)
        for s in await cri.list_pod_sandboxes():  # sandboxes without our labels, if any
            await cri.stop_pod_sandbox(s.id)
            await cri.remove_pod_sandbox(s.id)

    async def teardown(self) -> list[str]:
        """Remove everything this node made; returns what is still left (should be [])."""
        try:
            if self.stack.runtime is not None:
                await self.remove_all_pods()
        finally:
            await self.stack.stop()
            self.stack.delete_host_state()
        found = leaks(self.base, self.stack.cgroup_root)
        shutil.rmtree(self.base, ignore_errors=True)
        return found


def leaks(base: Path, cgroup_root: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if str(base) in cmdline and state != "Z":
            found.append(f"process {proc.name}: {cmdline.strip()}")
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        if str(base) in line:
            found.append(f"mount {line.split()[4]}")
    netns = base / "containerd" / "state" / "io.containerd.grpc.v1.cri" / "netns"
    if netns.is_dir():
        found += [f"netns {p}" for p in netns.iterdir()]
    top = cgroup_root.strip("/").split("/")[0]
    found += [f"cgroup {p}" for p in CGROUP_ROOT.glob(f"*/{top}")]
    return found


# ---------------------------------------------------------------- pods
HTTPD = "mkdir -p /var/www && echo hello-$(hostname) > /var/www/index.html && exec httpd -f -v -p 3000 -h /var/www"


def pod(name: str, containers: list[dict[str, Any]], qos: str = "BestEffort", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4()), "labels": {"app": name}},
            "spec": {"containers": containers, "terminationGracePeriodSeconds": 5, **spec},
            "status": {"qosClass": qos}}


async def run_pod(node: Node, p: dict[str, Any], dns: DNSConfig | None = None,
                  mounts: tuple[Mount, ...] = ()) -> tuple[PodSandboxSpec, dict[str, str], str]:
    rt = node.runtime
    spec = pc.sandbox_spec(p, log_root=rt.log_root, cgroup_root=rt.cgroup_root, dns=dns)
    sandbox = await rt.run_pod_sandbox(spec)
    ids = {}
    for c in p["spec"]["containers"]:
        await node.cri.pull_image(c["image"])
        ids[c["name"]] = await rt.create_container(spec.uid, pc.container_spec(p, c, mounts=mounts))
        await rt.start_container(ids[c["name"]])
    return spec, ids, sandbox.ip


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def exited(node: Node, cid: str, timeout: float = 20.0) -> CRIContainerStatus:
    async def done() -> bool:
        return (await node.cri.container_status(cid)).state is CRIContainerState.EXITED

    await wait_for(done, timeout)
    return await node.cri.container_status(cid)


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return str(r.read().decode())


async def get_when_up(url: str, timeout: float = 20.0) -> str:
    """GET `url` once the server in the container listens (StartContainer returns before that)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await asyncio.to_thread(http_get, url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
