from __future__ import annotations

import pytest

from pocketkube.kubelet import ipam


def test_address_plan() -> None:
    assert ipam.pod_cidr_for_index(0) == "10.244.0.0/24"
    assert ipam.pod_cidr_for_index(5) == "10.244.5.0/24"
    assert ipam.pod_cidr_for_index(256) == "10.245.0.0/24"
    assert ipam.pod_cidr_for_index(499) == "10.245.243.0/24"
    for i in (0, 7, 255, 256, 3071):
        assert ipam.index_of_cidr(ipam.pod_cidr_for_index(i)) == i
    assert ipam.index_of_cidr("10.100.0.0/24") is None
    assert ipam.index_of_cidr("10.244.0.0/16") is None
    assert ipam.index_of_cidr("bogus") is None
    assert ipam.node_ip_for_index(0) == "10.89.0.2"
    assert ipam.node_ip_for_index(300) == "10.89.1.46"
    with pytest.raises(ipam.AddressExhausted):
        ipam.pod_cidr_for_index(ipam.MAX_NODE_INDEX + 1)


def test_lowest_free_index() -> None:
    assert ipam.lowest_free_index([]) == 0
    assert ipam.lowest_free_index([0, 1, 3]) == 2


def test_allocator_never_collides_and_is_round_robin() -> None:
    a = ipam.PodIPAllocator("10.244.3.0/24")
    assert a.capacity == 253
    first = a.allocate("p1")
    assert first == "10.244.3.2"
    assert a.allocate("p1") == first  # idempotent per owner
    second = a.allocate("p2")
    assert second == "10.244.3.3"
    a.release("p1")
    assert a.allocate("p3") == "10.244.3.4"  # freed address not reused at once
    ips = {a.allocate(f"x{i}") for i in range(a.capacity - 2)}
    assert len(ips) == a.capacity - 2 and first in ips and second not in ips
    with pytest.raises(ipam.AddressExhausted):
        a.allocate("one-too-many")


def test_reserve_restores_addresses() -> None:
    a = ipam.PodIPAllocator("10.244.0.0/24")
    assert a.reserve("10.244.0.9", "p1")
    assert a.reserve("10.244.0.9", "p1")
    assert not a.reserve("10.244.0.9", "p2")
    assert not a.reserve("10.244.1.9", "p3")
    assert not a.reserve("10.244.0.1", "p3")  # the gateway
    assert a.allocate("p1") == "10.244.0.9"
    assert a.allocated() == 1
