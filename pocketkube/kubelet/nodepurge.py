"""Removing every host trace of a profile's real node (`pocketkube delete`).

Theory of operation: a clean `pocketkube stop` stops the pods and containerd, but what they
made on the host outlives them (docs reference containerd-cri.md §11), and a stop that was cut
short (SIGKILL, a crash) can leave containers running. `purge_profile(profile_dir)` runs after
the profile's processes were stopped and before its folder is removed, and works without
containerd:
1. kill what still runs: every process in the node's cgroup tree (containers), then every
   process whose command line names the profile folder (containerd, its shims), SIGTERM then
   SIGKILL, waiting until they are gone (zombies count as gone);
2. unmount everything mounted under the profile folder (rootfs overlays, shm, netns, volumes),
   deepest first, lazily;
3. remove the node's cgroup tree (default_cgroup_root) in every hierarchy;
4. undo the host networking the CNI plugins set up, from the snapshot `save_host_snapshot` took
   before the node's first containerd start (kubelet/host-before.json): the cni0 bridge if it
   was not there before and no pod of anyone is attached to it any more, the CNI nat chains
   that appeared since (with their jump rules), and net.ipv4.ip_forward.
Each step tolerates what is already gone; a profile that never ran a real node only has its
(empty) cgroup root checked. Returns a description of what was removed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from pocketkube.kubelet.hostcleanup import (
    CGROUP_ROOT,
    HostSnapshot,
    default_cgroup_root,
    links,
    remove_cgroup,
    restore_host,
)

SNAPSHOT_FILE = Path("kubelet") / "host-before.json"
BRIDGE = "cni0"


def save_host_snapshot(profile_dir: Path, snapshot: HostSnapshot) -> None:
    """Record the host's networking before this profile's first containerd start (kept once written)."""
    path = profile_dir / SNAPSHOT_FILE
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"links": sorted(snapshot.links), "nat_chains": sorted(snapshot.nat_chains),
                                "ip_forward": snapshot.ip_forward}) + "\n")


def load_host_snapshot(profile_dir: Path) -> HostSnapshot | None:
    try:
        data = json.loads((profile_dir / SNAPSHOT_FILE).read_text())
        return HostSnapshot(frozenset(data["links"]), frozenset(data["nat_chains"]), str(data["ip_forward"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def cgroup_pids(cgroup_root: str) -> set[int]:
    pids: set[int] = set()
    rel = cgroup_root.strip("/")
    for hierarchy in (p for p in CGROUP_ROOT.iterdir() if p.is_dir()) if CGROUP_ROOT.is_dir() else ():
        top = hierarchy / rel
        if not top.is_dir():
            continue
        for procs in top.rglob("cgroup.procs"):
            try:
                pids |= {int(x) for x in procs.read_text().split()}
            except (OSError, ValueError):
                continue
    return pids


def profile_pids(profile_dir: Path) -> set[int]:
    """Processes whose command line names the profile folder (not this process or its ancestors)."""
    mine = {os.getpid(), os.getppid()}
    needle = str(profile_dir).encode()
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in mine:
            continue
        try:
            if needle in (proc / "cmdline").read_bytes():
                found.add(int(proc.name))
        except OSError:
            continue
    return {p for p in found if _alive(p)}


def _kill(pids: set[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            continue


def _wait_gone(pids: set[int], timeout: float) -> set[int]:
    deadline = time.monotonic() + timeout
    left = {p for p in pids if _alive(p)}
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = {p for p in left if _alive(p)}
    return left


def stop_processes(profile_dir: Path, cgroup_root: str) -> list[str]:
    done = []
    containers = cgroup_pids(cgroup_root)
    if containers:
        _kill(containers, signal.SIGKILL)
        _wait_gone(containers, 5.0)
        done.append(f"killed {len(containers)} container processes")
    daemons = profile_pids(profile_dir)
    if daemons:
        _kill(daemons, signal.SIGTERM)
        left = _wait_gone(daemons, 5.0)
        _kill(left, signal.SIGKILL)
        _wait_gone(left, 5.0)
        done.append(f"stopped {len(daemons)} processes (containerd, shims)")
    return done


def mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point.startswith(prefix):
            found.append(point)
    return sorted(set(found), key=len, reverse=True)


def unmount_all(path: Path) -> list[str]:
    done = []
    for point in mounts_under(path):
        result = subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        if result.returncode == 0:
            done.append(f"unmounted {point}")
    return done


def bridge_in_use(bridge: str = BRIDGE) -> bool:
    out = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True, text=True,
                         check=False).stdout
    return bool(out.strip())


def restore_network(profile_dir: Path) -> list[str]:
    before = load_host_snapshot(profile_dir)
    if before is None or BRIDGE in before.links or BRIDGE not in links() or bridge_in_use():
        return []
    return restore_host(before, (BRIDGE,))


def purge_profile(profile_dir: Path, cgroup_root: str = "") -> list[str]:
    """Remove the host traces of the profile's node (see the module docstring)."""
    root = cgroup_root or default_cgroup_root(profile_dir)
    done = stop_processes(profile_dir, root)
    done += unmount_all(profile_dir)
    done += [f"cgroup {p}" for p in remove_cgroup(root, prune_parents=True)]
    done += restore_network(profile_dir)
    return done
