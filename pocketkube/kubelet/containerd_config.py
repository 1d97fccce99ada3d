"""The files a private containerd needs: config.toml, the CNI conflist and registry hosts.toml (pure).

Theory of operation: one folder holds a whole containerd instance (`ContainerdLayout`): its
root and state, its gRPC socket, the `opt` plugin folder and runc's state root (the defaults of
those last two are shared with any other containerd on the host), the CNI config and IPAM data,
the certs.d tree for registry hosts, its log and pid file. The renderers here only build text;
containerd.py writes it and runs the daemon. The settings that matter on these machines come
from measurements (docs reference containerd-cri.md §1):
- `restrict_oom_score_adj = true`: root here lacks CAP_SYS_RESOURCE, so the sandbox's -998 would
  make every RunPodSandbox fail;
- `required_plugins` + a bolt open timeout: a second containerd on the same root exits after 3 s
  instead of hanging or starting degraded;
- runc `Root` and `opt` path inside the folder; `netns_mounts_under_state_dir` keeps network
  namespaces out of /var/run/netns; stream server on 127.0.0.1 with a random port;
- cgroupfs driver (no systemd here), overlayfs snapshotter, CNI from /usr/lib/cni.
Registry mirrors: `hosts_toml()` makes a registry host pull through our local registry; with
`upstream` the real registry stays behind it as a fallback (only useful when the network
exists: containerd then reports the upstream error, not the mirror's 404, for missing images).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SANDBOX_IMAGE = "registry.k8s.io/pause:3.10"
DEFAULT_POD_CIDR = "10.244.0.0/24"
K8S_NAMESPACE = "k8s.io"
# Registry hosts that get a hosts.toml of their own besides `_default` (which containerd 1.6.20
# consults for any other host).
WELL_KNOWN_REGISTRIES = ("docker.io", "registry.k8s.io", "quay.io", "ghcr.io", "gcr.io", "registry.local")
UPSTREAM_SERVERS = {"docker.io": "https://registry-1.docker.io"}


@dataclass(frozen=True, slots=True)
class ContainerdLayout:
    """Every path of one private containerd instance, under `base`."""

    base: Path

    @property
    def config(self) -> Path:
        return self.base / "config.toml"

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def state(self) -> Path:
        return self.base / "state"

    @property
    def socket(self) -> Path:
        return self.base / "containerd.sock"

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    @property
    def opt(self) -> Path:
        return self.base / "opt"

    @property
    def runc_root(self) -> Path:
        return self.base / "runc"

    @property
    def cni_conf_dir(self) -> Path:
        return self.base / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.base / "cni" / "ipam"

    @property
    def certs_dir(self) -> Path:
        return self.base / "certs.d"

    @property
    def log_file(self) -> Path:
        return self.base / "containerd.log"

    @property
    def pid_file(self) -> Path:
        return self.base / "containerd.pid"

    @property
    def netns_dir(self) -> Path:
        return self.state / "io.containerd.grpc.v1.cri" / "netns"


@dataclass(frozen=True, slots=True)
class ContainerdSettings:
    sandbox_image: str = DEFAULT_SANDBOX_IMAGE
    pod_cidr: str = DEFAULT_POD_CIDR
    bridge: str = "cni0"
    network_name: str = "pocketkube"
    containerd_bin: str = "/usr/bin/containerd"
    runc_bin: str = "/usr/sbin/runc"
    cni_bin_dir: str = "/usr/lib/cni"
    log_level: str = "info"
    max_container_log_line_size: int = 16384


def _q(value: object) -> str:
    """A TOML basic string (JSON string escaping is a valid subset)."""
    return json.dumps(str(value))


def render_config(layout: ContainerdLayout, settings: ContainerdSettings) -> str:
    """config.toml (version 2) for a private instance in `layout`."""
    return "\n".join([
        "version = 2",
        'required_plugins = ["io.containerd.grpc.v1.cri"]',
        f"root = {_q(layout.root)}",
        f"state = {_q(layout.state)}",
        'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",',
        '                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]',
        "",
        "[grpc]",
        f"  address = {_q(layout.socket)}",
        "",
        "[debug]",
        f"  level = {_q(settings.log_level)}",
        "",
        "[timeouts]",
        '  "io.containerd.timeout.bolt.open" = "3s"',
        "",
        '[plugins."io.containerd.internal.v1.opt"]',
        f"  path = {_q(layout.opt)}",
        "",
        *_cri_plugin(layout, settings),
        "",
    ])


def _cri_plugin(layout: ContainerdLayout, settings: ContainerdSettings) -> list[str]:
    cri = '[plugins."io.containerd.grpc.v1.cri"'
    return [
        cri + "]",
        f"  sandbox_image = {_q(settings.sandbox_image)}",
        '  stream_server_address = "127.0.0.1"',
        '  stream_server_port = "0"',
        "  enable_tls_streaming = false",
        "  restrict_oom_score_adj = true",
        "  netns_mounts_under_state_dir = true",
        f"  max_container_log_line_size = {settings.max_container_log_line_size}",
        f"  {cri}.containerd]",
        '    snapshotter = "overlayfs"',
        '    default_runtime_name = "runc"',
        f"    {cri}.containerd.runtimes.runc]",
        '      runtime_type = "io.containerd.runc.v2"',
        f"      {cri}.containerd.runtimes.runc.options]",
        f"        BinaryName = {_q(settings.runc_bin)}",
        "        SystemdCgroup = false",
        f"        Root = {_q(layout.runc_root)}",
        f"  {cri}.cni]",
        f"    bin_dir = {_q(settings.cni_bin_dir)}",
        f"    conf_dir = {_q(layout.cni_conf_dir)}",
        "    max_conf_num = 1",
        f"  {cri}.registry]",
        f"    config_path = {_q(layout.certs_dir)}",
    ]


def render_cni_conflist(layout: ContainerdLayout, settings: ContainerdSettings) -> str:
    """bridge (+ host-local IPAM on the pod CIDR) and portmap; CRI adds loopback itself."""
    conf = {
        "cniVersion": "1.0.0", "name": settings.network_name,
        "plugins": [
            {"type": "bridge", "bridge": settings.bridge, "isGateway": True, "ipMasq": False,
             "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": settings.pod_cidr}]],
                      "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(layout.cni_ipam_dir)}},
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        ],
    }
    return json.dumps(conf, indent=2) + "\n"


def upstream_server(host: str) -> str:
    return UPSTREAM_SERVERS.get(host, f"https://{host}")


def hosts_toml(mirror_url: str, upstream: str | None) -> str:
    """certs.d/<host>/hosts.toml: pull and resolve through `mirror_url`, then `upstream` if given.

    containerd 1.6.20 ignores a hosts.toml without a [host] table (it logs "invalid host tree"
    and pulls from the real registry), so the mirror is always a [host] entry. `server` is the
    last resort: the mirror itself when there is no upstream, so nothing leaves the machine.
    """
    server = upstream or mirror_url
    return "\n".join([
        f"server = {_q(server)}",
        "",
        f"[host.{_q(mirror_url)}]",
        '  capabilities = ["pull", "resolve"]',
        "  skip_verify = true",
        "",
    ])


@dataclass(frozen=True, slots=True)
class NodePaths:
    """Where a node's runtime state lives inside a profile folder (agent and CLI agree on it)."""

    profile_dir: Path

    @property
    def containerd(self) -> ContainerdLayout:
        return ContainerdLayout(self.profile_dir / "containerd")

    @property
    def registry(self) -> Path:
        """The image store the node's local registry serves (oci/store.py layout)."""
        return self.profile_dir / "registry"

    @property
    def registry_url_file(self) -> Path:
        """Written by the node agent while its registry serves: the registry's base URL."""
        return self.profile_dir / "registry" / "url"

    @property
    def pod_logs(self) -> Path:
        """Upstream's /var/log/pods, inside the profile: <ns>_<pod>_<uid>/<container>/<n>.log."""
        return self.profile_dir / "var" / "log" / "pods"
