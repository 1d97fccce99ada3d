"""Service ClusterIP and NodePort allocation (upstream ipallocator/portallocator).

Theory of operation: the apiserver process is the only writer of services, so
the set of used IPs and ports lives in memory: it is rebuilt from the watch
cache's services on first use and then changed only by allocate/release around
service writes (an allocation whose write fails is released). Dynamic IPs are
random in the upper band of the service CIDR (the first 256 addresses are kept
for static picks such as 10.96.0.1 for `kubernetes` and 10.96.0.10 for DNS);
dynamic ports are random in 30000-32767. Errors carry upstream's field paths
and wording; as upstream, the first failure ends a request.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable
from typing import Any

from pocketkube.machinery import errors

SERVICE_CIDR = ipaddress.IPv4Network("10.96.0.0/12")
NODE_PORT_RANGE = (30000, 32767)
STATIC_BAND = 256

Obj = dict[str, Any]


class ServiceAllocator:
    def __init__(self, cidr: ipaddress.IPv4Network = SERVICE_CIDR,
                 ports: tuple[int, int] = NODE_PORT_RANGE, rng: random.Random | None = None) -> None:
        self.cidr = cidr
        self.ports = ports
        self.used_ips: set[str] = set()
        self.used_ports: set[int] = set()
        self.loaded = False
        self.rng = rng or random.Random()

    def load(self, services: Iterable[Obj]) -> None:
        self.used_ips.clear()
        self.used_ports.clear()
        for svc in services:
            ips, ports = self.held_by(svc)
            self.used_ips |= ips
            self.used_ports |= ports
        self.loaded = True

    @staticmethod
    def held_by(svc: Obj) -> tuple[set[str], set[int]]:
        spec = svc.get("spec") or {}
        ips = {ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip and ip != "None"}
        ports = {p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")}
        if spec.get("healthCheckNodePort"):
            ports.add(spec["healthCheckNodePort"])
        return ips, ports

    def release(self, ips: Iterable[str], ports: Iterable[int]) -> None:
        self.used_ips.difference_update(ips)
        self.used_ports.difference_update(ports)

    # --- IPs ------------------------------------------------------------------------
    def allocate_ip(self, requested: str) -> str:
        if requested:
            return self._claim_ip(requested)
        size = self.cidr.num_addresses
        lo, hi = min(STATIC_BAND, size // 16) + 1, size - 2
        for _ in range(64):
            ip = str(self.cidr.network_address + self.rng.randint(lo, hi))
            if ip not in self.used_ips:
                self.used_ips.add(ip)
                return ip
        for offset in range(1, size - 1):
            ip = str(self.cidr.network_address + offset)
            if ip not in self.used_ips:
                self.used_ips.add(ip)
                return ip
        raise errors.internal_error("failed to allocate a serviceIP: range is full")

    def _claim_ip(self, requested: str) -> str:
        def fail(why: str) -> errors.StatusError:
            return errors.StatusError(422, "Invalid", f"failed to allocate IP {requested}: {why}")
        try:
            ip = ipaddress.ip_address(requested)
        except ValueError:
            raise fail("not a valid IP") from None
        if ip not in self.cidr or ip in (self.cidr.network_address, self.cidr.broadcast_address):
            raise fail(f"the provided IP ({requested}) is not in the valid range. The range of valid IPs is "
                       f"{self.cidr}")
        if requested in self.used_ips:
            raise fail("provided IP is already allocated")
        self.used_ips.add(requested)
        return requested

    # --- ports ----------------------------------------------------------------------
    def allocate_port(self, requested: int) -> int:
        lo, hi = self.ports
        if requested:
            if not lo <= requested <= hi:
                raise ValueError(f"provided port is not in the valid range. The range of valid ports is {lo}-{hi}")
            if requested in self.used_ports:
                raise ValueError("provided port is already allocated")
            self.used_ports.add(requested)
            return requested
        for _ in range(64):
            p = self.rng.randint(lo, hi)
            if p not in self.used_ports:
                self.used_ports.add(p)
                return p
        for p in range(lo, hi + 1):
            if p not in self.used_ports:
                self.used_ports.add(p)
                return p
        raise ValueError("range is full")

    # --- whole services ---------------------------------------------------------------
    def assign(self, svc: Obj, old: Obj | None) -> tuple[set[str], set[int]]:
        """Fill clusterIP(s), nodePorts and healthCheckNodePort of `svc`; returns what was newly taken.

        As upstream, the first failure ends the request: a 422 Invalid StatusError (service kind) for a
        requested value that cannot be had, a 500 when a range is full; what was taken so far is given back.
        """
        spec = svc.setdefault("spec", {})
        name = svc["metadata"].get("name", "")
        taken_ips: set[str] = set()
        taken_ports: set[int] = set()
        try:
            self._assign_ip(spec, self.held_by(old)[0] if old else set(), taken_ips, name)
            if old is None:
                self._init_node_ports(spec, taken_ports, name)
            else:
                old_ports = {p.get("nodePort") for p in (old.get("spec") or {}).get("ports") or []}
                self._update_node_ports(spec, old_ports, taken_ports, name)
            self._health_check_port(spec, old, taken_ports)
        except BaseException:
            self.release(taken_ips, taken_ports)
            raise
        return taken_ips, taken_ports

    def _assign_ip(self, spec: Obj, old_ips: set[str], taken: set[str], name: str) -> None:
        if spec.get("type") == "ExternalName":
            return
        requested = spec.get("clusterIP") or ((spec.get("clusterIPs") or [""])[0])
        if requested == "None":
            spec["clusterIP"] = "None"
            spec["clusterIPs"] = ["None"]
        elif requested and requested in old_ips:
            spec["clusterIP"] = requested
            spec.setdefault("clusterIPs", [requested])
        else:
            try:
                ip = self.allocate_ip(requested)
            except errors.StatusError as e:
                if e.code != 422:
                    raise
                raise errors.invalid_error("Service", "", name,
                                           [errors.invalid("spec.clusterIPs", [requested], e.message)]) from None
            taken.add(ip)
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")

    def _init_node_ports(self, spec: Obj, taken: set[int], name: str) -> None:
        """Create (upstream initNodePorts): ports sharing a port number (53/TCP, 53/UDP) share one node port,
        a number requested for any of them included; explicit requests are honoured even when node ports
        are not allocated (LoadBalancer with allocateLoadBalancerNodePorts: false)."""
        ports = spec.get("ports") or []
        should = _allocates_node_ports(spec)
        by_number: dict[Any, int] = {}
        for i, port in enumerate(ports):
            requested = port.get("nodePort") or 0
            if not requested and not should:
                continue
            shared = by_number.get(port.get("port"), 0)
            if not shared:
                wanted = next((p.get("nodePort") for p in ports
                               if p.get("port") == port.get("port") and p.get("nodePort")), 0)
                got = self._claim_port(wanted, i, taken, name) if wanted else self._next_port(taken)
                port["nodePort"] = by_number[port.get("port")] = got
            elif not requested:
                port["nodePort"] = shared
            elif requested != shared:
                self._claim_port(requested, i, taken, name)

    def _update_node_ports(self, spec: Obj, old_ports: set[Any], taken: set[int], name: str) -> None:
        """Update (upstream updateNodePorts): keep the old object's ports, claim new requests, allocate the rest."""
        should = _allocates_node_ports(spec)
        for i, port in enumerate(spec.get("ports") or []):
            requested = port.get("nodePort") or 0
            if requested:
                if requested not in old_ports and requested not in taken:
                    self._claim_port(requested, i, taken, name)
            elif should:
                port["nodePort"] = self._next_port(taken)

    def _health_check_port(self, spec: Obj, old: Obj | None, taken: set[int]) -> None:
        """LoadBalancer + externalTrafficPolicy Local needs one; a service that already needed it keeps it."""
        if not _needs_health_check(spec):
            return
        old_spec = (old or {}).get("spec") or {}
        if old is not None and _needs_health_check(old_spec):
            if not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort"):
                spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]
            return
        requested = spec.get("healthCheckNodePort") or 0
        try:
            port = self.allocate_port(requested)
        except ValueError as e:
            what = f"requested HealthCheck NodePort {requested}" if requested else "a HealthCheck NodePort 0"
            raise errors.internal_error(f"failed to allocate {what}: {e}") from None
        taken.add(port)
        spec["healthCheckNodePort"] = port

    def _claim_port(self, requested: int, index: int, taken: set[int], name: str) -> int:
        try:
            port = self.allocate_port(requested)
        except ValueError as e:
            raise errors.invalid_error("Service", "", name, [
                errors.invalid(f"spec.ports[{index}].nodePort", requested, str(e))]) from None
        taken.add(port)
        return port

    def _next_port(self, taken: set[int]) -> int:
        try:
            port = self.allocate_port(0)
        except ValueError as e:
            raise errors.internal_error(f"failed to allocate a nodePort: {e}") from None
        taken.add(port)
        return port


def _allocates_node_ports(spec: Obj) -> bool:
    kind = spec.get("type", "ClusterIP")
    return kind == "NodePort" or (kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True)
                                  is not False)


def _needs_health_check(spec: Obj) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"
