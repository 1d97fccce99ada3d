"""The node agent's volume manager: pod volumes on disk, their resync, their teardown.

Theory of operation (upstream's volume manager + the in-tree plugins, reduced to what a single
node needs): every volume of a pod lives at `<root>/pods/<uid>/volumes/<plugin>/<name>` (plugin
`kubernetes.io~configmap`, `~secret`, `~empty-dir`, `~downward-api`, `~projected`), except hostPath
which is the node's path itself.
- `setup(pod)` makes each volume not yet set up (cheap to call on every pod sync; each volume
  independently): emptyDir (disk, or a sized tmpfs for medium Memory), hostPath (type check),
  and the projected kinds - configMap, secret, downwardAPI, projected - whose payload is computed
  (objects GET'd through the client, tokens from the TokenRequest API) and written with the
  AtomicWriter; secret and projected volumes sit on a tmpfs of their own, as upstream. fsGroup ownership is applied. Failures become FailedMount
  events (`MountVolume.SetUp failed for volume "cfg" : configmap "cfg" not found`) and one
  `VolumeSetupError` listing them; the caller keeps the pod in ContainerCreating and retries.
- `refresh(pod)` rewrites the projected kinds (a ConfigMap edit, a label change, a token near
  expiry); unchanged payloads touch nothing. `run()` refreshes every set-up pod each
  `sync_period` (60 s, upstream's sync frequency; tests pass less), with the latest pod object the
  caller gave to setup/refresh/`update_pod`, so edits reach running containers within about a minute.
- `mounts(pod, container, envs)` (containermounts.py) gives the CRI mounts of a container.
- `teardown(uid)` unmounts every tmpfs and subPath bind of the pod and removes its folder (never
  while something is still mounted below it).
Filesystem work runs in worker threads; operations on one pod are serialised by a per-pod lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pocketkube.client.rest import ApiError, ResourceRef, RESTClient
from pocketkube.kubelet.clock import Clock
from pocketkube.kubelet.podinputs.errors import VolumeSetupError, failed_mount_message
from pocketkube.kubelet.podinputs.eventsink import WARNING, EventSink, discard
from pocketkube.kubelet.podinputs.volumes import (
    configmap,
    downwardapi,
    emptydir,
    hostpath,
    mounts,
    ownership,
    projected,
    secret,
    subpath,
)
from pocketkube.kubelet.podinputs.volumes.atomic_writer import AtomicWriter, FileProjection, PayloadError
from pocketkube.kubelet.podinputs.volumes.containermounts import container_mounts
from pocketkube.kubelet.podinputs.volumes.token import TokenManager
from pocketkube.kubelet.runtime.cri_types import Mount

log = logging.getLogger("pocketkube.kubelet.volumes")
Obj = dict[str, Any]
CONFIGMAPS = ResourceRef("", "v1", "configmaps")
SECRETS = ResourceRef("", "v1", "secrets")
PLUGINS = {"emptyDir": emptydir.PLUGIN, "configMap": configmap.PLUGIN, "secret": secret.PLUGIN,
           "downwardAPI": downwardapi.PLUGIN, "projected": projected.PLUGIN}
KINDS = (*PLUGINS, "hostPath")
PROJECTED_KINDS = frozenset({"configMap", "secret", "downwardAPI", "projected"})
MEMORY_BACKED = frozenset({"secret", "projected"})


def volume_kind(volume: Obj) -> str:
    for kind in KINDS:
        if volume.get(kind) is not None:
            return kind
    return next((k for k in volume if k != "name"), "")


def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid") or "")


class VolumeManager:
    def __init__(self, root_dir: str | Path, client: RESTClient, clock: Clock, *, events: EventSink = discard,
                 allocatable: Callable[[], Mapping[str, Any]] = dict, sync_period: float = 60.0,
                 memory_backed: bool = True) -> None:
        self.root = Path(root_dir)
        self.client = client
        self.clock = clock
        self.events = events
        self.allocatable = allocatable
        self.sync_period = sync_period
        self.memory_backed = memory_backed
        self.tokens = TokenManager(client, clock.now)
        self._pods: dict[str, Obj] = {}
        self._ready: dict[str, set[str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------------ paths and objects
    def pod_dir(self, uid: str) -> Path:
        return self.root / "pods" / uid

    def volume_path(self, pod: Obj, volume: Obj) -> str:
        kind = volume_kind(volume)
        if kind == "hostPath":
            return str(volume["hostPath"].get("path") or "")
        return str(self.pod_dir(_uid(pod)) / "volumes" / PLUGINS.get(kind, kind) / str(volume.get("name")))

    async def _get(self, ref: ResourceRef, namespace: str, name: str) -> Obj | None:
        try:
            return await self.client.get(ref, name, namespace)
        except ApiError as e:
            if e.not_found:
                return None
            raise

    async def get_configmap(self, namespace: str, name: str) -> Obj | None:
        """The ConfigMap, or None when it does not exist (other API errors raise)."""
        return await self._get(CONFIGMAPS, namespace, name)

    async def get_secret(self, namespace: str, name: str) -> Obj | None:
        return await self._get(SECRETS, namespace, name)

    def _lock(self, uid: str) -> asyncio.Lock:
        return self._locks.setdefault(uid, asyncio.Lock())

    # ------------------------------------------------------------------ setup / refresh
    async def setup(self, pod: Obj) -> None:
        """Set up every volume of `pod`; raises VolumeSetupError naming those that failed."""
        uid = _uid(pod)
        async with self._lock(uid):
            self._pods[uid] = pod
            ready = self._ready.setdefault(uid, set())
            failures = {}
            for volume in (pod.get("spec") or {}).get("volumes") or []:
                if volume["name"] in ready:
                    continue  # set up before: contents follow through refresh/resync
                error = await self._setup_volume(pod, volume, refresh=False)
                if error is None:
                    ready.add(volume["name"])
                else:
                    failures[volume["name"]] = error
            if failures:
                raise VolumeSetupError(failures)

    def update_pod(self, pod: Obj) -> None:
        """Remember the latest pod object (labels/annotations for downwardAPI) for the next resync."""
        uid = _uid(pod)
        if uid in self._pods:
            self._pods[uid] = pod

    async def refresh(self, pod: Obj) -> None:
        """Rewrite the projected volumes of a set-up pod (FailedMount events on failure)."""
        uid = _uid(pod)
        async with self._lock(uid):
            if uid not in self._ready:
                return
            self._pods[uid] = pod
            for volume in (pod.get("spec") or {}).get("volumes") or []:
                if volume_kind(volume) in PROJECTED_KINDS and volume["name"] in self._ready[uid]:
                    await self._setup_volume(pod, volume, refresh=True)

    async def _setup_volume(self, pod: Obj, volume: Obj, refresh: bool) -> str | None:
        """Set up (or refresh) one volume; the FailedMount error text, or None."""
        kind = volume_kind(volume)
        try:
            if kind in PROJECTED_KINDS:
                data = await self._payload(kind, volume[kind], pod)
                await asyncio.to_thread(self._write_projected, pod, volume, data)
            elif refresh:
                return None
            elif kind == "emptyDir":
                path = Path(self.volume_path(pod, volume))
                await asyncio.to_thread(self._setup_empty_dir, path, volume["emptyDir"], pod)
            elif kind == "hostPath":
                await asyncio.to_thread(hostpath.setup, volume["hostPath"])
            else:
                raise ValueError(f"volume type {kind!r} is not supported by pocketkube")
        except Exception as e:  # each volume fails on its own, as upstream's operation executor
            message = str(e)
            log.info("volume %s of pod %s: %s", volume.get("name"), _uid(pod), message)
            self.events(pod, WARNING, "FailedMount", failed_mount_message(str(volume.get("name")), message))
            return message
        return None

    async def _payload(self, kind: str, source: Obj, pod: Obj) -> dict[str, FileProjection]:
        ns = str((pod.get("metadata") or {}).get("namespace") or "")
        if kind == "downwardAPI":
            return downwardapi.payload(source, pod, self.allocatable())
        if kind == "projected":
            return await projected.payload(source, pod, get_configmap=self.get_configmap,
                                           get_secret=self.get_secret, tokens=self.tokens,
                                           allocatable=self.allocatable())
        name, optional = str(source.get("name") or source.get("secretName") or ""), bool(source.get("optional"))
        getter = self.get_configmap if kind == "configMap" else self.get_secret
        obj = await getter(ns, name)
        if obj is None and not optional:
            raise LookupError(f'{"configmap" if kind == "configMap" else "secret"} "{name}" not found')
        try:
            return configmap.payload(source, obj) if kind == "configMap" else secret.payload(source, obj)
        except configmap.PayloadMissing as e:
            raise LookupError(str(e)) from e

    def _write_projected(self, pod: Obj, volume: Obj, data: Mapping[str, FileProjection]) -> None:
        path = Path(self.volume_path(pod, volume))
        if not path.is_dir():
            self._make_volume_dir(path, volume_kind(volume) in MEMORY_BACKED, pod)
        gid = ownership.fs_group(pod)
        try:
            AtomicWriter(path).write(data, lambda d: ownership.set_volume_ownership(d, gid, True))
        except PayloadError as e:
            raise ValueError(str(e)) from e

    def _make_volume_dir(self, path: Path, memory: bool, pod: Obj) -> None:
        if memory and self.memory_backed:
            try:
                emptydir.setup(path, {"medium": "Memory"}, pod, self.allocatable())
                return
            except mounts.MountError as e:
                log.warning("no tmpfs for %s (%s): using the disk", path, e)
        emptydir.setup(path, {}, pod, self.allocatable())

    def _setup_empty_dir(self, path: Path, source: Obj, pod: Obj) -> None:
        emptydir.setup(path, source, pod, self.allocatable())
        ownership.set_volume_ownership(path, ownership.fs_group(pod), False)

    # ------------------------------------------------------------------ containers
    async def mounts(self, pod: Obj, container: Obj, envs: list[tuple[str, str]] | None = None) -> list[Mount]:
        """The CRI mounts of `container` (ContainerConfigError as upstream's makeMounts)."""
        uid = _uid(pod)
        return await container_mounts(pod, container, envs or [], ready=self._ready.get(uid, set()),
                                      volume_path=lambda v: self.volume_path(pod, v), pod_dir=self.pod_dir(uid))

    # ------------------------------------------------------------------ teardown and resync
    async def teardown(self, pod_uid: str) -> None:
        """Unmount and remove everything of the pod (idempotent)."""
        async with self._lock(pod_uid):
            await asyncio.to_thread(self._remove_pod_dir, self.pod_dir(pod_uid))
            self._pods.pop(pod_uid, None)
            self._ready.pop(pod_uid, None)
            self.tokens.forget_pod(pod_uid)
        self._locks.pop(pod_uid, None)

    @staticmethod
    def _remove_pod_dir(pod_dir: Path) -> None:
        subpath.cleanup(pod_dir)
        mounts.remove_tree(pod_dir)

    def pods_on_disk(self) -> list[str]:
        """Uids that have a folder (to tear down orphans after an agent restart)."""
        base = self.root / "pods"
        return sorted(p.name for p in base.iterdir()) if base.is_dir() else []

    async def resync(self) -> None:
        for pod in list(self._pods.values()):
            await self.refresh(pod)
        self.tokens.gc(self.clock.now())

    async def run(self) -> None:
        while True:
            await self.clock.sleep(self.sync_period)
            await self.resync()
