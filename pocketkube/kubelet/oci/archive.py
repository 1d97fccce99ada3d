"""Reading image archives: OCI image layouts and `docker save` tars, as named manifests + blobs.

Theory of operation: `open_archive(path)` indexes the tar once (tarfile keeps member offsets, so
blobs are streamed later without extracting) and yields `ArchiveImage`s: a full image name, the
digest of a single-platform manifest and the blobs it needs.
- OCI layout (`index.json` present, also what docker >= 25 writes): each index entry is named by
  its `io.containerd.image.name` annotation, else `org.opencontainers.image.ref.name` (a full
  reference, or a bare tag combined with `default_name`'s repository). An entry that is itself
  an index (multi-platform) is resolved to its linux/amd64 manifest.
- docker save (`manifest.json` only): each entry's Config and Layers are files in the tar; a
  Docker v2 manifest is synthesised for them (layers keep their form: an uncompressed layer.tar
  gets media type ...rootfs.diff.tar and its digest is computed by reading it once). Every
  RepoTag becomes a name.
An image without any name needs `default_name`; otherwise ArchiveError says so.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pocketkube.kubelet.oci.layout import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    INDEX_MEDIA_TYPES,
    MEDIA_DOCKER_CONFIG,
    MEDIA_DOCKER_LAYER,
    MEDIA_DOCKER_LAYER_GZIP,
    MEDIA_DOCKER_MANIFEST,
    canonical_json,
    sha256_digest,
)
from pocketkube.kubelet.oci.store import StoreError, manifest_media_type, parse_reference

PLATFORM = {"os": "linux", "architecture": "amd64"}


class ArchiveError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ArchiveImage:
    names: tuple[str, ...]
    manifest_digest: str
    media_type: str


@dataclass
class ImageArchive:
    """An opened archive: images, and every blob they reference (in the tar or synthesised)."""

    tar: tarfile.TarFile
    images: list[ArchiveImage] = field(default_factory=list)
    members: dict[str, tarfile.TarInfo] = field(default_factory=dict)
    synthetic: dict[str, bytes] = field(default_factory=dict)

    def close(self) -> None:
        self.tar.close()

    def __enter__(self) -> ImageArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, digest: str) -> bool:
        return digest in self.synthetic or digest in self.members

    def size(self, digest: str) -> int:
        return len(self.synthetic[digest]) if digest in self.synthetic else self.members[digest].size

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def open(self, digest: str) -> IO[bytes]:
        import io

        if digest in self.synthetic:
            return io.BytesIO(self.synthetic[digest])
        f = self.tar.extractfile(self.members[digest])
        if f is None:
            raise ArchiveError(f"blob {digest} is not a regular file")
        return f

    def blobs_of(self, image: ArchiveImage) -> list[str]:
        """Config and layer digests, then the manifest itself (the order to copy them in)."""
        doc = json.loads(self.read(image.manifest_digest))
        return [doc["config"]["digest"], *(layer["digest"] for layer in doc.get("layers") or []),
                image.manifest_digest]


def _full_name(name: str) -> str:
    try:
        return str(parse_reference(name))
    except StoreError as e:
        raise ArchiveError(str(e)) from None


def _entry_name(desc: dict[str, Any], default_name: str | None) -> str | None:
    notes = desc.get("annotations") or {}
    name = notes.get(ANNOTATION_IMAGE_NAME)
    if name:
        return _full_name(str(name))
    ref = str(notes.get(ANNOTATION_REF_NAME) or "")
    if ref and ("/" in ref or ":" in ref):
        return _full_name(ref)
    if default_name:
        base = parse_reference(default_name)
        return f"{base.host}/{base.repository}:{ref}" if ref else _full_name(default_name)
    return None


def _platform_manifest(archive: ImageArchive, digest: str) -> tuple[str, str]:
    data = archive.read(digest)
    media = manifest_media_type(data)
    if media not in INDEX_MEDIA_TYPES:
        return digest, media
    entries = json.loads(data).get("manifests") or []
    for m in entries:
        plat = m.get("platform") or {}
        if plat.get("os") == PLATFORM["os"] and plat.get("architecture") == PLATFORM["architecture"]:
            return _platform_manifest(archive, m["digest"])
    if entries and archive.has(entries[0]["digest"]):
        return _platform_manifest(archive, entries[0]["digest"])
    raise ArchiveError(f"index {digest} has no linux/amd64 manifest in this archive")


def _read_oci(archive: ImageArchive, default_name: str | None) -> None:
    for member in archive.tar.getmembers():
        parts = member.name.lstrip("./").split("/")
        if member.isfile() and len(parts) == 3 and parts[0] == "blobs":
            archive.members[f"{parts[1]}:{parts[2]}"] = member
    index_member = archive.tar.extractfile("index.json")
    if index_member is None:
        raise ArchiveError("index.json is not a file")
    for desc in json.loads(index_member.read()).get("manifests") or []:
        name = _entry_name(desc, default_name)
        if name is None:
            raise ArchiveError(f"image {desc.get('digest')} has no name in the archive; pass a name for it")
        digest, media = _platform_manifest(archive, desc["digest"])
        archive.images.append(ArchiveImage((name,), digest, media))


def _digest_member(archive: ImageArchive, member: tarfile.TarInfo) -> tuple[str, bool]:
    f = archive.tar.extractfile(member)
    if f is None:
        raise ArchiveError(f"{member.name} is not a regular file")
    h, head = hashlib.sha256(), b""
    while chunk := f.read(1 << 20):
        head = head or chunk[:2]
        h.update(chunk)
    return "sha256:" + h.hexdigest(), head == b"\x1f\x8b"


def _read_docker(archive: ImageArchive, default_name: str | None) -> None:
    by_name = {m.name.lstrip("./"): m for m in archive.tar.getmembers() if m.isfile()}
    manifest_file = archive.tar.extractfile(by_name["manifest.json"])
    if manifest_file is None:
        raise ArchiveError("manifest.json is not a file")
    for entry in json.loads(manifest_file.read()):
        cfg_member = by_name[entry["Config"]]
        cfg_digest, _ = _digest_member(archive, cfg_member)
        archive.members[cfg_digest] = cfg_member
        layers = []
        for path in entry.get("Layers") or []:
            d, gz = _digest_member(archive, by_name[path])
            archive.members[d] = by_name[path]
            layers.append({"mediaType": MEDIA_DOCKER_LAYER_GZIP if gz else MEDIA_DOCKER_LAYER,
                           "digest": d, "size": by_name[path].size})
        manifest = canonical_json({
            "schemaVersion": 2, "mediaType": MEDIA_DOCKER_MANIFEST,
            "config": {"mediaType": MEDIA_DOCKER_CONFIG, "digest": cfg_digest, "size": cfg_member.size},
            "layers": layers})
        archive.synthetic[sha256_digest(manifest)] = manifest
        names = tuple(_full_name(t) for t in entry.get("RepoTags") or [])
        if not names and default_name:
            names = (_full_name(default_name),)
        if not names:
            raise ArchiveError(f"image {entry['Config']} has no RepoTags; pass a name for it")
        archive.images.append(ArchiveImage(names, sha256_digest(manifest), MEDIA_DOCKER_MANIFEST))


def open_archive(path: Path, default_name: str | None = None) -> ImageArchive:
    """Open an OCI-layout or docker-save tar (plain or gzip-compressed)."""
    try:
        tar = tarfile.open(path, "r:*")  # noqa: SIM115 - owned (and closed) by ImageArchive
    except (tarfile.TarError, OSError) as e:
        raise ArchiveError(f"{path}: not a tar archive ({e})") from None
    archive = ImageArchive(tar)
    try:
        names = {m.name.lstrip("./") for m in tar.getmembers()}
        if "index.json" in names:
            _read_oci(archive, default_name)
        elif "manifest.json" in names:
            _read_docker(archive, default_name)
        else:
            raise ArchiveError(f"{path}: neither an OCI image layout (index.json) nor a docker save (manifest.json)")
        for image in archive.images:
            missing = [d for d in archive.blobs_of(image) if not archive.has(d)]
            if missing:
                raise ArchiveError(f"{path}: {image.names[0]} references blobs not in the archive: {missing}")
    except (KeyError, ValueError, tarfile.TarError) as e:
        archive.close()
        if isinstance(e, ArchiveError):
            raise
        raise ArchiveError(f"{path}: malformed archive ({e!r})") from None
    return archive
