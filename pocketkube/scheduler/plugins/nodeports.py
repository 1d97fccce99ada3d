"""NodePorts: a pod's host ports must be free on the node.

Pure core: `conflicts(ports, node)` -- a (hostIP, protocol, port) conflicts
with a used one of the same protocol and port when either IP is 0.0.0.0 or the
IPs are equal. Rejection: Unschedulable "node(s) didn't have free ports for
the requested pod ports". Pods without host ports Skip the plugin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.podinfo import PodInfo, host_ports

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"


def conflicts(ports: Sequence[tuple[str, str, int]], node: NodeInfo) -> bool:
    if not len(node.used_ports):
        return False
    return any(node.used_ports.conflicts(ip, proto, port) for ip, proto, port in ports)


def _ports_overlap(a: Sequence[tuple[str, str, int]], b: Sequence[tuple[str, str, int]]) -> bool:
    for ip1, proto1, port1 in a:
        for ip2, proto2, port2 in b:
            if proto1 == proto2 and port1 == port2 and (ip1 == ip2 or "0.0.0.0" in (ip1, ip2)):
                return True
    return False


def _pod_deleted(pod: dict[str, Any], old: Any, new: Any) -> fw.QueueingHint:
    if old is None or not (old.get("spec") or {}).get("nodeName"):
        return fw.QueueingHint.SKIP
    overlap = _ports_overlap(host_ports(pod.get("spec") or {}), host_ports(old.get("spec") or {}))
    return fw.QueueingHint.QUEUE if overlap else fw.QueueingHint.SKIP


class NodePorts:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Any) -> None:
        pass

    def pre_filter(self, state: fw.CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[fw.PreFilterResult | None, fw.Status | None]:
        return None, (None if pod.host_ports else fw.SKIP)

    def filter(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> fw.Status | None:
        if conflicts(pod.host_ports, node):
            return fw.Status(fw.Code.UNSCHEDULABLE, (ERR_REASON,), NAME)
        return None

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        return [fw.ClusterEventWithHint(fw.ClusterEvent(fw.POD, fw.ActionType.DELETE), _pod_deleted),
                fw.ClusterEventWithHint(fw.ClusterEvent(fw.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_TAINT |
                                                        fw.ActionType.UPDATE_NODE_LABEL))]
