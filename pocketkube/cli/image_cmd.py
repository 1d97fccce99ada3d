"""`pocketkube image load|ls|rm`: the images of a profile's node.

Theory of operation: the CLI talks to the node's storage directly, not through the API server
(as `minikube image load` talks to the node's runtime): the profile folder holds the node's image
store (`<profile>/registry`, served by the node agent's local registry, the mirror containerd
pulls every registry through) and its containerd socket (`<profile>/containerd/containerd.sock`).
- `load FILE.tar|-` reads an OCI image layout or a `docker save` tar (from stdin with `-`,
  spooled to a temp file because the format needs random access), writes every blob into the
  store, and, when the profile's containerd answers, imports the image into containerd's k8s.io
  namespace over its gRPC API, with a progress bar over the bytes copied. With containerd down
  the store copy is enough: the next pod that needs the image pulls it from the local registry.
- `ls` lists the images containerd's CRI sees (as `crictl images`), or the store's tags when
  containerd is not running.
- `rm NAME...` removes each name from the store (and its unreachable blobs) and containerd.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from pocketkube.cli.profile import DEFAULT_PROFILE, Profile
from pocketkube.kubelet.containerd import probe_cri
from pocketkube.kubelet.containerd_config import NodePaths
from pocketkube.kubelet.oci.archive import ArchiveError, open_archive
from pocketkube.kubelet.oci.containerd_import import ContainerdAPIError, ContainerdImages
from pocketkube.kubelet.oci.loader import (
    LoadedImage,
    load_archive,
    remove_image,
    total_bytes,
    wait_until_cri_sees,
)
from pocketkube.kubelet.oci.store import ImageStore, StoreError
from pocketkube.kubelet.runtime.cri_client import CRIClient
from pocketkube.kubelet.runtime.cri_types import CRIError

console = Console(stderr=True)
out = Console()
profile_option = click.option("--profile", "-p", default=DEFAULT_PROFILE, show_default=True,
                              help="Name of the cluster profile.")


def _fail(message: str) -> None:
    console.print(f"[red]✗[/red] {message}")
    sys.exit(1)


async def _containerd_endpoint(paths: NodePaths) -> str | None:
    layout = paths.containerd
    if not layout.socket.exists():
        return None
    ready, _ = await probe_cri(layout.endpoint, timeout=2.0)
    return layout.endpoint if ready else None


@click.group("image")
def image_group() -> None:
    """Load, list and remove the images of a cluster's node."""


def _spool_stdin() -> Path:
    tmp = tempfile.NamedTemporaryFile(prefix="pocketkube-image-", suffix=".tar", delete=False)  # noqa: SIM115
    with tmp:
        shutil.copyfileobj(sys.stdin.buffer, tmp, 1 << 20)
    return Path(tmp.name)


async def _load(path: Path, paths: NodePaths, name: str | None, label: str) -> tuple[list[LoadedImage], bool]:
    endpoint = await _containerd_endpoint(paths)
    ctd = ContainerdImages(endpoint) if endpoint else None
    try:
        with open_archive(path, default_name=name) as archive:
            total = total_bytes(archive, 2 if ctd else 1)
            columns = (TextColumn("[cyan]Loading[/cyan] {task.description}"), BarColumn(), DownloadColumn(),
                       TransferSpeedColumn(), TimeRemainingColumn())
            with Progress(*columns, console=console, transient=False) as progress:
                task = progress.add_task(label, total=total)
                loaded = await load_archive(archive, store=ImageStore(paths.registry), containerd=ctd,
                                            progress=lambda n: progress.advance(task, n))
        if endpoint is not None:
            await wait_until_cri_sees(endpoint, [i.name for i in loaded])
    finally:
        if ctd is not None:
            await ctd.close()
    return loaded, ctd is not None


@image_group.command("load")
@profile_option
@click.argument("archive", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--name", default=None, help="Name for images the archive does not name (e.g. busybox:dev).")
def load_cmd(profile: str, archive: str, name: str | None) -> None:
    """Load images from an OCI or `docker save` tar (FILE, or - for stdin)."""
    paths = NodePaths(Profile(profile).dir)
    path = _spool_stdin() if archive == "-" else Path(archive)
    try:
        loaded, imported = asyncio.run(_load(path, paths, name, "stdin" if archive == "-" else path.name))
    except (ArchiveError, StoreError, ContainerdAPIError, OSError) as e:
        _fail(str(e))
        return
    finally:
        if archive == "-":
            path.unlink(missing_ok=True)
    for img in loaded:
        out.print(f"Loaded image: {img.name}")
    if not imported:
        console.print("containerd is not running: the image is in the node registry and is pulled from there "
                      "when a pod needs it")


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.3g}{unit}"
        value /= 1000
    return f"{size}B"


async def _cri_rows(endpoint: str) -> list[tuple[str, str, str, str]]:
    async with CRIClient(endpoint, timeout=10) as cri:
        images = await cri.list_images()
    rows = []
    for img in images:
        short_id = img.id.removeprefix("sha256:")[:13]
        for tag in img.repo_tags or ("<none>:<none>",):
            repo, _, t = tag.rpartition(":")
            rows.append((repo, t, short_id, _human(img.size)))
    return sorted(rows)


def _store_rows(store: ImageStore) -> list[tuple[str, str, str, str]]:
    rows = []
    for ref, digest in store.tags():
        repo, _, tag = ref.rpartition(":")
        rows.append((repo, tag, digest.removeprefix("sha256:")[:13], ""))
    return rows


@image_group.command("ls")
@profile_option
def ls_cmd(profile: str) -> None:
    """List the node's images (containerd's, or the node registry's when containerd is down)."""
    paths = NodePaths(Profile(profile).dir)
    endpoint = asyncio.run(_containerd_endpoint(paths))
    try:
        rows = asyncio.run(_cri_rows(endpoint)) if endpoint else _store_rows(ImageStore(paths.registry))
    except CRIError as e:
        _fail(str(e))
        return
    table = Table(box=None, show_edge=False, pad_edge=False)
    for col in ("IMAGE", "TAG", "IMAGE ID" if endpoint else "DIGEST", "SIZE"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    out.print(table)


async def _remove(names: tuple[str, ...], paths: NodePaths) -> list[str]:
    endpoint = await _containerd_endpoint(paths)
    ctd = ContainerdImages(endpoint) if endpoint else None
    missing = []
    try:
        for n in names:
            if not await remove_image(n, store=ImageStore(paths.registry), containerd=ctd):
                missing.append(n)
    finally:
        if ctd is not None:
            await ctd.close()
    return missing


@image_group.command("rm")
@profile_option
@click.argument("names", nargs=-1, required=True)
def rm_cmd(profile: str, names: tuple[str, ...]) -> None:
    """Remove images from the node (its registry and containerd)."""
    paths = NodePaths(Profile(profile).dir)
    try:
        missing = asyncio.run(_remove(names, paths))
    except (StoreError, ContainerdAPIError) as e:
        _fail(str(e))
        return
    for n in names:
        if n not in missing:
            out.print(f"Deleted: {n}")
    if missing:
        _fail(f"no such image: {', '.join(missing)}")
