"""Printers for services, endpoints and nodes (core/v1).

Theory of operation, services (upstream printService): CLUSTER-IP is `clusterIPs[0]`
(`None` for headless, because that is the stored value), EXTERNAL-IP depends on the
type (externalIPs for ClusterIP/NodePort; load-balancer ingress IPs/hostnames, sorted
and deduplicated, then externalIPs, or `<pending>`, for LoadBalancer; externalName for
ExternalName), PORT(S) is `port[:nodePort]/PROTO` joined by commas. The apiserver
prints wide, so the load-balancer list is never clipped.

Endpoints show up to three `ip:port` entries then ` + N more...`. Nodes show the Ready
condition (plus `SchedulingDisabled`), roles from `node-role.kubernetes.io/<role>` and
`kubernetes.io/role` labels, and wide node-info columns.
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
    format_labels,
    items,
    load_balancer_ingress,
    meta,
    name_of,
    sub,
)
from pocketkube.apiserver.printers.descriptions import doc


def _external_ip(spec: Obj, status: Obj) -> str:
    svc_type = spec.get("type") or "ClusterIP"
    external = items(spec, "externalIPs")
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if svc_type == "LoadBalancer":
        lb = load_balancer_ingress(status)
        if external:
            return ",".join(lb + external)
        return ",".join(lb) if lb else "<pending>"
    if svc_type == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _ports(ports: list[Any]) -> str:
    pieces = []
    for p in ports:
        proto = p.get("protocol") or "TCP"
        node_port = p.get("nodePort") or 0
        if node_port > 0:
            pieces.append(f"{p.get('port', 0)}:{node_port}/{proto}")
        else:
            pieces.append(f"{p.get('port', 0)}/{proto}")
    return ",".join(pieces) or "<none>"


def _service_row(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = sub(obj, "spec"), sub(obj, "status")
    cluster_ips = items(spec, "clusterIPs")
    cluster_ip = cluster_ips[0] if cluster_ips else (spec.get("clusterIP") or "<none>")
    return [
        name_of(obj),
        str(spec.get("type") or "ClusterIP"),
        cluster_ip,
        _external_ip(spec, status),
        _ports(items(spec, "ports")),
        age(obj, now),
        format_labels(spec.get("selector")),
    ]


SERVICE = Printer(
    (
        NAME,
        col("Type", "string", doc("core/v1.ServiceSpec.type")),
        col("Cluster-IP", "string", doc("core/v1.ServiceSpec.clusterIP")),
        col("External-IP", "string", doc("core/v1.ServiceSpec.externalIPs")),
        col("Port(s)", "string", doc("core/v1.ServiceSpec.ports")),
        AGE,
        col("Selector", "string", doc("core/v1.ServiceSpec.selector"), 1),
    ),
    _service_row,
)


def _host_port(ip: str, port: Any) -> str:
    """net.JoinHostPort: brackets around IPv6 literals."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def format_endpoints(subsets: list[Any]) -> str:
    """formatEndpoints(ports=nil): up to 3 `ip:port` entries, then ` + N more...`."""
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, count, more = 3, 0, False
    for ss in subsets:
        addresses = items(ss, "addresses")
        port_list: list[Any] = items(ss, "ports") or [None]  # no ports: bare IPs (headless)
        for port in port_list:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == limit:
                    more = True
                    break
                ip = str(addr.get("ip", ""))
                shown.append(ip if port is None else _host_port(ip, port.get("port", 0)))
    joined = ",".join(shown)
    return f"{joined} + {count - limit} more..." if more else joined


def _endpoints_row(obj: Obj, now: datetime) -> list[Cell]:
    return [name_of(obj), format_endpoints(items(obj, "subsets")), age(obj, now)]


ENDPOINTS = Printer((NAME, col("Endpoints", "string", doc("core/v1.Endpoints.subsets")), AGE), _endpoints_row)


# --- nodes -------------------------------------------------------------------------
_ROLE_PREFIX = "node-role.kubernetes.io/"


def node_roles(labels: Any) -> str:
    roles = set()
    for key, value in (labels or {}).items():
        if key.startswith(_ROLE_PREFIX):
            role = key[len(_ROLE_PREFIX) :]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def _node_status(obj: Obj) -> str:
    ready = None
    for cond in items(sub(obj, "status"), "conditions"):
        if cond.get("type") == "Ready":
            ready = cond  # the last one wins, as in upstream's map
    parts = ["Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")]
    if sub(obj, "spec").get("unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def _address(status: Obj, kind: str) -> str:
    for addr in items(status, "addresses"):
        if addr.get("type") == kind:
            return str(addr.get("address", ""))
    return "<none>"


def _node_row(obj: Obj, now: datetime) -> list[Cell]:
    status = sub(obj, "status")
    info = sub(status, "nodeInfo")
    return [
        name_of(obj),
        _node_status(obj),
        node_roles(meta(obj).get("labels")),
        age(obj, now),
        str(info.get("kubeletVersion") or ""),
        _address(status, "InternalIP"),
        _address(status, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


NODE = Printer(
    (
        NAME,
        col("Status", "string", "The status of the node"),
        col("Roles", "string", "The roles of the node"),
        AGE,
        col("Version", "string", doc("core/v1.NodeSystemInfo.kubeletVersion")),
        col("Internal-IP", "string", doc("core/v1.NodeStatus.addresses"), 1),
        col("External-IP", "string", doc("core/v1.NodeStatus.addresses"), 1),
        col("OS-Image", "string", doc("core/v1.NodeSystemInfo.osImage"), 1),
        col("Kernel-Version", "string", doc("core/v1.NodeSystemInfo.kernelVersion"), 1),
        col("Container-Runtime", "string", doc("core/v1.NodeSystemInfo.containerRuntimeVersion"), 1),
    ),
    _node_row,
)
