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
    column_printer,
    field,
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


def _hosts(obj: Obj, now: datetime) -> Cell:
    return format_hosts(items(sub(obj, "spec"), "rules"))


def _address(obj: Obj, now: datetime) -> Cell:
    return ",".join(load_balancer_ingress(sub(obj, "status")))


def _ports(obj: Obj, now: datetime) -> Cell:
    return "80, 443" if items(sub(obj, "spec"), "tls") else "80"


INGRESS = column_printer(
    NAME,
    col(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
        cell=field("spec.ingressClassName", "<none>", None, pointer=True),
    ),
    col(
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
        cell=_hosts,
    ),
    col(
        "Address",
        "string",
        "Address is a list containing ingress points for the load-balancer",
        cell=_address,
    ),
    col("Ports", "string", "Ports of TLS configurations that open", cell=_ports),
    AGE,
)


def _parameters(obj: Obj, now: datetime) -> Cell:
    params = sub(obj, "spec").get("parameters")
    if not params:
        return "<none>"
    parameters = str(params.get("kind") or "")
    if params.get("apiGroup") is not None:
        parameters += "." + str(params["apiGroup"])
    return parameters + "/" + str(params.get("name") or "")


INGRESSCLASS = column_printer(
    NAME,
    col(
        "Controller",
        "string",
        "Controller that is responsible for handling this class",
        cell=field("spec.controller"),
    ),
    col("Parameters", "string", "A reference to a resource with additional parameters", cell=_parameters),
    AGE,
)


def _pod_selector(obj: Obj, now: datetime) -> Cell:
    return format_label_selector(sub(obj, "spec").get("podSelector") or {})


NETWORKPOLICY = column_printer(
    NAME,
    col(
        "Pod-Selector", "string", doc("extensions/v1beta1.NetworkPolicySpec.podSelector"), cell=_pod_selector
    ),
    AGE,
)


def _slice_ports(obj: Obj, now: datetime) -> Cell:
    shown = []
    for p in items(obj, "ports"):
        if p.get("port") is not None:
            shown.append(str(p["port"]))
        elif p.get("name") is not None:
            shown.append(str(p["name"]))
        else:
            shown.append("*")
    return list_with_more(shown)


def _slice_endpoints(obj: Obj, now: datetime) -> Cell:
    return list_with_more([str(a) for ep in items(obj, "endpoints") for a in items(ep, "addresses")])


_SLICE = "discovery/v1beta1.EndpointSlice."
ENDPOINTSLICE = column_printer(
    NAME,
    col("AddressType", "string", doc(_SLICE + "addressType"), cell=field("addressType")),
    col("Ports", "string", doc(_SLICE + "ports"), cell=_slice_ports),
    col("Endpoints", "string", doc(_SLICE + "endpoints"), cell=_slice_endpoints),
    AGE,
)


def _cidrs(obj: Obj, now: datetime) -> Cell:
    return ",".join(items(sub(obj, "spec"), "cidrs"))


SERVICECIDR = column_printer(
    NAME, col("CIDRs", "string", doc("networking/v1beta1.ServiceCIDRSpec.cidrs"), cell=_cidrs), AGE
)


def _parent_ref(obj: Obj, now: datetime) -> Cell:
    ref = sub(obj, "spec").get("parentRef")
    if not ref:
        return "<none>"
    group, resource = ref.get("group") or "", ref.get("resource") or ""
    parent = (f"{resource}.{group}" if group else resource).lower()
    if ref.get("namespace"):
        parent += "/" + ref["namespace"]
    return parent + "/" + str(ref.get("name") or "")


def _ipaddress_row(obj: Obj, now: datetime) -> list[Cell]:
    """Hand-written because upstream prints an AGE cell without an AGE column."""
    return [name_of(obj), _parent_ref(obj, now), age(obj, now)]


IPADDRESS = Printer(
    (NAME, col("ParentRef", "string", doc("networking/v1beta1.IPAddressSpec.parentRef"))), _ipaddress_row
)
