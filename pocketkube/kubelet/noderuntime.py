"""The node agent's runtime stack in one object: image registry, containerd, CRI runtime.

Theory of operation: `NodeRuntime(NodeRuntimeConfig(profile_dir=...))` is what the node agent
starts before it registers its node and stops on `pocketkube stop`:
1. the builtin images (busybox, pause; oci/build.py) are built once into a cache folder and put
   into the node's image store, so they are pullable like any loaded image;
2. the local registry (oci/registry.py) serves that store on 127.0.0.1 (a free port, written to
   `<profile>/registry/url`);
3. unless an external CRI endpoint is given, the private containerd (containerd.py) is prepared,
   its certs.d points docker.io, the well-known registries and `_default` at the registry
   (with the real registries as fallback only when their DNS name resolves, i.e. the network
   exists), and it is started, or adopted if a previous agent left it running;
4. the pause image is imported straight into containerd (no pull on the first RunPodSandbox);
5. a `CRIRuntime` is connected, with pod logs under `<profile>/var/log/pods` and pod cgroups
   under `cgroup_root` (default /pocketkube/<profile>-<hash of its folder>/kubepods, so profiles,
   even of the same name in another POCKETKUBE_HOME, do not collide).
`missing_prerequisites()` tells whether this host can run a real node at all (root; the
containerd, runc and CNI plugin binaries), which is how `pocketkube start` picks its default.
`stop()` undoes 5..2 in reverse (containers keep running: their shims outlive containerd).
`delete_host_state()` is for `pocketkube delete`: it removes the cgroup root and, given the
snapshot taken before the first start, the bridge and CNI chains the pods left.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from pocketkube.kubelet.containerd import ContainerdManager
from pocketkube.kubelet.containerd_config import ContainerdSettings, NodePaths
from pocketkube.kubelet.hostcleanup import HostSnapshot, default_cgroup_root, remove_cgroup, restore_host
from pocketkube.kubelet.oci.archive import open_archive
from pocketkube.kubelet.oci.build import BUSYBOX_IMAGE, PAUSE_IMAGE, ensure_builtin_images
from pocketkube.kubelet.oci.loader import import_for_cri, load_archive
from pocketkube.kubelet.oci.registry import LocalRegistry
from pocketkube.kubelet.runtime.cri import CRIRuntime
from pocketkube.kubelet.runtime.cri_types import DNSConfig

UPSTREAM_PROBE_HOST = "registry-1.docker.io"
# What a real node needs on the host, and the Debian package that provides it.
REQUIRED_BINARIES = {"/usr/bin/containerd": "containerd", "/usr/bin/ctr": "containerd", "/usr/sbin/runc": "runc",
                     "/usr/lib/cni/bridge": "containernetworking-plugins",
                     "/usr/lib/cni/host-local": "containernetworking-plugins",
                     "/usr/lib/cni/portmap": "containernetworking-plugins",
                     "/usr/lib/cni/loopback": "containernetworking-plugins"}


def missing_prerequisites() -> list[str]:
    """What this host lacks to run a real node ([] = it can), each naming the apt package to install."""
    missing = [] if os.geteuid() == 0 else ["root"]
    return missing + [f"{path} (apt package {pkg})" for path, pkg in REQUIRED_BINARIES.items()
                      if not os.path.exists(path)]


def network_available(host: str = UPSTREAM_PROBE_HOST, timeout: float = 2.0) -> bool:
    """Whether the upstream registry's name resolves (no DNS here means no upstream fallback)."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    finally:
        socket.setdefaulttimeout(previous)
    return True


@dataclass(frozen=True, slots=True)
class NodeRuntimeConfig:
    profile_dir: Path
    pod_cidr: str = "10.244.0.0/24"
    cri_endpoint: str | None = None
    cgroup_root: str = ""  # default: default_cgroup_root(profile_dir)
    image_cache: Path | None = None
    upstream_fallback: bool | None = None
    dns: DNSConfig | None = None
    settings: ContainerdSettings = field(default_factory=ContainerdSettings)


class NodeRuntime:
    def __init__(self, config: NodeRuntimeConfig) -> None:
        self.config = config
        self.paths = NodePaths(config.profile_dir)
        settings = dataclasses.replace(config.settings, pod_cidr=config.pod_cidr)
        self.containerd = ContainerdManager(self.paths.containerd, settings)
        self.registry = LocalRegistry(self.paths.registry)
        self.runtime: CRIRuntime | None = None
        self.cgroup_root = config.cgroup_root or default_cgroup_root(config.profile_dir)

    @property
    def endpoint(self) -> str:
        return self.config.cri_endpoint or self.containerd.endpoint

    async def start(self) -> CRIRuntime:
        archives = await asyncio.to_thread(ensure_builtin_images, self.config.image_cache)
        for path in archives.values():
            with open_archive(path) as archive:
                await load_archive(archive, store=self.registry.store)
        url = await self.registry.start()
        self.paths.registry_url_file.write_text(url + "\n")
        if self.config.cri_endpoint is None:
            fallback = self.config.upstream_fallback
            if fallback is None:
                fallback = await asyncio.to_thread(network_available)
            self.containerd.prepare()
            self.containerd.write_mirror_hosts(url, upstream_fallback=fallback)
            await self.containerd.start()
            await self._import(archives[PAUSE_IMAGE])
        self.runtime = await CRIRuntime.connect(self.endpoint, log_root=self.paths.pod_logs,
                                                cgroup_root=self.cgroup_root, dns=self.config.dns)
        return self.runtime

    async def _import(self, archive_path: Path) -> None:
        await import_for_cri(self.endpoint, archive_path)

    async def preload(self, names: tuple[str, ...] = (BUSYBOX_IMAGE,)) -> None:
        """Import builtin images into containerd ahead of use (benchmarks: no pull in the figure)."""
        archives = await asyncio.to_thread(ensure_builtin_images, self.config.image_cache)
        for name in names:
            await self._import(archives[name])

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.close()
            self.runtime = None
        if self.config.cri_endpoint is None:
            await self.containerd.stop()
        await self.registry.stop()
        self.paths.registry_url_file.unlink(missing_ok=True)

    def delete_host_state(self, before: HostSnapshot | None = None) -> list[str]:
        """After every pod is removed and containerd stopped: drop the cgroup root (and, given the
        snapshot taken before the first start, the bridge, CNI nat chains and ip_forward)."""
        done = remove_cgroup(self.cgroup_root, prune_parents=True)
        if before is not None:
            done += restore_host(before, (self.containerd.settings.bridge,))
        return done

