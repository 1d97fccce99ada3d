"""What a real node reports about the machine it runs on (read from the host).

Theory of operation: the kubelet's node status setters read the machine once at start-up
(cadvisor's MachineInfo) and the node's addresses on every status update. Here:
- capacity: cpu = the CPUs this process may run on, memory = MemTotal of /proc/meminfo in Ki,
  ephemeral-storage = the size of the filesystem holding the node's state folder in Ki (upstream:
  the kubelet root's filesystem), pods = 110, hugepages 0;
- allocatable: upstream's defaults with no reservations: memory minus the hard eviction
  threshold memory.available<100Mi, ephemeral-storage minus nodefs.available<10% (printed in
  bytes, as the kubelet does), the rest as capacity;
- identity: /etc/machine-id, the DMI product UUID when readable (else derived from the
  machine id), /proc/sys/kernel/random/boot_id, the kernel release, PRETTY_NAME of
  /etc/os-release, the architecture in Go's names;
- the node's IP: the source address of the default route (what the kubelet picks when no
  --node-ip is given), else the first global IPv4 of an interface, else `fallback`.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

KI = 1024
EVICTION_MEMORY = 100 * KI * KI
EVICTION_NODEFS_FRACTION = 0.10
ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


@dataclass(frozen=True, slots=True)
class HostFacts:
    cpus: int
    memory_bytes: int
    storage_bytes: int
    machine_id: str
    system_uuid: str
    boot_id: str
    kernel: str
    os_image: str
    arch: str

    def capacity(self, max_pods: int = 110) -> dict[str, str]:
        return {"cpu": str(self.cpus), "ephemeral-storage": f"{self.storage_bytes // KI}Ki",
                "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": f"{self.memory_bytes // KI}Ki",
                "pods": str(max_pods)}

    def allocatable(self, max_pods: int = 110) -> dict[str, str]:
        memory = max(0, self.memory_bytes - EVICTION_MEMORY)
        storage = int(self.storage_bytes * (1 - EVICTION_NODEFS_FRACTION))
        return {**self.capacity(max_pods), "ephemeral-storage": str(storage), "memory": f"{memory // KI}Ki"}


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def _meminfo_total() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * KI
    return 0


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return platform.system()


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def read_host(state_dir: Path) -> HostFacts:
    machine_id = _read("/etc/machine-id") or uuid.uuid5(uuid.NAMESPACE_DNS, socket.gethostname()).hex
    product = _read("/sys/class/dmi/id/product_uuid").lower()
    st = os.statvfs(state_dir if state_dir.exists() else "/")
    return HostFacts(
        cpus=_cpus(), memory_bytes=_meminfo_total(), storage_bytes=st.f_blocks * st.f_frsize,
        machine_id=machine_id, system_uuid=product or str(uuid.UUID(machine_id.ljust(32, "0")[:32])),
        boot_id=_read("/proc/sys/kernel/random/boot_id") or str(uuid.uuid4()), kernel=platform.release(),
        os_image=_os_image(), arch=ARCHES.get(platform.machine(), platform.machine()))


def default_route_ip() -> str | None:
    """The source address the host uses for its default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("8.8.8.8", 53))  # a routing decision only: UDP connect sends nothing
            ip = str(s.getsockname()[0])
        except OSError:
            return None
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


def first_global_ipv4() -> str | None:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True,
                         check=False).stdout
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            return parts[parts.index("inet") + 1].split("/")[0]
    return None


def node_ip(fallback: str) -> str:
    return default_route_ip() or first_global_ipv4() or fallback
