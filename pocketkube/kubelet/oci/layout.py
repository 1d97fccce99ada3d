"""Writing OCI images and OCI archives, deterministically, in pure Python.

Theory of operation: an image is a config JSON, one or more layer tars and a manifest that names
them by digest; an OCI archive is a tar of the image-layout folder (`oci-layout`, `index.json`,
`blobs/sha256/<hex>`). Layers are built in memory from `Entry` records (files, directories,
symlinks) with every timestamp at 0 and owner root, then gzipped with mtime 0, so the same
inputs always give the same digests (a rebuilt image is byte-identical and containerd sees no
change). The index names each manifest twice: `io.containerd.image.name` (the full reference,
which `ctr import` and our loader use) and `org.opencontainers.image.ref.name` (the tag).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
MEDIA_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
INDEX_MEDIA_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST)
MANIFEST_MEDIA_TYPES = (MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST)

ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Entry:
    """One path in a layer: kind is "file", "dir" or "symlink" (paths are relative, no leading /)."""

    path: str
    kind: str = "file"
    mode: int = 0o644
    data: bytes = b""
    target: str = ""


def layer_tar(entries: Iterable[Entry]) -> bytes:
    """An uncompressed, reproducible layer tar (sorted paths, mtime 0, root-owned)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in sorted(entries, key=lambda x: x.path):
            info = tarfile.TarInfo(e.path.lstrip("/"))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = e.mode
            if e.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif e.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, e.target
                tar.addfile(info)
            else:
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
    return buf.getvalue()


def gzip_reproducible(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The runtime part of an image config (what `docker inspect` shows under Config)."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = (DEFAULT_PATH_ENV,)
    working_dir: str = ""
    user: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """A single-platform image: its manifest plus every blob it references."""

    name: str
    manifest: bytes
    blobs: Mapping[str, bytes]

    @property
    def manifest_digest(self) -> str:
        return sha256_digest(self.manifest)


def _config_json(config: ImageConfig, diff_ids: list[str]) -> bytes:
    runtime: dict[str, object] = {"Env": list(config.env)}
    if config.entrypoint:
        runtime["Entrypoint"] = list(config.entrypoint)
    if config.cmd:
        runtime["Cmd"] = list(config.cmd)
    if config.working_dir:
        runtime["WorkingDir"] = config.working_dir
    if config.user:
        runtime["User"] = config.user
    if config.labels:
        runtime["Labels"] = dict(config.labels)
    return canonical_json({
        "architecture": "amd64", "os": "linux", "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "pocketkube image builder"} for _ in diff_ids],
    })


def build_image(name: str, layers: Iterable[Iterable[Entry]], config: ImageConfig) -> BuiltImage:
    """Assemble an OCI image from layer entry lists (bottom first) and its runtime config."""
    blobs: dict[str, bytes] = {}
    layer_descs, diff_ids = [], []
    for entries in layers:
        raw = layer_tar(entries)
        packed = gzip_reproducible(raw)
        diff_ids.append(sha256_digest(raw))
        d = sha256_digest(packed)
        blobs[d] = packed
        layer_descs.append({"mediaType": MEDIA_OCI_LAYER_GZIP, "digest": d, "size": len(packed)})
    cfg = _config_json(config, diff_ids)
    blobs[sha256_digest(cfg)] = cfg
    manifest = canonical_json({
        "schemaVersion": 2, "mediaType": MEDIA_OCI_MANIFEST,
        "config": {"mediaType": MEDIA_OCI_CONFIG, "digest": sha256_digest(cfg), "size": len(cfg)},
        "layers": layer_descs,
    })
    return BuiltImage(name=name, manifest=manifest, blobs=blobs)


def _index_json(images: list[BuiltImage]) -> bytes:
    manifests = []
    for img in images:
        tag = img.name.rsplit(":", 1)[-1] if ":" in img.name.rsplit("/", 1)[-1] else "latest"
        manifests.append({
            "mediaType": MEDIA_OCI_MANIFEST, "digest": img.manifest_digest, "size": len(img.manifest),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {ANNOTATION_IMAGE_NAME: img.name, ANNOTATION_REF_NAME: tag},
        })
    return canonical_json({"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": manifests})


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, mode
    tar.addfile(info, io.BytesIO(data))


def write_oci_archive(path: Path, images: list[BuiltImage]) -> None:
    """Write `images` as one OCI image-layout tar at `path` (atomically: temp file, then rename)."""
    blobs: dict[str, bytes] = {}
    for img in images:
        blobs.update(img.blobs)
        blobs[img.manifest_digest] = img.manifest
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
        _add_bytes(tar, "index.json", _index_json(images))
        for d in sorted(blobs):
            _add_bytes(tar, "blobs/sha256/" + d.split(":", 1)[1], blobs[d])
    os.replace(tmp, path)
