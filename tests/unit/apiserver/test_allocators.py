"""ServiceAllocator: ClusterIPs and NodePorts, upstream error wording, rollback and release."""

from __future__ import annotations

import ipaddress
import random
from typing import Any

import pytest

from pocketkube.apiserver.allocators import ServiceAllocator
from pocketkube.machinery.errors import StatusError


def alloc(**kw: Any) -> ServiceAllocator:
    return ServiceAllocator(rng=random.Random(7), **kw)


def svc(name: str = "s", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": spec}


# --- IPs -----------------------------------------------------------------------------------------


def test_dynamic_ips_come_from_the_upper_band() -> None:
    a = alloc()
    seen = {a.allocate_ip("") for _ in range(200)}
    assert len(seen) == 200
    for ip in seen:
        offset = int(ipaddress.ip_address(ip)) - int(a.cidr.network_address)
        assert 257 <= offset <= a.cidr.num_addresses - 2
    assert seen <= a.used_ips


def test_requested_ip() -> None:
    a = alloc()
    assert a.allocate_ip("10.96.0.10") == "10.96.0.10"
    assert "10.96.0.10" in a.used_ips


@pytest.mark.parametrize("requested,why", [
    ("10.96.0.10", "provided IP is already allocated"),
    ("10.0.0.1", "the provided IP (10.0.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12"),
    ("10.96.0.0", "the provided IP (10.96.0.0) is not in the valid range. The range of valid IPs is 10.96.0.0/12"),
    ("10.111.255.255",
     "the provided IP (10.111.255.255) is not in the valid range. The range of valid IPs is 10.96.0.0/12"),
    ("not-an-ip", "not a valid IP"),
])
def test_requested_ip_errors(requested: str, why: str) -> None:
    a = alloc()
    a.allocate_ip("10.96.0.10")
    with pytest.raises(StatusError) as e:
        a.allocate_ip(requested)
    assert (e.value.code, e.value.reason) == (422, "Invalid")
    assert e.value.message == f"failed to allocate IP {requested}: {why}"


def test_small_range_fills_up() -> None:
    a = alloc(cidr=ipaddress.IPv4Network("10.0.0.0/29"))
    ips = {a.allocate_ip("") for _ in range(6)}
    assert ips == {f"10.0.0.{i}" for i in range(1, 7)}
    with pytest.raises(StatusError) as e:
        a.allocate_ip("")
    assert (e.value.code, e.value.message) == (500, "Internal error occurred: failed to allocate a serviceIP: "
                                                    "range is full")
    a.release(["10.0.0.3"], [])
    assert a.allocate_ip("") == "10.0.0.3"


# --- ports -------------------------------------------------------------------------------------------


def test_ports() -> None:
    a = alloc()
    p = a.allocate_port(0)
    assert 30000 <= p <= 32767
    assert a.allocate_port(30080) == 30080
    with pytest.raises(ValueError) as e:
        a.allocate_port(30080)
    assert str(e.value) == "provided port is already allocated"
    with pytest.raises(ValueError) as e:
        a.allocate_port(80)
    assert str(e.value) == "provided port is not in the valid range. The range of valid ports is 30000-32767"
    a.release([], [30080])
    assert a.allocate_port(30080) == 30080


def test_port_range_fills_up() -> None:
    a = alloc(ports=(30000, 30002))
    assert {a.allocate_port(0) for _ in range(3)} == {30000, 30001, 30002}
    with pytest.raises(ValueError, match="range is full"):
        a.allocate_port(0)


# --- whole services ------------------------------------------------------------------------------------


def test_cluster_ip_service() -> None:
    a = alloc()
    s = svc(ports=[{"port": 80}])
    taken = a.assign(s, None)
    ip = s["spec"]["clusterIP"]
    assert taken == ({ip}, set())
    assert s["spec"]["clusterIPs"] == [ip]
    assert (s["spec"]["ipFamilies"], s["spec"]["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
    assert "nodePort" not in s["spec"]["ports"][0]


def test_headless_and_external_name() -> None:
    a = alloc()
    headless = svc(clusterIP="None")
    assert a.assign(headless, None) == (set(), set())
    assert headless["spec"]["clusterIPs"] == ["None"]
    external = svc(type="ExternalName", externalName="example.com")
    assert a.assign(external, None) == (set(), set())
    assert "clusterIP" not in external["spec"]
    assert a.used_ips == set()


def test_node_port_and_load_balancer_services() -> None:
    a = alloc()
    np = svc(type="NodePort", ports=[{"port": 80}, {"port": 443, "nodePort": 30443}])
    _, ports = a.assign(np, None)
    assert np["spec"]["ports"][1]["nodePort"] == 30443
    assert ports == {p["nodePort"] for p in np["spec"]["ports"]}
    lb = svc("lb", type="LoadBalancer", externalTrafficPolicy="Local", ports=[{"port": 80}])
    _, lb_ports = a.assign(lb, None)
    assert lb["spec"]["ports"][0]["nodePort"] in lb_ports
    assert lb["spec"]["healthCheckNodePort"] in lb_ports
    assert len(lb_ports) == 2
    no_ports = svc("lb2", type="LoadBalancer", allocateLoadBalancerNodePorts=False, ports=[{"port": 80}])
    assert a.assign(no_ports, None)[1] == set()
    assert "nodePort" not in no_ports["spec"]["ports"][0]


def test_first_error_ends_the_request_and_rolls_back() -> None:
    # Upstream allocates cluster IPs, then node ports, and returns the first failure (no aggregate).
    a = alloc()
    a.allocate_ip("10.96.0.10")
    a.allocate_port(30080)
    s = svc("bad", type="NodePort", clusterIP="10.96.0.10",
            ports=[{"port": 80}, {"port": 81, "nodePort": 30080}, {"port": 82, "nodePort": 1}])
    with pytest.raises(StatusError) as e:
        a.assign(s, None)
    assert (e.value.code, e.value.reason) == (422, "Invalid")
    assert e.value.message == ('Service "bad" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: '
                               'failed to allocate IP 10.96.0.10: provided IP is already allocated')
    s = svc("bad", type="NodePort", ports=[{"port": 80}, {"port": 81, "nodePort": 30080}, {"port": 82, "nodePort": 1}])
    with pytest.raises(StatusError) as e:
        a.assign(s, None)
    assert e.value.message == ('Service "bad" is invalid: spec.ports[1].nodePort: Invalid value: 30080: provided '
                               'port is already allocated')
    assert [c["field"] for c in e.value.details["causes"]] == ["spec.ports[1].nodePort"]  # type: ignore[index]
    assert (a.used_ips, a.used_ports) == ({"10.96.0.10"}, {30080})  # the IP and port taken before were given back


def test_full_node_port_range_is_an_internal_error() -> None:
    a = alloc(ports=(30000, 30000))
    a.allocate_port(30000)
    with pytest.raises(StatusError) as e:
        a.assign(svc(type="NodePort", ports=[{"port": 80}]), None)
    assert (e.value.code, e.value.message) == (500, "Internal error occurred: failed to allocate a nodePort: "
                                                    "range is full")
    assert a.used_ips == set()


def test_requested_health_check_node_port_is_reserved() -> None:
    a = alloc()
    lb = svc("lb", type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=30999,
             ports=[{"port": 80}])
    _, ports = a.assign(lb, None)
    assert 30999 in ports and 30999 in a.used_ports
    again = svc("lb2", type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=30999,
                ports=[{"port": 80}])
    with pytest.raises(StatusError) as e:
        a.assign(again, None)
    assert (e.value.code, e.value.message) == (500, "Internal error occurred: failed to allocate requested "
                                                    "HealthCheck NodePort 30999: provided port is already allocated")


def test_update_does_not_share_node_ports() -> None:
    # Only creation (initNodePorts) gives ports with one port number one node port; updates allocate each.
    a = alloc()
    old = svc("dns", type="ClusterIP", ports=[{"name": "udp", "port": 53, "protocol": "UDP"}])
    a.assign(old, None)
    new = svc("dns", type="NodePort", clusterIP=old["spec"]["clusterIP"],
              ports=[{"name": "udp", "port": 53, "protocol": "UDP"}, {"name": "tcp", "port": 53, "protocol": "TCP"}])
    a.assign(new, old)
    assert new["spec"]["ports"][0]["nodePort"] != new["spec"]["ports"][1]["nodePort"]


def test_update_keeps_what_the_old_object_held() -> None:
    a = alloc()
    old = svc(type="NodePort", ports=[{"port": 80}])
    a.assign(old, None)
    ip, port = old["spec"]["clusterIP"], old["spec"]["ports"][0]["nodePort"]
    new = svc(type="NodePort", clusterIP=ip, ports=[{"port": 80, "nodePort": port}, {"name": "b", "port": 81}])
    taken_ips, taken_ports = a.assign(new, old)
    assert taken_ips == set()
    assert taken_ports == {new["spec"]["ports"][1]["nodePort"]}


def test_load_and_held_by() -> None:
    a = alloc()
    services = [svc(clusterIP="10.96.0.1", clusterIPs=["10.96.0.1"]),
                svc(type="NodePort", clusterIP="10.100.0.5", ports=[{"port": 80, "nodePort": 30001}]),
                svc(clusterIP="None"),
                svc(type="LoadBalancer", clusterIP="10.100.0.6", healthCheckNodePort=30002,
                    ports=[{"port": 80, "nodePort": 30003}])]
    a.load(services)
    assert a.loaded
    assert a.used_ips == {"10.96.0.1", "10.100.0.5", "10.100.0.6"}
    assert a.used_ports == {30001, 30002, 30003}
    assert ServiceAllocator.held_by(services[3]) == ({"10.100.0.6"}, {30002, 30003})
    assert ServiceAllocator.held_by({}) == (set(), set())
    a.load([])
    assert (a.used_ips, a.used_ports) == (set(), set())


def test_same_port_number_shares_a_node_port() -> None:
    a = alloc()
    dns = svc("dns", type="NodePort", ports=[{"name": "udp", "port": 53, "protocol": "UDP"},
                                             {"name": "tcp", "port": 53, "protocol": "TCP"}])
    a.assign(dns, None)
    assert dns["spec"]["ports"][0]["nodePort"] == dns["spec"]["ports"][1]["nodePort"]
    # A node port requested for either of them is the one both get.
    both = svc("dns2", type="NodePort", ports=[{"name": "udp", "port": 53, "protocol": "UDP"},
                                               {"name": "tcp", "port": 53, "protocol": "TCP", "nodePort": 30053}])
    _, ports = a.assign(both, None)
    assert [p["nodePort"] for p in both["spec"]["ports"]] == [30053, 30053]
    assert ports == {30053}


def test_explicit_node_port_is_reserved_without_lb_allocation() -> None:
    a = alloc()
    lb = svc("lb", type="LoadBalancer", allocateLoadBalancerNodePorts=False, ports=[{"port": 80, "nodePort": 30080}])
    a.assign(lb, None)
    assert 30080 in a.used_ports
