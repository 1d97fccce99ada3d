"""The node stack around pods: images through the local registry, containerd restarts, cleanup."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from nodekit import HTTPD, Node, e2e_mark, free_port, get_when_up, http_get, pod, run_pod, wait_for

from pocketkube.cli.image_cmd import image_group
from pocketkube.kubelet.containerd import ContainerdManager, process_alive
from pocketkube.kubelet.hostcleanup import links, nat_chains, restore_host, snapshot_host
from pocketkube.kubelet.oci.archive import open_archive
from pocketkube.kubelet.oci.build import BUSYBOX_IMAGE
from pocketkube.kubelet.oci.layout import Entry, ImageConfig, build_image, write_oci_archive
from pocketkube.kubelet.oci.loader import load_archive
from pocketkube.kubelet.runtime.cri_types import NotFound, Unavailable

pytestmark = e2e_mark()


async def cli(*args: str) -> Result:
    """The `pocketkube image` command (it runs its own event loop, so in a thread)."""
    return await asyncio.to_thread(CliRunner().invoke, image_group, list(args))


def greeting_image(tmp: Path, text: str) -> Path:
    img = build_image("docker.io/library/web:v1", [[Entry("etc", "dir", 0o755), Entry("etc/greeting",
                                                                                         data=text.encode())]],
                      ImageConfig(cmd=("cat", "/etc/greeting")))
    path = tmp / f"web-{text}.tar"
    write_oci_archive(path, [img])
    return path


async def test_images_load_and_pull_through_the_mirror_offline(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    cri = node.cri
    assert await cri.image_status("busybox:latest") is None  # only in the node registry so far
    ref = await cri.pull_image("busybox:latest")  # pull policy Always: resolves through the mirror
    img = await cri.image_status("busybox")
    assert img is not None and img.id == ref and "docker.io/library/busybox:latest" in img.repo_tags
    assert img.repo_digests and img.repo_digests[0].startswith("docker.io/library/busybox@sha256:")
    assert await cri.pull_image("docker.io/library/busybox:latest") == ref  # again: one HEAD, same image
    with pytest.raises(NotFound):
        await cri.pull_image("busybox:no-such-tag")
    # `pocketkube image load` while the node runs: straight into containerd and the registry
    monkeypatch.setenv("POCKETKUBE_HOME", str(node.base.parent))
    loaded = await cli("load", "-p", node.base.name, str(greeting_image(node.base, "one")))
    assert loaded.exit_code == 0 and "Loaded image: docker.io/library/web:v1" in loaded.output, loaded.output
    first = await cri.image_status("web:v1")
    assert first is not None
    # the tag moves in the registry only: Always pulls the new image, the old one keeps its id
    with open_archive(greeting_image(node.base, "two")) as archive:
        await load_archive(archive, store=node.stack.registry.store)
    second_ref = await cri.pull_image("web:v1")
    assert second_ref != first.id and (await cri.image_status("web:v1")).id == second_ref  # type: ignore[union-attr]
    listed = await cli("ls", "-p", node.base.name)
    assert "docker.io/library/web" in listed.output and "IMAGE ID" in listed.output
    removed = await cli("rm", "-p", node.base.name, "web:v1")
    assert removed.exit_code == 0

    async def forgotten() -> bool:  # CRI learns of the deletion from containerd's events
        return await cri.image_status("web:v1") is None

    await wait_for(forgotten, 5)
    with pytest.raises(NotFound):
        await cri.pull_image("web:v1")  # gone from the registry too


async def test_containerd_restart_keeps_the_pod_running(node: Node) -> None:
    p = pod("survivor", [{"name": "httpd", "image": "busybox", "command": ["sh", "-c", HTTPD]}])
    spec, ids, ip = await run_pod(node, p)
    assert await get_when_up(f"http://{ip}:3000/") == "hello-survivor\n"
    before = await node.runtime.pod_status(spec.uid)
    manager = node.stack.containerd
    old_pid = manager.pid
    assert await manager.stop() == 0 and old_pid is not None and not process_alive(old_pid)
    assert await asyncio.to_thread(http_get, f"http://{ip}:3000/") == "hello-survivor\n"
    with pytest.raises(Unavailable):
        await node.cri.version()
    await manager.start()

    async def reconnected() -> bool:  # the client's channel retries with a backoff of at most 3 s
        try:
            await node.cri.version()
        except Unavailable:
            return False
        return True

    await wait_for(reconnected, 10)
    after = await node.runtime.pod_status(spec.uid)
    assert after == before  # same sandbox, IP, container and state
    assert (await node.cri.exec_sync(ids["httpd"], ["cat", "/var/www/index.html"], 10)).stdout == b"hello-survivor\n"
    # an agent restart finds containerd running and adopts it instead of starting a second one
    adopter = ContainerdManager(manager.layout, manager.settings)
    await adopter.start()
    assert adopter.adopted and adopter.pid == manager.pid
    assert await asyncio.to_thread(http_get, f"http://{ip}:3000/") == "hello-survivor\n"


async def test_ctr_run_rm_is_the_limit(node: Node) -> None:
    await node.stack.preload((BUSYBOX_IMAGE,))
    seconds = await node.stack.containerd.ctr_run_rm(BUSYBOX_IMAGE)
    assert 0 < seconds < 10


async def test_cleanup_leaves_nothing_behind() -> None:
    before = snapshot_host()
    other = await Node.start(pod_cidr="10.244.250.0/24", bridge="pke2e0")
    try:
        host_port = free_port()
        p = pod("cleanme", [{"name": "httpd", "image": "busybox", "command": ["sh", "-c", HTTPD],
                             "ports": [{"containerPort": 3000, "hostPort": host_port, "hostIP": "127.0.0.1"}]}])
        _, _, ip = await run_pod(other, p)
        assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.244.250.0/24")
        assert await get_when_up(f"http://127.0.0.1:{host_port}/") == "hello-cleanme\n"
        assert "pke2e0" in links()
    finally:
        left = await other.teardown()
    restore_host(before, bridges=("pke2e0",))
    assert left == []
    assert "pke2e0" not in links() and nat_chains() <= before.nat_chains
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == before.ip_forward
    assert not other.base.exists() and not os.path.exists(other.stack.containerd.layout.socket)
