"""Host state that containerd and the CNI plugins leave behind, and how to remove it.

Theory of operation: some of what running pods creates outlives the pods (measured, docs
reference containerd-cri.md §11): the pod's cgroup parent in every v1 hierarchy and in the
unified one; the `cni0` bridge; the portmap plugin's top-level nat chains (CNI-HOSTPORT-DNAT,
-SETMARK, -MASQ, with jump rules from PREROUTING/OUTPUT/POSTROUTING); net.ipv4.ip_forward=1 set
by the bridge plugin. `remove_cgroup` is the kubelet's pod-cgroup cleanup. For the rest, a
`HostSnapshot` taken before anything starts records what already existed, and `restore_host`
removes only what appeared since (a bridge or chain that was there before belongs to somebody
else) and puts ip_forward back. The node agent calls it when a profile is deleted; e2e tests
call it in teardown.
"""

from __future__ import annotations

import contextlib
import hashlib
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
CNI_CHAIN_PREFIX = "CNI-"


def remove_cgroup(parent: str, root: Path = CGROUP_ROOT, prune_parents: bool = False) -> list[str]:
    """rmdir `parent` (a cgroupfs path such as /kubepods/pod<uid>) in every hierarchy, deepest first.

    Groups still holding processes cannot be removed and are skipped; with `prune_parents` the
    ancestors of `parent` are removed too while they are empty. Returns what was removed.
    """
    removed: list[str] = []
    rel = parent.strip("/")
    if not rel or not root.is_dir():
        return removed
    for hierarchy in sorted(p for p in root.iterdir() if p.is_dir()):
        top = hierarchy / rel
        if not top.is_dir():
            continue
        dirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        ancestors = list(top.relative_to(hierarchy).parents)[:-1] if prune_parents else []
        for d in [*dirs, top, *(hierarchy / a for a in ancestors)]:
            try:
                d.rmdir()
            except OSError:
                continue
            removed.append(str(d))
    return removed


def _run(*cmd: str) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return result.stdout if result.returncode == 0 else ""


def links() -> set[str]:
    return {line.split()[0].split("@")[0] for line in _run("ip", "-br", "link").splitlines() if line.strip()}


def nat_chains(prefix: str = CNI_CHAIN_PREFIX) -> set[str]:
    return {line.split()[1] for line in _run("iptables", "-t", "nat", "-S").splitlines()
            if line.startswith("-N ") and line.split()[1].startswith(prefix)}


@dataclass(frozen=True, slots=True)
class HostSnapshot:
    links: frozenset[str]
    nat_chains: frozenset[str]
    ip_forward: str


def snapshot_host() -> HostSnapshot:
    try:
        forward = IP_FORWARD.read_text().strip()
    except OSError:
        forward = ""
    return HostSnapshot(frozenset(links()), frozenset(nat_chains()), forward)


def delete_nat_chains(chains: set[str]) -> None:
    """Remove every rule jumping to `chains`, then flush and delete the chains themselves."""
    if not chains:
        return
    for line in _run("iptables", "-t", "nat", "-S").splitlines():
        parts = shlex.split(line)
        if parts[:1] == ["-A"] and "-j" in parts and parts[parts.index("-j") + 1] in chains:
            subprocess.run(["iptables", "-t", "nat", "-D", *parts[1:]], capture_output=True, check=False)
    for chain in chains:
        subprocess.run(["iptables", "-t", "nat", "-F", chain], capture_output=True, check=False)
    for chain in chains:
        subprocess.run(["iptables", "-t", "nat", "-X", chain], capture_output=True, check=False)


def restore_host(before: HostSnapshot, bridges: tuple[str, ...] = ("cni0",)) -> list[str]:
    """Undo what pods left on the host since `before`; returns a description of what was removed."""
    done = []
    for bridge in bridges:
        if bridge not in before.links and bridge in links():
            subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
            done.append(f"link {bridge}")
    new_chains = nat_chains() - before.nat_chains
    delete_nat_chains(new_chains)
    done += [f"nat chain {c}" for c in sorted(new_chains)]
    if before.ip_forward:
        with contextlib.suppress(OSError):
            if IP_FORWARD.read_text().strip() != before.ip_forward:
                IP_FORWARD.write_text(before.ip_forward + "\n")
                done.append(f"ip_forward={before.ip_forward}")
    return done


def default_cgroup_root(profile_dir: Path) -> str:
    digest = hashlib.sha256(str(profile_dir.resolve()).encode()).hexdigest()[:8]
    return f"/pocketkube/{profile_dir.name}-{digest}/kubepods"
