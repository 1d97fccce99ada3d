"""The node's image store: a content-addressed folder the local registry serves (filesystem only).

Theory of operation: `<root>/blobs/sha256/<hex>` holds every blob (layers, configs, manifests)
once; `<root>/repositories/<registry host>/<repository>/_tags/<tag>` holds the manifest digest a
tag points at (a repository component can never start with "_", so `_tags` cannot collide).
References are normalised as containerd does (`busybox` -> docker.io/library/busybox:latest).
Writes are atomic (temp file + rename, digest verified before the rename), so the registry
(another task or process) reads it concurrently without locks and never sees a partial blob.
`gc()` deletes blobs no tag reaches any more (after `image rm`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pocketkube.kubelet import images as imageref
from pocketkube.kubelet.oci.layout import INDEX_MEDIA_TYPES, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST

_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]+)?$")
CHUNK = 1 << 20


class StoreError(ValueError):
    """A malformed reference or digest, or content that does not match its digest."""


@dataclass(frozen=True, slots=True)
class Reference:
    host: str
    repository: str
    tag: str = ""
    digest: str = ""

    def __str__(self) -> str:
        base = f"{self.host}/{self.repository}"
        return f"{base}@{self.digest}" if self.digest else f"{base}:{self.tag}"


def parse_reference(ref: str) -> Reference:
    """docker.io/library/busybox:latest, busybox, 127.0.0.1:5000/x/y@sha256:... -> Reference."""
    full = imageref.normalize(ref)
    host, _, rest = full.partition("/")
    name, at, digest = rest.partition("@")
    tag = ""
    if not at:
        name, _, tag = name.rpartition(":")
    if not _HOST.match(host) or not _REPO.match(name) or (tag and not _TAG.match(tag)):
        raise StoreError(f"invalid image reference {ref!r}")
    if at and not _DIGEST.match(digest):
        raise StoreError(f"invalid digest in {ref!r}")
    return Reference(host, name, tag, digest)


def manifest_media_type(data: bytes) -> str:
    """The media type of a manifest blob (its mediaType field, else inferred from its shape)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return "application/octet-stream"
    if isinstance(doc, dict) and isinstance(doc.get("mediaType"), str):
        return str(doc["mediaType"])
    return MEDIA_OCI_INDEX if isinstance(doc, dict) and "manifests" in doc else MEDIA_OCI_MANIFEST


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def blob_path(self, digest: str) -> Path:
        if not _DIGEST.match(digest):
            raise StoreError(f"invalid digest {digest!r}")
        return self.root / "blobs" / "sha256" / digest.split(":", 1)[1]

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def read_blob(self, digest: str) -> bytes:
        return self.blob_path(digest).read_bytes()

    def put_blob(self, digest: str, stream: IO[bytes], progress: Callable[[int], None] | None = None) -> int:
        """Copy `stream` into the store as `digest` (verified); returns the bytes written."""
        path = self.blob_path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        h, size = hashlib.sha256(), 0
        try:
            with open(tmp, "wb") as out:
                while chunk := stream.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                    if progress is not None:
                        progress(len(chunk))
            if "sha256:" + h.hexdigest() != digest:
                raise StoreError(f"content does not match {digest}")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return size

    def put_bytes(self, data: bytes) -> str:
        import io

        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if not self.has_blob(digest):
            self.put_blob(digest, io.BytesIO(data))
        return digest

    def _tag_file(self, ref: Reference) -> Path:
        return self.root / "repositories" / ref.host / ref.repository / "_tags" / ref.tag

    def tag(self, name: str, manifest_digest: str) -> Reference:
        ref = parse_reference(name)
        if not ref.tag:
            raise StoreError(f"{name!r} has no tag")
        if not self.has_blob(manifest_digest):
            raise StoreError(f"manifest {manifest_digest} is not in the store")
        path = self._tag_file(ref)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{ref.tag}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(manifest_digest + "\n")
        os.replace(tmp, path)
        return ref

    def untag(self, name: str) -> bool:
        ref = parse_reference(name)
        path = self._tag_file(ref)
        if not ref.tag or not path.is_file():
            return False
        path.unlink()
        return True

    def resolve(self, host: str, repository: str, reference: str) -> str | None:
        """The manifest digest for a tag or digest reference, or None."""
        if reference.startswith("sha256:"):
            return reference if _DIGEST.match(reference) and self.has_blob(reference) else None
        if not _HOST.match(host) or not _REPO.match(repository) or not _TAG.match(reference):
            return None
        try:
            digest = self._tag_file(Reference(host, repository, reference)).read_text().strip()
        except OSError:
            return None
        return digest if _DIGEST.match(digest) else None

    def tags(self) -> Iterator[tuple[str, str]]:
        """(full reference, manifest digest) for every tag, sorted."""
        base = self.root / "repositories"
        for path in sorted(base.glob("**/_tags/*")):
            if path.name.startswith("."):
                continue
            repo_dir = path.parent.parent.relative_to(base)
            host, repo = repo_dir.parts[0], "/".join(repo_dir.parts[1:])
            yield f"{host}/{repo}:{path.name}", path.read_text().strip()

    def references(self, manifest_digest: str) -> set[str]:
        """Every blob a manifest (or index) reaches, itself included."""
        seen = {manifest_digest}
        doc = json.loads(self.read_blob(manifest_digest))
        if manifest_media_type(self.read_blob(manifest_digest)) in INDEX_MEDIA_TYPES:
            for m in doc.get("manifests") or []:
                if self.has_blob(m["digest"]):
                    seen |= self.references(m["digest"])
            return seen
        seen.add(doc["config"]["digest"])
        seen |= {layer["digest"] for layer in doc.get("layers") or []}
        return seen

    def gc(self) -> int:
        """Delete blobs that no tag reaches; returns how many were deleted."""
        live: set[str] = set()
        for _, digest in self.tags():
            if self.has_blob(digest):
                live |= self.references(digest)
        removed = 0
        for path in (self.root / "blobs" / "sha256").glob("*"):
            if not path.name.startswith(".") and f"sha256:{path.name}" not in live:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
