"""Address plan of simulated nodes and the per-node pod IP allocator (pure).

Theory of operation: simulated node number `i` (0, 1, 2, ... in the order the
agent first took the node over) gets pod CIDR 10.244.i.0/24, the layout
upstream's node-ipam controller produces for cluster CIDR 10.244.0.0/16 with
/24 node masks. A /16 holds 256 nodes; beyond that the plan continues into
10.245.0.0/16, 10.246.0.0/16, ... (upstream would refuse; pocketkube extends so
that 500-node scale runs work), up to 10.255.255.0/24. The node's InternalIP is
10.89.0.0/16 + i + 2 (a network reserved for simulated nodes: never routed,
never loopback, so every API validation accepts it).

`PodIPAllocator` is host-local IPAM for one node: .1 is the bridge gateway,
addresses are handed out round-robin from the last allocation (so a freed
address is not reused at once, as host-local does), each owned by a pod uid;
`reserve` re-registers an address a pod already has (agent restart).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

POD_NETWORK_BASE = ipaddress.IPv4Address("10.244.0.0")
NODE_NETWORK_BASE = ipaddress.IPv4Address("10.89.0.0")
MAX_NODE_INDEX = (256 - 244) * 256 - 1


class AddressExhausted(Exception):
    pass


def pod_cidr_for_index(index: int) -> str:
    if not 0 <= index <= MAX_NODE_INDEX:
        raise AddressExhausted(f"no pod CIDR for node index {index}")
    return f"{POD_NETWORK_BASE + index * 256}/24"


def index_of_cidr(cidr: str) -> int | None:
    """The node index of a pod CIDR of the plan, or None for other CIDRs."""
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    if net.version != 4 or net.prefixlen != 24:
        return None
    offset = int(net.network_address) - int(POD_NETWORK_BASE)
    if offset < 0 or offset % 256:
        return None
    index = offset // 256
    return index if index <= MAX_NODE_INDEX else None


def node_ip_for_index(index: int) -> str:
    return str(NODE_NETWORK_BASE + index + 2)


def lowest_free_index(used: Iterable[int]) -> int:
    taken = set(used)
    for i in range(MAX_NODE_INDEX + 1):
        if i not in taken:
            return i
    raise AddressExhausted("every simulated node pod CIDR is in use")


class PodIPAllocator:
    def __init__(self, cidr: str) -> None:
        net = ipaddress.ip_network(cidr, strict=False)
        self.cidr = str(net)
        self._first = int(net.network_address) + 2
        self._last = int(net.broadcast_address) - 1
        self._next = self._first
        self._owner_of: dict[int, str] = {}
        self._ip_of: dict[str, int] = {}

    @property
    def capacity(self) -> int:
        return self._last - self._first + 1

    def allocated(self) -> int:
        return len(self._owner_of)

    def allocate(self, owner: str) -> str:
        """The owner's address (the same one again if it already has one)."""
        if owner in self._ip_of:
            return str(ipaddress.IPv4Address(self._ip_of[owner]))
        size = self.capacity
        for step in range(size):
            candidate = self._first + (self._next - self._first + step) % size
            if candidate not in self._owner_of:
                self._take(candidate, owner)
                self._next = candidate + 1 if candidate < self._last else self._first
                return str(ipaddress.IPv4Address(candidate))
        raise AddressExhausted(f"no free address in {self.cidr}")

    def reserve(self, ip: str, owner: str) -> bool:
        """Register an address a pod already uses; False if it is outside the range or taken."""
        try:
            value = int(ipaddress.IPv4Address(ip))
        except ValueError:
            return False
        if not self._first <= value <= self._last:
            return False
        holder = self._owner_of.get(value)
        if holder is not None:
            return holder == owner
        self.release(owner)
        self._take(value, owner)
        return True

    def release(self, owner: str) -> None:
        value = self._ip_of.pop(owner, None)
        if value is not None:
            self._owner_of.pop(value, None)

    def _take(self, value: int, owner: str) -> None:
        self._owner_of[value] = owner
        self._ip_of[owner] = value
