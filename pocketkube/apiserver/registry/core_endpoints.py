"""Endpoints (core/v1): validation, canonical repacking and strategy (upstream v1.32).

Theory of operation: every subset needs addresses (ready or not); addresses are
valid, non-special IPs with optional DNS-label hostnames; ports need names when
a subset has several. Valid objects are repacked like upstream's RepackSubsets
(one subset per distinct address set, addresses sorted by IP then target UID).
Endpoints may be created by an update (allowCreateOnUpdate), have no status and
no generation.
"""

from __future__ import annotations

import copy
from typing import Any

from pocketkube.apiserver.registry import core_checks as chk
from pocketkube.apiserver.registry import core_containers as ctr
from pocketkube.apiserver.registry.core_checks import Errs
from pocketkube.apiserver.strategy import Obj, Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError


def validate_endpoints(ep: Obj) -> Errs:
    errs: Errs = []
    for i, ss in enumerate(ep.get("subsets") or []):
        p = f"subsets[{i}]"
        if not ss.get("addresses") and not ss.get("notReadyAddresses"):
            errs.append(errors.required(p, "must specify `addresses` or `notReadyAddresses`"))
        for key in ("addresses", "notReadyAddresses"):
            for j, addr in enumerate(ss.get(key) or []):
                errs += _endpoint_address(addr, f"{p}.{key}[{j}]")
        ports = ss.get("ports") or []
        for j, port in enumerate(ports):
            pp = f"{p}.ports[{j}]"
            name = port.get("name") or ""
            if len(ports) > 1 and not name:
                errs.append(errors.required(f"{pp}.name"))
            elif name:
                errs += chk.check_dns_label(name, f"{pp}.name")
            errs += [errors.invalid(f"{pp}.port", port.get("port", 0), m)
                     for m in chk.port_num_problems(port.get("port", 0))]
            errs += ctr.check_protocol(port.get("protocol") or "", f"{pp}.protocol")
            if port.get("appProtocol") is not None:
                errs += chk.check_qualified_name(port["appProtocol"], f"{pp}.appProtocol")
    return errs


def _endpoint_address(addr: Obj, path: str) -> Errs:
    ip = addr.get("ip") or ""
    errs = chk.check_ip(ip, f"{path}.ip")
    if addr.get("hostname"):
        errs += chk.check_dns_label(addr["hostname"], f"{path}.hostname")
    if addr.get("nodeName") is not None:
        errs += chk.check_dns_subdomain(addr["nodeName"], f"{path}.nodeName")
    return errs + chk.check_non_special_ip(ip, f"{path}.ip")


def repack_subsets(subsets: list[Obj]) -> list[Obj]:
    """RepackSubsets: one subset per distinct address set, addresses sorted by IP then UID.

    Upstream orders ports and subsets by an md5 of Go's spew dump; pocketkube orders
    them by (port, name, protocol) and by first address instead.
    """
    addresses: dict[tuple[str, str], Obj] = {}
    by_port: dict[tuple[Any, ...], dict[tuple[str, str], bool]] = {}
    for ss in subsets:
        for port in ss.get("ports") or []:
            pkey = (port.get("name") or "", port.get("port", 0), port.get("protocol") or "", port.get("appProtocol"))
            for ready, key in ((True, "addresses"), (False, "notReadyAddresses")):
                for addr in ss.get(key) or []:
                    akey = (addr.get("ip") or "", ((addr.get("targetRef") or {}).get("uid") or ""))
                    addresses.setdefault(akey, addr)
                    states = by_port.setdefault(pkey, {})
                    if states.get(akey, True):
                        states[akey] = ready
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for pkey, states in by_port.items():
        groups.setdefault(tuple(sorted(states.items())), []).append(pkey)
    out = [_subset(states, ports, addresses) for states, ports in groups.items()]
    return sorted(out, key=lambda s: str((s.get("addresses") or s.get("notReadyAddresses") or [{}])[0].get("ip")))


def _subset(states: tuple[Any, ...], ports: list[tuple[Any, ...]], addresses: dict[tuple[str, str], Obj]) -> Obj:
    ready = [copy.deepcopy(addresses[k]) for k, r in states if r]
    not_ready = [copy.deepcopy(addresses[k]) for k, r in states if not r]
    subset: Obj = {}
    if ready:
        subset["addresses"] = ready
    if not_ready:
        subset["notReadyAddresses"] = not_ready
    subset["ports"] = [_port_obj(p) for p in sorted(ports, key=lambda p: (p[1], p[0], p[2]))]
    return subset


def _port_obj(key: tuple[Any, ...]) -> Obj:
    name, port, protocol, app = key
    out: Obj = {"port": port, "protocol": protocol}
    if name:
        out = {"name": name, **out}
    if app is not None:
        out["appProtocol"] = app
    return out


class EndpointsStrategy(Strategy):
    has_status = False
    tracks_generation = False
    allow_create_on_update = True

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        self._canonicalize(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        self._canonicalize(new)

    def _canonicalize(self, obj: Obj) -> None:
        if obj.get("subsets") and not validate_endpoints(obj):
            obj["subsets"] = repack_subsets(obj["subsets"])

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_endpoints(obj)
