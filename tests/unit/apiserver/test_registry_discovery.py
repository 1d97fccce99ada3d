"""discovery.k8s.io/v1 EndpointSlice strategy."""

from __future__ import annotations

import copy
from typing import Any

from pocketkube.api import structural
from pocketkube.apiserver.registry import discovery

EPS = discovery.STRATEGIES["EndpointSlice"]


def slice_(addr_type: str, *addresses: str, **extra: Any) -> dict[str, Any]:
    obj = {"metadata": {"name": "web-abc", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
           "addressType": addr_type, "endpoints": [{"addresses": list(addresses)}], "ports": [{"port": 80}], **extra}
    structural.apply_defaults(obj, "io.k8s.api.discovery.v1.EndpointSlice")
    EPS.prepare_for_create(obj)
    return obj


def msgs(obj: dict[str, Any]) -> list[str]:
    return [str(e) for e in EPS.validate(obj)]


def test_valid_slice_has_generation_and_no_status() -> None:
    obj = slice_("IPv4", "10.244.0.5")
    assert msgs(obj) == [] and obj["metadata"]["generation"] == 1 and "status" not in obj


def test_address_errors() -> None:
    assert msgs(slice_("IPv4", "127.0.0.1", "fe80::1")) == [
        'endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        'endpoints[0].addresses[1]: Invalid value: "fe80::1": must be a valid IPv4 address',
    ]
    assert msgs(slice_("IPv6", "::1")) == [
        'endpoints[0].addresses[0]: Invalid value: "::1": may not be in the loopback range (127.0.0.0/8, ::1/128)']
    assert msgs(slice_("Mystery", "x")) == [
        'addressType: Unsupported value: "Mystery": supported values: "FQDN", "IPv4", "IPv6"']
    assert msgs(slice_("IPv4")) == ["endpoints[0].addresses: Required value: must contain at least 1 address"]


def test_ports_unique_names() -> None:
    obj = slice_("IPv4", "10.0.0.1")
    obj["ports"] = [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "http", "port": 81, "protocol": "ICMP"}]
    assert msgs(obj) == ['ports[1].name: Duplicate value: "http"',
                         'ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']


def test_generation_bumps_on_endpoints_and_labels_and_address_type_is_immutable() -> None:
    old = slice_("IPv4", "10.0.0.1")
    new = copy.deepcopy(old)
    new["endpoints"][0]["addresses"] = ["10.0.0.2"]
    EPS.prepare_for_update(new, old)
    assert new["metadata"]["generation"] == 2
    lab = copy.deepcopy(old)
    lab["metadata"]["labels"]["x"] = "y"
    EPS.prepare_for_update(lab, old)
    assert lab["metadata"]["generation"] == 2
    ann = copy.deepcopy(old)
    ann["metadata"]["annotations"] = {"x": "y"}
    EPS.prepare_for_update(ann, old)
    assert ann["metadata"]["generation"] == 1
    typ = copy.deepcopy(old)
    typ["addressType"] = "IPv6"
    typ["endpoints"][0]["addresses"] = ["fd00::1"]
    assert [str(e) for e in EPS.validate_update(typ, old)] == ['addressType: Invalid value: "IPv6": field is immutable']
