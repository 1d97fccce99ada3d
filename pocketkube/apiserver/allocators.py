"""Service ClusterIP and NodePort allocation (upstream ipallocator/portallocator).

Theory of operation: the apiserver process is the only writer of services, so
the set of used IPs and ports lives in memory: it is rebuilt from the watch
cache's services on first use and then changed only by allocate/release around
service writes (an allocation whose write fails is released). Dynamic IPs are
random in the upper band of the service CIDR (the first 256 addresses are kept
for static picks such as 10.96.0.1 for `kubernetes` and 10.96.0.10 for DNS);
dynamic ports are random in 30000-32767. Errors carry upstream's field paths
and wording.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable
from typing import Any

from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError

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
        """Fill clusterIP(s) and nodePorts of `svc`; returns what was newly taken.

        Raises a 422 Invalid StatusError (service kind) on conflicts or bad values.
        """
        spec = svc.setdefault("spec", {})
        taken_ips: set[str] = set()
        taken_ports: set[int] = set()
        old_ips, old_ports = self.held_by(old) if old else (set(), set())
        errs: list[FieldError] = []
        try:
            self._assign_ip(spec, old_ips, taken_ips, errs)
            self._assign_ports(spec, old_ports, taken_ports, errs)
        except BaseException:
            self.release(taken_ips, taken_ports)
            raise
        if errs:
            self.release(taken_ips, taken_ports)
            raise errors.invalid_error("Service", "", svc["metadata"].get("name", ""), errs)
        return taken_ips, taken_ports

    def _assign_ip(self, spec: Obj, old_ips: set[str], taken: set[str], errs: list[FieldError]) -> None:
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
                errs.append(errors.invalid("spec.clusterIPs", [requested], e.message))
                return
            taken.add(ip)
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")

    def _assign_ports(self, spec: Obj, old_ports: set[int], taken: set[int], errs: list[FieldError]) -> None:
        svc_type = spec.get("type", "ClusterIP")
        wants = svc_type == "NodePort" or (svc_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts",
                                                                                   True))
        for i, port in enumerate(spec.get("ports") or []):
            requested = port.get("nodePort") or 0
            if not wants:
                continue
            if requested and requested in old_ports:
                continue
            try:
                p = self.allocate_port(requested)
            except ValueError as e:
                errs.append(errors.invalid(f"spec.ports[{i}].nodePort", requested, str(e)))
                continue
            taken.add(p)
            port["nodePort"] = p
        if svc_type == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local" \
                and not spec.get("healthCheckNodePort"):
            try:
                p = self.allocate_port(0)
            except ValueError as e:
                errs.append(errors.invalid("spec.healthCheckNodePort", 0, str(e)))
                return
            taken.add(p)
            spec["healthCheckNodePort"] = p
