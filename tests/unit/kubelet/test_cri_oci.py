"""OCI images: reproducible builds, reading OCI and docker-save archives, the image store, loading."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from pocketkube.kubelet.oci import build
from pocketkube.kubelet.oci.archive import ArchiveError, open_archive
from pocketkube.kubelet.oci.layout import (
    MEDIA_DOCKER_LAYER,
    MEDIA_DOCKER_MANIFEST,
    MEDIA_OCI_LAYER_GZIP,
    MEDIA_OCI_MANIFEST,
    Entry,
    ImageConfig,
    build_image,
    canonical_json,
    layer_tar,
    sha256_digest,
    write_oci_archive,
)
from pocketkube.kubelet.oci.loader import load_archive, remove_image, total_bytes
from pocketkube.kubelet.oci.store import ImageStore, StoreError, parse_reference


def small_image(name: str = "docker.io/library/tiny:v1", text: bytes = b"hello") -> build.BuiltImage:
    return build_image(name, [[Entry("etc", "dir", 0o755), Entry("etc/greeting", data=text)]],
                       ImageConfig(cmd=("cat", "/etc/greeting")))


def test_layers_and_images_are_reproducible(tmp_path: Path) -> None:
    entries = [Entry("b", data=b"2"), Entry("a", "dir", 0o755), Entry("a/l", "symlink", target="../b")]
    assert layer_tar(entries) == layer_tar(list(reversed(entries)))
    write_oci_archive(tmp_path / "1.tar", [small_image()])
    write_oci_archive(tmp_path / "2.tar", [small_image()])
    assert (tmp_path / "1.tar").read_bytes() == (tmp_path / "2.tar").read_bytes()
    with tarfile.open(tmp_path / "1.tar") as tar:
        names = tar.getnames()
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
    assert names[:2] == ["oci-layout", "index.json"]
    notes = index["manifests"][0]["annotations"]
    assert notes == {"io.containerd.image.name": "docker.io/library/tiny:v1", "org.opencontainers.image.ref.name": "v1"}


def test_image_config_and_manifest() -> None:
    img = small_image()
    manifest = json.loads(img.manifest)
    assert manifest["mediaType"] == MEDIA_OCI_MANIFEST and manifest["layers"][0]["mediaType"] == MEDIA_OCI_LAYER_GZIP
    config = json.loads(img.blobs[manifest["config"]["digest"]])
    assert config["config"]["Cmd"] == ["cat", "/etc/greeting"] and config["os"] == "linux"
    import gzip

    raw = gzip.decompress(img.blobs[manifest["layers"][0]["digest"]])
    assert config["rootfs"]["diff_ids"] == [sha256_digest(raw)]  # diff_id: the uncompressed layer


def test_busybox_image_has_applets_and_users() -> None:
    entries = {e.path: e for e in build.busybox_entries()}
    assert entries["bin/busybox"].mode == 0o755 and entries["bin/sh"].target == "busybox"
    assert {"bin/wget", "bin/httpd", "bin/sleep"} <= entries.keys() and "bin/busybox" not in {
        p for p, e in entries.items() if e.kind == "symlink"}
    assert b"root:x:0:0" in entries["etc/passwd"].data and entries["tmp"].mode == 0o1777


def test_pause_image_static_or_stand_in() -> None:
    binary = build.compile_pause()
    compiled = build.build_pause(binary=binary) if binary else None
    stand_in = build.build_pause(binary=None)
    for img, flavour in ((compiled, "static-c"), (stand_in, "busybox")):
        if img is None:
            continue
        cfg = json.loads(img.blobs[json.loads(img.manifest)["config"]["digest"]])["config"]
        assert cfg["Labels"] == {build.PAUSE_FLAVOUR_LABEL: flavour} and cfg["User"] == "65535:65535"
    if compiled is not None:
        assert json.loads(compiled.blobs[json.loads(compiled.manifest)["config"]["digest"]])["config"][
            "Entrypoint"] == ["/pause"]


def test_ensure_builtin_images_caches(tmp_path: Path) -> None:
    first = build.ensure_builtin_images(tmp_path)
    assert set(first) == {build.BUSYBOX_IMAGE, build.PAUSE_IMAGE}
    mtimes = {p: p.stat().st_mtime_ns for p in first.values()}
    assert build.ensure_builtin_images(tmp_path) == first
    assert {p: p.stat().st_mtime_ns for p in first.values()} == mtimes


def _docker_save(path: Path, tags: list[str] | None) -> tuple[str, str]:
    layer = layer_tar([Entry("hello.txt", data=b"hi")])
    config = canonical_json({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                             "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer)]}})
    cfg_name = sha256_digest(config).split(":")[1] + ".json"
    manifest = [{"Config": cfg_name, "RepoTags": tags, "Layers": ["abc/layer.tar"]}]
    with tarfile.open(path, "w") as tar:
        for name, data in ((cfg_name, config), ("abc/layer.tar", layer), ("manifest.json", json.dumps(manifest).encode()),
                           ("repositories", b"{}")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return sha256_digest(config), sha256_digest(layer)


def test_read_docker_save(tmp_path: Path) -> None:
    cfg, layer = _docker_save(tmp_path / "d.tar", ["myapp:1.0", "quay.io/me/app:latest"])
    with open_archive(tmp_path / "d.tar") as archive:
        (image,) = archive.images
        assert image.names == ("docker.io/library/myapp:1.0", "quay.io/me/app:latest")
        assert image.media_type == MEDIA_DOCKER_MANIFEST
        manifest = json.loads(archive.read(image.manifest_digest))
        assert manifest["config"]["digest"] == cfg
        assert manifest["layers"] == [{"mediaType": MEDIA_DOCKER_LAYER, "digest": layer,
                                       "size": manifest["layers"][0]["size"]}]
        assert archive.blobs_of(image) == [cfg, layer, image.manifest_digest]
    _docker_save(tmp_path / "untagged.tar", None)
    with pytest.raises(ArchiveError, match="no RepoTags"):
        open_archive(tmp_path / "untagged.tar")
    with open_archive(tmp_path / "untagged.tar", default_name="local/thing:dev") as archive:
        assert archive.images[0].names == ("docker.io/local/thing:dev",)


def test_read_oci_bare_tag_and_errors(tmp_path: Path) -> None:
    img = small_image()
    write_oci_archive(tmp_path / "o.tar", [img])
    with tarfile.open(tmp_path / "o.tar") as src, tarfile.open(tmp_path / "bare.tar", "w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()  # type: ignore[union-attr]
            if m.name == "index.json":
                doc = json.loads(data)
                doc["manifests"][0]["annotations"] = {"org.opencontainers.image.ref.name": "v9"}
                data = json.dumps(doc).encode()
                m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    with pytest.raises(ArchiveError, match="has no name"):
        open_archive(tmp_path / "bare.tar")
    with open_archive(tmp_path / "bare.tar", default_name="ghcr.io/me/tool") as archive:
        assert archive.images[0].names == ("ghcr.io/me/tool:v9",)
    (tmp_path / "junk.tar").write_bytes(b"not a tar")
    with pytest.raises(ArchiveError, match="not a tar"):
        open_archive(tmp_path / "junk.tar")


def test_references_and_store(tmp_path: Path) -> None:
    assert str(parse_reference("busybox")) == "docker.io/library/busybox:latest"
    assert parse_reference("127.0.0.1:5000/a/b:c").host == "127.0.0.1:5000"
    assert parse_reference("x@sha256:" + "a" * 64).digest == "sha256:" + "a" * 64
    for bad in ("UPPER/case:1", "a/../b:1", "x:bad tag"):
        with pytest.raises(StoreError):
            parse_reference(bad)
    store = ImageStore(tmp_path)
    with pytest.raises(StoreError, match="does not match"):
        store.put_blob("sha256:" + "0" * 64, io.BytesIO(b"data"))
    assert not list((tmp_path / "blobs" / "sha256").iterdir())  # no partial blob left behind


async def test_load_into_store_then_remove(tmp_path: Path) -> None:
    write_oci_archive(tmp_path / "two.tar", [small_image("docker.io/library/tiny:v1"),
                                              small_image("quay.io/x/other:2", b"other")])
    store = ImageStore(tmp_path / "store")
    seen: list[int] = []
    with open_archive(tmp_path / "two.tar") as archive:
        loaded = await load_archive(archive, store=store, progress=seen.append)
        assert sum(seen) == total_bytes(archive, 1)
    assert [i.name for i in loaded] == ["docker.io/library/tiny:v1", "quay.io/x/other:2"]
    assert [n for n, _ in store.tags()] == ["docker.io/library/tiny:v1", "quay.io/x/other:2"]
    assert store.resolve("docker.io", "library/tiny", "v1") == loaded[0].manifest_digest
    assert store.resolve("docker.io", "library/tiny", "v2") is None
    blobs_before = len(list((tmp_path / "store" / "blobs" / "sha256").iterdir()))
    assert await remove_image("tiny:v1", store=store)
    assert not await remove_image("tiny:v1", store=store)
    assert [n for n, _ in store.tags()] == ["quay.io/x/other:2"]
    assert len(list((tmp_path / "store" / "blobs" / "sha256").iterdir())) == blobs_before - 3  # its manifest, config and layer
