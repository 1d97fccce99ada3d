"""Real pods on containerd + runc + CNI through the CRI runtime: network, HTTP, limits, OOM, stop."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import time
from pathlib import Path

from nodekit import HTTPD, Node, e2e_mark, exited, free_port, get_when_up, http_get, pod, run_pod, wait_for

from pocketkube.kubelet.runtime.cri_types import CRIContainerState, DNSConfig, Mount
from pocketkube.kubelet.runtime.interface import ContainerState

pytestmark = e2e_mark()
POD_NET = ipaddress.ip_network("10.244.0.0/24")


async def test_pod_runs_serves_http_and_logs(node: Node) -> None:
    host_port = free_port()
    data = node.base / "hostdata"
    data.mkdir()
    (data / "x").write_text("from-host\n")
    p = pod("web", [{"name": "httpd", "image": "busybox:latest", "command": ["sh", "-c", HTTPD],
                     "workingDir": "/tmp", "env": [{"name": "FOO", "value": "bar"}],
                     "ports": [{"containerPort": 3000, "hostPort": host_port, "hostIP": "127.0.0.1"}]}])
    dns = DNSConfig(servers=("10.96.0.10",), searches=("default.svc.cluster.local",), options=("ndots:5",))
    spec, ids, ip = await run_pod(node, p, dns, (Mount("/data", str(data), readonly=True),))
    assert ipaddress.ip_address(ip) in POD_NET
    assert await get_when_up(f"http://{ip}:3000/") == "hello-web\n"
    assert await asyncio.to_thread(http_get, f"http://127.0.0.1:{host_port}/") == "hello-web\n"
    cid = ids["httpd"]
    r = await node.cri.exec_sync(cid, ["sh", "-c", "echo $FOO; pwd; cat /data/x; ps -o pid,comm; "
                                       "cat /etc/resolv.conf; touch /data/y"], timeout=10)
    out = r.stdout.decode()
    assert out.startswith("bar\n/tmp\nfrom-host\n") and r.exit_code != 0  # /data is read-only
    assert re.search(r"^\s*1\s+httpd$", out, re.M)  # pid=CONTAINER: httpd, not pause, is PID 1
    assert "nameserver 10.96.0.10" in out and "search default.svc.cluster.local" in out
    status = await node.cri.container_status(cid)
    log = Path(spec.log_directory) / "httpd" / "0.log"
    assert status.state is CRIContainerState.RUNNING and status.log_path == str(log)
    assert log.parent.parent == node.stack.paths.pod_logs / f"default_web_{spec.uid}"

    async def logged() -> bool:
        return log.exists() and "response:200" in log.read_text()

    await wait_for(logged)
    assert re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z stderr F ", log.read_text().splitlines()[0])
    for url in (await node.cri.exec_url(cid, ["sh"], stdin=True, tty=True), await node.cri.attach_url(cid),
                await node.cri.port_forward_url((await node.runtime._sandboxes(spec.uid))[-1].id, [3000])):
        assert re.match(r"^http://127\.0\.0\.1:\d+/(exec|attach|portforward)/\S+$", url)
    seam = await node.runtime.pod_status(spec.uid)
    assert seam.sandbox is not None and seam.sandbox.ip == ip
    assert seam.latest("httpd").state is ContainerState.RUNNING  # type: ignore[union-attr]


def cgroup_value(controller: str, parent: str, cid: str, name: str) -> int:
    return int((Path("/sys/fs/cgroup") / controller / parent.strip("/") / cid / name).read_text().split()[0])


async def test_limits_reach_the_cgroups(node: Node) -> None:
    p = pod("limited", [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                         "resources": {"requests": {"cpu": "250m", "memory": "32Mi"},
                                       "limits": {"cpu": "500m", "memory": "64Mi"}}}], qos="Burstable")
    spec, ids, _ = await run_pod(node, p)
    cid = ids["c"]
    assert spec.cgroup_parent.endswith(f"/burstable/pod{spec.uid}")
    assert cgroup_value("cpu", spec.cgroup_parent, cid, "cpu.cfs_quota_us") == 50000
    assert cgroup_value("cpu", spec.cgroup_parent, cid, "cpu.cfs_period_us") == 100000
    assert cgroup_value("cpu", spec.cgroup_parent, cid, "cpu.shares") == 256
    assert cgroup_value("memory", spec.cgroup_parent, cid, "memory.limit_in_bytes") == 64 << 20
    info = json.loads((await node.cri.container_status(cid, verbose=True)).info["info"])
    assert info["runtimeSpec"]["linux"]["cgroupsPath"] == f"{spec.cgroup_parent}/{cid}"
    stats = await node.cri.container_stats(cid)
    assert stats.available_bytes is not None and stats.working_set_bytes is not None
    assert stats.available_bytes + stats.working_set_bytes == 64 << 20


async def test_memory_hog_is_oomkilled(node: Node) -> None:
    p = pod("hog", [{"name": "hog", "image": "busybox", "command": ["dd", "if=/dev/zero", "of=/dev/null",
                                                                   "bs=200M", "count=1"],
                     "resources": {"limits": {"memory": "32Mi"}}}])
    spec, ids, _ = await run_pod(node, p)
    status = await exited(node, ids["hog"])
    assert (status.exit_code, status.reason) == (137, "OOMKilled")
    seam = (await node.runtime.pod_status(spec.uid)).latest("hog")
    assert seam is not None and (seam.state, seam.exit_code, seam.reason) == (ContainerState.EXITED, 137, "OOMKilled")


async def test_exit_codes_and_stop_with_grace_period(node: Node) -> None:
    p = pod("stops", [
        {"name": "graceful", "image": "busybox", "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]},
        {"name": "stubborn", "image": "busybox", "command": ["sh", "-c", "trap '' TERM; sleep 3600 & wait"]},
        {"name": "fails", "image": "busybox", "command": ["sh", "-c", "exit 3"]}])
    _, ids, _ = await run_pod(node, p)
    assert ((await exited(node, ids["fails"])).exit_code, (await exited(node, ids["fails"])).reason) == (3, "Error")
    begin = time.monotonic()
    await node.cri.stop_container(ids["graceful"], 10)
    graceful = await node.cri.container_status(ids["graceful"])
    assert (graceful.exit_code, graceful.reason) == (0, "Completed") and time.monotonic() - begin < 5
    begin = time.monotonic()
    await node.cri.stop_container(ids["stubborn"], 1)
    stubborn = await node.cri.container_status(ids["stubborn"])
    assert (stubborn.exit_code, stubborn.reason) == (137, "Error") and 0.9 < time.monotonic() - begin < 5
