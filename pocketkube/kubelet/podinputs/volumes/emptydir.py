"""emptyDir volumes: a fresh directory per pod, on disk or in memory (upstream pkg/volume/emptydir).

Theory of operation: the directory is pods/<uid>/volumes/kubernetes.io~empty-dir/<name>, mode
0777 so any container user can write. medium "" is the node's disk. medium Memory is a tmpfs
mounted there, sized as upstream's calculateEmptyDirMemorySize: the node's allocatable memory,
lowered to the pod's memory limit (when every container declares one) and to the volume's
sizeLimit, whichever are smaller and positive. Setup is idempotent (an existing tmpfs is kept);
teardown unmounts the tmpfs and removes the directory. sizeLimit of a disk emptyDir is enforced
upstream by eviction, which pocketkube does not do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pocketkube.api.quantity import QuantityError, parse_value
from pocketkube.kubelet.podinputs.volumes import mounts

Obj = dict[str, Any]
PLUGIN = "kubernetes.io~empty-dir"


def _bytes(value: Any) -> int:
    if value is None:
        return 0
    try:
        return parse_value(value).int_value()
    except QuantityError:
        return 0


def pod_memory_limit(pod: Obj) -> int:
    """The pod's memory limit as its cgroup gets it: 0 unless every container declares one;
    max(sum of regular and sidecar limits, largest init limit) plus overhead."""
    spec = pod.get("spec") or {}
    regular, init = spec.get("containers") or [], spec.get("initContainers") or []
    limits = [_bytes(((c.get("resources") or {}).get("limits") or {}).get("memory")) for c in regular + init]
    if not limits or 0 in limits:
        return 0
    sidecars = [c for c in init if c.get("restartPolicy") == "Always"]
    total = sum(_bytes(c["resources"]["limits"]["memory"]) for c in regular + sidecars)
    largest_init = max((_bytes(c["resources"]["limits"]["memory"]) for c in init
                        if c.get("restartPolicy") != "Always"), default=0)
    return max(total, largest_init) + _bytes((spec.get("overhead") or {}).get("memory"))


def memory_size(source: Obj, pod: Obj, allocatable: Mapping[str, Any]) -> int:
    """calculateEmptyDirMemorySize in bytes (0 = no size option)."""
    size = _bytes(allocatable.get("memory"))
    for candidate in (pod_memory_limit(pod), _bytes(source.get("sizeLimit"))):
        if candidate > 0 and (size <= 0 or candidate <= size):
            size = candidate
    return size


def setup(path: Path, source: Obj, pod: Obj, allocatable: Mapping[str, Any]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if source.get("medium") == "Memory":
        if mounts.fs_type(path) != "tmpfs":
            os.chmod(path, 0o777)
            mounts.mount_tmpfs(path, memory_size(source, pod, allocatable))
        return
    if source.get("medium") not in (None, ""):
        raise ValueError(f"unknown storage medium {source.get('medium')!r}")
    os.chmod(path, 0o777)


def teardown(path: Path) -> None:
    mounts.remove_tree(path)
