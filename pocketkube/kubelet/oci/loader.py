"""Loading, listing and removing node images: the registry store and containerd, together.

Theory of operation: an image lives in two places on a node. The registry store (store.py) is
the durable copy the local registry serves, so pulls (imagePullPolicy Always included) work
offline; containerd's k8s.io namespace is where CRI finds it for containers. `load_archive`
copies each image's blobs (config and layers first, the manifest last) into both destinations
that are given, skipping blobs already there, then points every name at the manifest: a tag
file in the store, an image record in containerd. Progress is reported in bytes through a
callback; `total_bytes` gives the total up front, counting each destination once. CRI learns of
an imported image from containerd's events, asynchronously: `wait_until_cri_sees` bridges that
gap for callers that use the image right away; `import_for_cri` does both for one archive
file. `remove_image`
drops a name from both places (containerd: only that name, not every tag of the image, which
CRI RemoveImage would do; the store: the tag, then unreachable blobs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pocketkube.kubelet.oci.archive import ArchiveImage, ImageArchive, open_archive
from pocketkube.kubelet.oci.containerd_import import ContainerdImages, gc_labels
from pocketkube.kubelet.oci.store import ImageStore, parse_reference
from pocketkube.kubelet.runtime.cri_client import CRIClient

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class LoadedImage:
    name: str
    manifest_digest: str
    size: int


def total_bytes(archive: ImageArchive, destinations: int) -> int:
    blobs = {d for image in archive.images for d in archive.blobs_of(image)}
    return sum(archive.size(d) for d in blobs) * destinations


def _noop(_: int) -> None:
    pass


def _store_image(archive: ImageArchive, image: ArchiveImage, store: ImageStore, progress: Progress) -> None:
    for digest in archive.blobs_of(image):
        if store.has_blob(digest):
            progress(archive.size(digest))
            continue
        with archive.open(digest) as f:
            store.put_blob(digest, f, progress)
    for name in image.names:
        store.tag(name, image.manifest_digest)


async def _containerd_image(archive: ImageArchive, image: ArchiveImage, ctd: ContainerdImages,
                            progress: Progress) -> None:
    lease = await ctd.create_lease()
    try:
        for digest in archive.blobs_of(image):
            size = archive.size(digest)
            if await ctd.has_blob(digest):
                progress(size)
                continue
            labels = gc_labels(archive.read(digest)) if digest == image.manifest_digest else None
            with archive.open(digest) as f:
                await ctd.write_blob(digest, size, f, lease, labels, progress)
        manifest_size = archive.size(image.manifest_digest)
        for name in image.names:
            await ctd.set_image(name, image.media_type, image.manifest_digest, manifest_size)
    finally:
        await ctd.delete_lease(lease)


async def load_archive(archive: ImageArchive, *, store: ImageStore | None = None,
                       containerd: ContainerdImages | None = None,
                       progress: Progress | None = None) -> list[LoadedImage]:
    """Copy every image of `archive` into the store and/or containerd; returns what was named."""
    step = progress or _noop
    loaded = []
    for image in archive.images:
        size = sum(archive.size(d) for d in archive.blobs_of(image))
        if store is not None:
            await asyncio.to_thread(_store_image, archive, image, store, step)
        if containerd is not None:
            await _containerd_image(archive, image, containerd, step)
        loaded += [LoadedImage(name, image.manifest_digest, size) for name in image.names]
    return loaded


async def remove_image(name: str, *, store: ImageStore | None = None,
                       containerd: ContainerdImages | None = None) -> bool:
    """Remove image name `name` from the store and containerd; True if it was found anywhere."""
    full = str(parse_reference(name))
    found = False
    if store is not None and store.untag(full):
        found = True
        await asyncio.to_thread(store.gc)
    if containerd is not None and await _remove_from_containerd(full, containerd):
        found = True
    return found


async def _remove_from_containerd(full: str, containerd: ContainerdImages) -> bool:
    """Delete `full` and the records CRI derived from it once nothing else needs them:
    `<repo>@<digest>` when no other tag of the repository remains on that manifest, and
    `sha256:<image id>` when no name at all remains."""
    images = dict(await containerd.list_images())
    target = images.get(full)
    if target is None or not await containerd.delete_image(full):
        return False
    repo = full.rsplit(":", 1)[0]
    same = {n for n, d in images.items() if d == target and n != full}
    tags = {n for n in same if "@" not in n and not n.startswith("sha256:")}
    if not any(n.rsplit(":", 1)[0] == repo for n in tags):
        await containerd.delete_image(f"{repo}@{target}")
    if not tags:
        for n in same:
            await containerd.delete_image(n)
    return True


async def wait_until_cri_sees(endpoint: str, names: list[str], timeout: float = 5.0) -> bool:
    """Wait until CRI's ImageStatus knows every name: CRI learns about images created through
    containerd's API from its event stream, a few milliseconds after the import returns."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with CRIClient(endpoint, timeout=timeout) as cri:
        for name in names:
            while await cri.image_status(name) is None:
                if asyncio.get_running_loop().time() > deadline:
                    return False
                await asyncio.sleep(0.01)
    return True


async def import_for_cri(endpoint: str, archive_path: Path) -> list[str]:
    """Import an archive's images into containerd at `endpoint` and wait until CRI sees them
    (the names), so a container can use them at once."""
    ctd = ContainerdImages(endpoint)
    try:
        with open_archive(archive_path) as archive:
            loaded = await load_archive(archive, containerd=ctd)
    finally:
        await ctd.close()
    names = [i.name for i in loaded]
    await wait_until_cri_sees(endpoint, names)
    return names
