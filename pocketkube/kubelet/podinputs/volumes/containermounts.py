"""A container's volumeMounts as CRI mounts (upstream makeMounts, without /etc/hosts).

Theory of operation: each volumeMount names a volume of the pod that the volume manager set up
(else `cannot find volume "v" to mount into container "c"`). The host path is the volume's path,
or for subPath / subPathExpr (expanded against the container's environment; every reference must
resolve) a safe bind of that path inside the volume (subpath.py): a missing subPath is created
with the volume root's mode first. Relative, `..`-free subPaths only. The mount is read-only when
the volumeMount says so or the volume kind is always read-only (configMap, secret, downwardAPI,
projected); propagation None/unset is private, HostToContainer and Bidirectional map to CRI's;
managed volumes (everything but hostPath) ask for SELinux relabelling. Errors are
`ContainerConfigError` with upstream's texts (the detailed cause is logged, not shown).
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pocketkube.kubelet.podinputs.errors import ContainerConfigError
from pocketkube.kubelet.podinputs.expansion import expand_subpath
from pocketkube.kubelet.podinputs.volumes import subpath
from pocketkube.kubelet.runtime.cri_types import Mount, MountPropagation

log = logging.getLogger("pocketkube.kubelet.volumes")
Obj = dict[str, Any]
READ_ONLY_KINDS = frozenset({"configMap", "secret", "downwardAPI", "projected"})
_PROPAGATION = {None: MountPropagation.PRIVATE, "None": MountPropagation.PRIVATE,
                "HostToContainer": MountPropagation.HOST_TO_CONTAINER,
                "Bidirectional": MountPropagation.BIDIRECTIONAL}


def _kind(volume: Obj) -> str:
    return next((k for k in volume if k != "name"), "")


def propagation(mode: Any) -> MountPropagation:
    if mode not in _PROPAGATION:
        raise ContainerConfigError(f'invalid MountPropagation mode: "{mode}"')
    return _PROPAGATION[mode]


def subpath_of(mount: Obj, envs: Iterable[tuple[str, str]]) -> str:
    """The mount's subPath (subPathExpr expanded), checked; "" when none."""
    sub = str(mount.get("subPath") or "")
    if mount.get("subPathExpr"):
        sub = expand_subpath(str(mount["subPathExpr"]), envs)
    if not sub:
        return ""
    if os.path.isabs(sub):
        raise ContainerConfigError(f"error SubPath `{sub}` must not be an absolute path")
    if ".." in sub.split("/"):
        raise ContainerConfigError(f"unable to provision SubPath `{sub}`: must not contain '..'")
    return sub


def _prepare_subpath(volume_path: str, sub: str, pod_dir: Path, mount: Obj, container: str, index: int) -> str:
    name = str(mount.get("name"))
    if not os.path.lexists(os.path.join(volume_path, sub)):
        try:
            subpath.safe_make_dir(volume_path, sub, stat.S_IMODE(os.stat(volume_path).st_mode))
        except OSError as e:
            log.warning("creating subPath %s of volume %s for container %s: %s", sub, name, container, e)
            raise ContainerConfigError(
                f'failed to create subPath directory for volumeMount "{name}" of container "{container}"') from e
    try:
        return subpath.prepare(volume_path, sub, pod_dir, name, container, index)
    except OSError as e:
        log.warning("preparing subPath %s of volume %s for container %s: %s", sub, name, container, e)
        raise ContainerConfigError(f'failed to prepare subPath for volumeMount "{name}" of container "{container}"') from e


async def container_mounts(pod: Obj, container: Obj, envs: list[tuple[str, str]], *, ready: set[str],
                           volume_path: Callable[[Obj], str], pod_dir: Path) -> list[Mount]:
    volumes = {str(v.get("name")): v for v in (pod.get("spec") or {}).get("volumes") or []}
    cname = str(container.get("name") or "")
    out = []
    for index, vm in enumerate(container.get("volumeMounts") or []):
        name = str(vm.get("name") or "")
        volume = volumes.get(name)
        if volume is None or name not in ready:
            raise ContainerConfigError(f'cannot find volume "{name}" to mount into container "{cname}"')
        host = volume_path(volume)
        sub = subpath_of(vm, envs)
        if sub:
            host = await asyncio.to_thread(_prepare_subpath, host, sub, pod_dir, vm, cname, index)
        target = str(vm.get("mountPath") or "")
        kind = _kind(volume)
        out.append(Mount(container_path=target if target.startswith("/") else "/" + target, host_path=host,
                         readonly=bool(vm.get("readOnly")) or kind in READ_ONLY_KINDS,
                         propagation=propagation(vm.get("mountPropagation")),
                         selinux_relabel=kind != "hostPath"))
    return out
