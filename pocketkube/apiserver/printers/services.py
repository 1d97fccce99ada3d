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
    CellFunc,
    Obj,
    col,
    column_printer,
    field,
    format_labels,
    items,
    load_balancer_ingress,
    meta,
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


def _cluster_ip(obj: Obj, now: datetime) -> Cell:
    spec = sub(obj, "spec")
    cluster_ips = items(spec, "clusterIPs")
    return cluster_ips[0] if cluster_ips else (spec.get("clusterIP") or "<none>")


def _external_ip_cell(obj: Obj, now: datetime) -> Cell:
    return _external_ip(sub(obj, "spec"), sub(obj, "status"))


def _ports_cell(obj: Obj, now: datetime) -> Cell:
    return _ports(items(sub(obj, "spec"), "ports"))


_SPEC = "core/v1.ServiceSpec."
SERVICE = column_printer(
    NAME,
    col("Type", "string", doc(_SPEC + "type"), cell=field("spec.type", "ClusterIP")),
    col("Cluster-IP", "string", doc(_SPEC + "clusterIP"), cell=_cluster_ip),
    col("External-IP", "string", doc(_SPEC + "externalIPs"), cell=_external_ip_cell),
    col("Port(s)", "string", doc(_SPEC + "ports"), cell=_ports_cell),
    AGE,
    col(
        "Selector", "string", doc(_SPEC + "selector"), 1, cell=field("spec.selector", "<none>", format_labels)
    ),
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


def _endpoints(obj: Obj, now: datetime) -> Cell:
    return format_endpoints(items(obj, "subsets"))


ENDPOINTS = column_printer(
    NAME, col("Endpoints", "string", doc("core/v1.Endpoints.subsets"), cell=_endpoints), AGE
)


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


def _node_status(obj: Obj, now: datetime) -> Cell:
    ready = None
    for cond in items(sub(obj, "status"), "conditions"):
        if cond.get("type") == "Ready":
            ready = cond  # the last one wins, as in upstream's map
    parts = ["Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")]
    if sub(obj, "spec").get("unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def _address(kind: str) -> CellFunc:
    """The node's first status address of that type, `<none>` without one."""

    def cell(obj: Obj, now: datetime) -> Cell:
        for addr in items(sub(obj, "status"), "addresses"):
            if addr.get("type") == kind:
                return str(addr.get("address", ""))
        return "<none>"

    return cell


def _roles(obj: Obj, now: datetime) -> Cell:
    return node_roles(meta(obj).get("labels"))


def _node_info(key: str) -> CellFunc:
    """A status.nodeInfo string, `<unknown>` when empty."""
    return field("status.nodeInfo." + key, "<unknown>", None)


_INFO = "core/v1.NodeSystemInfo."
NODE = column_printer(
    NAME,
    col("Status", "string", "The status of the node", cell=_node_status),
    col("Roles", "string", "The roles of the node", cell=_roles),
    AGE,
    col("Version", "string", doc(_INFO + "kubeletVersion"), cell=field("status.nodeInfo.kubeletVersion")),
    col("Internal-IP", "string", doc("core/v1.NodeStatus.addresses"), 1, cell=_address("InternalIP")),
    col("External-IP", "string", doc("core/v1.NodeStatus.addresses"), 1, cell=_address("ExternalIP")),
    col("OS-Image", "string", doc(_INFO + "osImage"), 1, cell=_node_info("osImage")),
    col("Kernel-Version", "string", doc(_INFO + "kernelVersion"), 1, cell=_node_info("kernelVersion")),
    col(
        "Container-Runtime",
        "string",
        doc(_INFO + "containerRuntimeVersion"),
        1,
        cell=_node_info("containerRuntimeVersion"),
    ),
)
