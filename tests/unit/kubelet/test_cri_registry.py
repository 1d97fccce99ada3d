"""The node's local registry (distribution API pull side), containerd's generated files, `image` CLI."""

from __future__ import annotations

import json
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from pocketkube.cli.image_cmd import image_group
from pocketkube.kubelet.containerd import write_mirror_hosts
from pocketkube.kubelet.containerd_config import (
    ContainerdLayout,
    ContainerdSettings,
    NodePaths,
    hosts_toml,
    render_cni_conflist,
    render_config,
)
from pocketkube.kubelet.oci.archive import open_archive
from pocketkube.kubelet.oci.layout import Entry, ImageConfig, build_image, write_oci_archive
from pocketkube.kubelet.oci.loader import load_archive
from pocketkube.kubelet.oci.registry import LocalRegistry


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[tuple[LocalRegistry, str]]:
    img = build_image("docker.io/library/tiny:v1", [[Entry("f", data=b"x")]], ImageConfig(cmd=("sh",)))
    write_oci_archive(tmp_path / "a.tar", [img])
    reg = LocalRegistry(tmp_path / "store")
    with open_archive(tmp_path / "a.tar") as archive:
        await load_archive(archive, store=reg.store)
    url = await reg.start()
    yield reg, img.manifest_digest
    await reg.stop()
    assert url.startswith("http://127.0.0.1:")


async def test_pull_protocol(registry: tuple[LocalRegistry, str]) -> None:
    reg, digest = registry
    async with aiohttp.ClientSession(reg.url) as http:
        async with http.get("/v2/") as r:
            assert r.status == 200 and r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        async with http.head("/v2/library/tiny/manifests/v1?ns=docker.io") as r:
            assert r.status == 200 and r.headers["Docker-Content-Digest"] == digest
            assert r.headers["Content-Type"] == "application/vnd.oci.image.manifest.v1+json"
        async with http.get(f"/v2/library/tiny/manifests/{digest}?ns=docker.io") as r:
            manifest = await r.json(content_type=None)
        for blob in [manifest["config"], *manifest["layers"]]:
            async with http.get(f"/v2/library/tiny/blobs/{blob['digest']}?ns=docker.io") as r:
                assert r.status == 200 and len(await r.read()) == blob["size"]
        async with http.get("/v2/library/tiny/manifests/v1") as r:  # direct pull: Host, then docker.io
            assert r.status == 200
        async with http.get("/v2/library/tiny/tags/list") as r:
            assert await r.json() == {"name": "library/tiny", "tags": ["v1"]}
        async with http.get("/v2/_catalog") as r:
            assert await r.json() == {"repositories": ["docker.io/library/tiny"]}


async def test_registry_errors(registry: tuple[LocalRegistry, str]) -> None:
    reg, _ = registry
    async with aiohttp.ClientSession(reg.url) as http:
        async with http.get("/v2/library/tiny/manifests/v2?ns=docker.io") as r:
            assert r.status == 404 and (await r.json())["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        async with http.get("/v2/library/tiny/manifests/v1?ns=quay.io") as r:
            assert r.status == 404  # another registry's namespace
        async with http.get("/v2/library/tiny/blobs/sha256:" + "0" * 64) as r:
            assert r.status == 404 and (await r.json())["errors"][0]["code"] == "BLOB_UNKNOWN"
        async with http.get("/v2/library/tiny/blobs/sha256:nothex") as r:
            assert r.status == 400
        async with http.post("/v2/library/tiny/blobs/uploads/") as r:
            assert r.status == 405 and (await r.json())["errors"][0]["code"] == "UNSUPPORTED"


def test_containerd_config_has_the_settings_that_matter(tmp_path: Path) -> None:
    layout = ContainerdLayout(tmp_path / "c")
    cfg = tomllib.loads(render_config(layout, ContainerdSettings()))
    cri = cfg["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True and cri["stream_server_address"] == "127.0.0.1"
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10" and cri["netns_mounts_under_state_dir"] is True
    runc = cri["containerd"]["runtimes"]["runc"]["options"]
    assert runc == {"BinaryName": "/usr/sbin/runc", "SystemdCgroup": False, "Root": str(layout.runc_root)}
    assert cri["cni"]["conf_dir"] == str(layout.cni_conf_dir) and cri["registry"]["config_path"] == str(
        layout.certs_dir)
    assert cfg["grpc"]["address"] == str(layout.socket) and cfg["required_plugins"] == ["io.containerd.grpc.v1.cri"]
    assert cfg["plugins"]["io.containerd.internal.v1.opt"]["path"] == str(layout.opt)
    assert cfg["timeouts"]["io.containerd.timeout.bolt.open"] == "3s"
    net = json.loads(render_cni_conflist(layout, ContainerdSettings(pod_cidr="10.244.3.0/24")))
    bridge = net["plugins"][0]
    assert bridge["bridge"] == "cni0" and bridge["ipam"]["ranges"] == [[{"subnet": "10.244.3.0/24"}]]
    assert [p["type"] for p in net["plugins"]] == ["bridge", "portmap"]  # CRI adds loopback itself


def test_mirror_hosts(tmp_path: Path) -> None:
    offline = tomllib.loads(hosts_toml("http://127.0.0.1:5000", None))
    assert offline["server"] == "http://127.0.0.1:5000"
    assert offline["host"]["http://127.0.0.1:5000"]["capabilities"] == ["pull", "resolve"]
    online = tomllib.loads(hosts_toml("http://127.0.0.1:5000", "https://registry-1.docker.io"))
    assert online["server"] == "https://registry-1.docker.io" and "http://127.0.0.1:5000" in online["host"]
    written = write_mirror_hosts(tmp_path, "http://127.0.0.1:5000", ["my.registry:8443"], upstream_fallback=True)
    hosts = {p.parent.name for p in written}
    assert {"_default", "docker.io", "registry.k8s.io", "quay.io", "my.registry:8443"} <= hosts
    assert tomllib.loads((tmp_path / "docker.io" / "hosts.toml").read_text())["server"] == "https://registry-1.docker.io"
    assert tomllib.loads((tmp_path / "_default" / "hosts.toml").read_text())["server"] == "http://127.0.0.1:5000"


def test_image_cli_without_containerd(tmp_path: Path, isolated_env: Path) -> None:
    img = build_image("docker.io/library/tiny:v1", [[Entry("f", data=b"x")]], ImageConfig())
    write_oci_archive(tmp_path / "a.tar", [img])
    runner = CliRunner()
    loaded = runner.invoke(image_group, ["load", "-p", "t", str(tmp_path / "a.tar")])
    assert loaded.exit_code == 0, loaded.output
    assert "Loaded image: docker.io/library/tiny:v1" in loaded.output
    piped = runner.invoke(image_group, ["load", "-p", "t", "-"], input=(tmp_path / "a.tar").read_bytes())
    assert piped.exit_code == 0 and "Loaded image" in piped.output
    listed = runner.invoke(image_group, ["ls", "-p", "t"])
    assert "docker.io/library/tiny" in listed.output and "v1" in listed.output
    store = NodePaths(isolated_env / "pocketkube" / "t").registry
    assert (store / "repositories" / "docker.io" / "library" / "tiny" / "_tags" / "v1").is_file()
    removed = runner.invoke(image_group, ["rm", "-p", "t", "tiny:v1"])
    assert removed.exit_code == 0 and "Deleted: tiny:v1" in removed.output
    missing = runner.invoke(image_group, ["rm", "-p", "t", "tiny:v1"])
    assert missing.exit_code == 1
    bad = runner.invoke(image_group, ["load", "-p", "t", str(tmp_path)])
    assert bad.exit_code != 0
