"""A pod's resolv.conf and /etc/hosts, as the kubelet writes them (pure).

Theory of operation (upstream pkg/kubelet/network/dns and the kubelet's hosts-file mount, v1.32):
- DNS by spec.dnsPolicy: ClusterFirst (the default) gives the cluster DNS server (10.96.0.10),
  the searches `<ns>.svc.<domain> svc.<domain> <domain>` followed by the host's own searches,
  and `options ndots:5`; a hostNetwork pod with ClusterFirst, and dnsPolicy Default, get the
  host's resolv.conf (the kubelet's --resolv-conf); ClusterFirstWithHostNet is ClusterFirst even
  on the host network; None starts empty. spec.dnsConfig is merged last: its nameservers and
  searches are appended (duplicates dropped), its options override by name. At most 3
  nameservers and 32 searches are kept, as the kubelet trims them.
- /etc/hosts (a file the kubelet owns, bind-mounted into every container that does not mount
  /etc/hosts itself): the "Kubernetes-managed hosts file." header, the loopback and IPv6
  entries, one line per pod IP with `<hostname>.<subdomain>.<ns>.svc.<domain>\t<hostname>` (or
  just the hostname without a subdomain), then "# Entries added by HostAliases." with
  spec.hostAliases. A hostNetwork pod gets the node's /etc/hosts under a "(host network)"
  header, plus its host aliases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pocketkube.kubelet.runtime.cri_types import DNSConfig

Obj = dict[str, Any]
CLUSTER_DNS = ("10.96.0.10",)
CLUSTER_DOMAIN = "cluster.local"
DEFAULT_OPTIONS = ("ndots:5",)
MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
MANAGED_HEADER = "# Kubernetes-managed hosts file.\n"
HOST_NETWORK_HEADER = "# Kubernetes-managed hosts file (host network).\n"
LOOPBACK_ENTRIES = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
                    "fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")


@dataclass(frozen=True, slots=True)
class ResolvConf:
    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


def parse_resolv_conf(text: str) -> ResolvConf:
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            searches = fields[1:]  # the last search/domain line wins, as in resolv.conf(5)
        elif fields[0] == "options":
            options += fields[1:]
    return ResolvConf(tuple(servers), tuple(searches), tuple(options))


def _dedupe(items: Sequence[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out


def _merge_options(base: Sequence[str], extra: Sequence[Obj]) -> list[str]:
    merged: dict[str, str] = {}
    for opt in base:
        merged[opt.partition(":")[0]] = opt
    for item in extra:
        name = str(item.get("name") or "")
        if name:
            merged[name] = f"{name}:{item['value']}" if item.get("value") is not None else name
    return list(merged.values())


def dns_config(pod: Obj, host: ResolvConf, *, cluster_dns: Sequence[str] = CLUSTER_DNS,
               cluster_domain: str = CLUSTER_DOMAIN) -> DNSConfig:
    spec = pod.get("spec") or {}
    ns = str((pod.get("metadata") or {}).get("namespace") or "default")
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and cluster_dns:
        servers = list(cluster_dns)
        searches = [f"{ns}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain, *host.searches]
        options = list(DEFAULT_OPTIONS)
    elif policy == "None":
        servers, searches, options = [], [], []
    else:
        servers, searches, options = list(host.nameservers), list(host.searches), list(host.options)
    extra = spec.get("dnsConfig") or {}
    servers = _dedupe([*servers, *(extra.get("nameservers") or [])])[:MAX_NAMESERVERS]
    searches = _dedupe([*searches, *(extra.get("searches") or [])])[:MAX_SEARCHES]
    options = _merge_options(options, extra.get("options") or [])
    return DNSConfig(servers=tuple(servers), searches=tuple(searches), options=tuple(options))


def pod_hostname(pod: Obj) -> str:
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    return str(spec.get("hostname") or meta.get("name") or "")[:63].rstrip("-.")


def _aliases(spec: Obj) -> str:
    aliases = spec.get("hostAliases") or []
    if not aliases:
        return ""
    lines = "".join(f"{a.get('ip', '')}\t" + "\t".join(a.get("hostnames") or []) + "\n" for a in aliases)
    return "\n# Entries added by HostAliases.\n" + lines


def hosts_file(pod: Obj, pod_ips: Sequence[str], *, node_hosts: str = "",
               cluster_domain: str = CLUSTER_DOMAIN) -> str:
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork"):
        return HOST_NETWORK_HEADER + node_hosts + _aliases(spec)
    hostname = pod_hostname(pod)
    subdomain = spec.get("subdomain")
    ns = str((pod.get("metadata") or {}).get("namespace") or "default")
    name_line = f"{hostname}.{subdomain}.{ns}.svc.{cluster_domain}\t{hostname}" if subdomain else hostname
    own = "".join(f"{ip}\t{name_line}\n" for ip in pod_ips if ip)
    return MANAGED_HEADER + LOOPBACK_ENTRIES + own + _aliases(spec)


def mounts_etc_hosts(container: Obj) -> bool:
    """The container mounts something at /etc/hosts itself (then the kubelet's file is not mounted)."""
    return any((m.get("mountPath") or "").rstrip("/") == "/etc/hosts" for m in container.get("volumeMounts") or [])
