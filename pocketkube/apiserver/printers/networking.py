"""Printers for networking.k8s.io and discovery.k8s.io kinds.

Theory of operation: ingresses list up to three rule hosts (`*` when none) and the
load-balancer addresses (sorted, unique; never clipped because the apiserver prints
wide); PORTS is `80`, or `80, 443` when TLS is configured. Ingress classes show the
controller and `Kind[.apiGroup]/name` of their parameters; network policies their pod
selector; endpoint slices up to three ports and addresses (`<unset>` when empty).
ServiceCIDRs and IPAddresses (networking v1beta1 in 1.32) are included as upstream.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pocketkube.apiserver.printers.columns import (
    AGE,
    NAME,
    Cell,
    Obj,
    Printer,
    age,
    col,
    format_label_selector,
    items,
    list_with_more,
    load_balancer_ingress,
    name_of,
    sub,
)
from pocketkube.apiserver.printers.descriptions import doc


def format_hosts(rules: list[Any]) -> str:
    shown: list[str] = []
    limit, more = 3, False
    for rule in rules:
        if len(shown) == limit:
            more = True
        host = rule.get("host")
        if not more and host:
            shown.append(host)
    if not shown:
        return "*"
    joined = ",".join(shown)
    return f"{joined} + {len(rules) - limit} more..." if more else joined


def _ingress_row(obj: Obj, now: datetime) -> list[Cell]:
    spec = sub(obj, "spec")
    class_name = spec.get("ingressClassName")
    return [
        name_of(obj),
        "<none>" if class_name is None else class_name,
        format_hosts(items(spec, "rules")),
        ",".join(load_balancer_ingress(sub(obj, "status"))),
        "80, 443" if items(spec, "tls") else "80",
        age(obj, now),
    ]


INGRESS = Printer(
    (
        NAME,
        col(
            "Class",
            "string",
            "The name of the IngressClass resource that should be used for additional configuration",
        ),
        col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
        col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
        col("Ports", "string", "Ports of TLS configurations that open"),
        AGE,
    ),
    _ingress_row,
)


def _ingressclass_row(obj: Obj, now: datetime) -> list[Cell]:
    spec = sub(obj, "spec")
    params = spec.get("parameters")
    parameters = "<none>"
    if params:
        parameters = str(params.get("kind") or "")
        if params.get("apiGroup") is not None:
            parameters += "." + str(params["apiGroup"])
        parameters += "/" + str(params.get("name") or "")
    return [name_of(obj), str(spec.get("controller") or ""), parameters, age(obj, now)]


INGRESSCLASS = Printer(
    (
        NAME,
        col("Controller", "string", "Controller that is responsible for handling this class"),
        col("Parameters", "string", "A reference to a resource with additional parameters"),
        AGE,
    ),
    _ingressclass_row,
)


def _networkpolicy_row(obj: Obj, now: datetime) -> list[Cell]:
    selector = sub(obj, "spec").get("podSelector") or {}
    return [name_of(obj), format_label_selector(selector), age(obj, now)]


NETWORKPOLICY = Printer(
    (NAME, col("Pod-Selector", "string", doc("extensions/v1beta1.NetworkPolicySpec.podSelector")), AGE),
    _networkpolicy_row,
)


def _slice_ports(ports: list[Any]) -> str:
    shown = []
    for p in ports:
        if p.get("port") is not None:
            shown.append(str(p["port"]))
        elif p.get("name") is not None:
            shown.append(str(p["name"]))
        else:
            shown.append("*")
    return list_with_more(shown)


def _endpointslice_row(obj: Obj, now: datetime) -> list[Cell]:
    addresses = [str(a) for ep in items(obj, "endpoints") for a in items(ep, "addresses")]
    return [
        name_of(obj),
        str(obj.get("addressType") or ""),
        _slice_ports(items(obj, "ports")),
        list_with_more(addresses),
        age(obj, now),
    ]


ENDPOINTSLICE = Printer(
    (
        NAME,
        col("AddressType", "string", doc("discovery/v1beta1.EndpointSlice.addressType")),
        col("Ports", "string", doc("discovery/v1beta1.EndpointSlice.ports")),
        col("Endpoints", "string", doc("discovery/v1beta1.EndpointSlice.endpoints")),
        AGE,
    ),
    _endpointslice_row,
)


def _servicecidr_row(obj: Obj, now: datetime) -> list[Cell]:
    return [name_of(obj), ",".join(items(sub(obj, "spec"), "cidrs")), age(obj, now)]


SERVICECIDR = Printer(
    (NAME, col("CIDRs", "string", doc("networking/v1beta1.ServiceCIDRSpec.cidrs")), AGE), _servicecidr_row
)


def _ipaddress_row(obj: Obj, now: datetime) -> list[Cell]:
    ref = sub(obj, "spec").get("parentRef")
    parent = "<none>"
    if ref:
        group, resource = ref.get("group") or "", ref.get("resource") or ""
        parent = (f"{resource}.{group}" if group else resource).lower()
        if ref.get("namespace"):
            parent += "/" + ref["namespace"]
        parent += "/" + str(ref.get("name") or "")
    return [name_of(obj), parent, age(obj, now)]


IPADDRESS = Printer(
    (NAME, col("ParentRef", "string", doc("networking/v1beta1.IPAddressSpec.parentRef"))), _ipaddress_row
)
