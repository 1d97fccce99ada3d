"""discovery.k8s.io/v1 strategy: EndpointSlice.

Theory of operation: addressType is IPv4, IPv6 or FQDN and immutable; each
endpoint has 1-100 addresses valid for that type (IPs may not be unspecified,
loopback or link-local), an optional DNS-label hostname and node name, and
zone hints; ports have unique DNS-label names, a protocol and an optional
qualified appProtocol. Generation increases when anything but metadata
changes, or the labels change (the endpointslice mirroring controllers watch
labels). No status.
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.registry import govalue, netchecks
from pocketkube.apiserver.strategy import Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import meta, names

Obj = dict[str, Any]

ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
MAX_ADDRESSES, MAX_ENDPOINTS, MAX_PORTS, MAX_TOPOLOGY, MAX_ZONE_HINTS = 100, 1000, 20000, 16, 8


def _address_errs(addr: str, addr_type: str, path: str) -> list[FieldError]:
    if addr_type == "IPv4":
        msgs = netchecks.ipv4_problems(addr) or netchecks.non_special_ip_problems(addr)
    elif addr_type == "IPv6":
        msgs = netchecks.ipv6_problems(addr) or netchecks.non_special_ip_problems(addr)
    elif addr_type == "FQDN":
        msgs = netchecks.fqdn_problems(addr)
        if msgs == ["Required value"]:
            return [errors.required(path)]
    else:
        msgs = []
    return [errors.invalid(path, addr, m) for m in msgs]


def _hints(hints: Obj, path: str) -> list[FieldError]:
    zones = hints.get("forZones") or []
    if len(zones) > MAX_ZONE_HINTS:
        return [errors.too_many(f"{path}.forZones", len(zones), MAX_ZONE_HINTS)]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, z in enumerate(zones):
        zp, name = f"{path}.forZones[{i}].name", z.get("name", "")
        if name in seen:
            errs.append(errors.duplicate(zp, name))
        seen.add(name)
        errs += [errors.invalid(zp, name, m) for m in names.label_value_problems(name)]
    return errs


def _endpoint(ep: Obj, addr_type: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    addrs = ep.get("addresses") or []
    if not addrs:
        errs.append(errors.required(f"{path}.addresses", "must contain at least 1 address"))
    elif len(addrs) > MAX_ADDRESSES:
        errs.append(errors.too_many(f"{path}.addresses", len(addrs), MAX_ADDRESSES))
    for i, a in enumerate(addrs):
        errs += _address_errs(a, addr_type, f"{path}.addresses[{i}]")
    if ep.get("nodeName") is not None:
        errs += [errors.invalid(f"{path}.nodeName", ep["nodeName"], m)
                 for m in names.dns1123_subdomain_problems(ep["nodeName"])]
    topo = ep.get("deprecatedTopology") or {}
    if len(topo) > MAX_TOPOLOGY:
        errs.append(errors.too_many(f"{path}.deprecatedTopology", len(topo), MAX_TOPOLOGY))
    errs += meta.validate_labels(topo, f"{path}.deprecatedTopology")
    if ep.get("hostname") is not None:
        errs += [errors.invalid(f"{path}.hostname", ep["hostname"], m) for m in names.dns1123_label_problems(ep["hostname"])]
    if ep.get("hints") is not None:
        errs += _hints(ep["hints"], f"{path}.hints")
    return errs


def _ports(ports: list[Obj]) -> list[FieldError]:
    if len(ports) > MAX_PORTS:
        return [errors.too_many("ports", len(ports), MAX_PORTS)]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, p in enumerate(ports):
        pp, name = f"ports[{i}]", p.get("name", "")
        if name:
            errs += [errors.invalid(f"{pp}.name", name, m) for m in names.dns1123_label_problems(name)]
        if name in seen:
            errs.append(errors.duplicate(f"{pp}.name", name))
        seen.add(name)
        proto = p.get("protocol")
        if proto is None:
            errs.append(errors.required(f"{pp}.protocol"))
        elif proto not in PROTOCOLS:
            errs.append(errors.not_supported(f"{pp}.protocol", proto, PROTOCOLS))
        if p.get("appProtocol") is not None:
            errs += [errors.invalid(f"{pp}.appProtocol", p["appProtocol"], m)
                     for m in names.qualified_name_problems(p["appProtocol"])]
    return errs


def validate_endpoint_slice(obj: Obj) -> list[FieldError]:
    addr_type = obj.get("addressType", "")
    errs: list[FieldError] = []
    if not addr_type:
        errs.append(errors.required("addressType"))
    elif addr_type not in ADDRESS_TYPES:
        errs.append(errors.not_supported("addressType", addr_type, ADDRESS_TYPES))
    endpoints = obj.get("endpoints") or []
    if len(endpoints) > MAX_ENDPOINTS:
        errs.append(errors.too_many("endpoints", len(endpoints), MAX_ENDPOINTS))
    else:
        for i, ep in enumerate(endpoints):
            errs += _endpoint(ep, addr_type, f"endpoints[{i}]")
    return errs + _ports(obj.get("ports") or [])


class EndpointSliceStrategy(Strategy):
    has_status = False

    def spec_changed(self, new: Obj, old: Obj) -> bool:
        if super().spec_changed(new, old):
            return True
        return new["metadata"].get("labels") != old["metadata"].get("labels")

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_endpoint_slice(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_endpoint_slice(new) + govalue.immutable(new.get("addressType", ""), old.get("addressType", ""),
                                                                "addressType")


STRATEGIES: dict[str, Strategy] = {"EndpointSlice": EndpointSliceStrategy()}
