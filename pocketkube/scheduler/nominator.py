"""Nominated pods: pods that preempted others and wait for room on a chosen node.

Theory of operation (upstream podNominator): when preemption picks a node for
a pod, the pod is "nominated" there (status.nominatedNodeName) while its
victims terminate. Until it is bound, filters running for *other* pods on that
node treat it as already present if its priority is at least theirs, so the
room it preempted for is not taken by a lower-priority pod. The nominator maps
node name -> nominated PodInfos and pod uid -> node; it is fed from the pods'
status (informer) and from the scheduler's own PostFilter results. Pure code.
"""

from __future__ import annotations

from pocketkube.scheduler.podinfo import PodInfo


class Nominator:
    def __init__(self) -> None:
        self._by_node: dict[str, list[PodInfo]] = {}
        self._node_of: dict[str, str] = {}

    def add(self, pi: PodInfo, node_name: str) -> None:
        """Nominate `pi` on `node_name` ("" removes the nomination)."""
        self.delete(pi.uid)
        if not node_name or pi.node_name:
            return
        self._node_of[pi.uid] = node_name
        self._by_node.setdefault(node_name, []).append(pi)

    def add_from_status(self, pi: PodInfo) -> None:
        self.add(pi, str((pi.pod.get("status") or {}).get("nominatedNodeName") or ""))

    def delete(self, uid: str) -> None:
        node = self._node_of.pop(uid, None)
        if node is None:
            return
        pods = [p for p in self._by_node.get(node, ()) if p.uid != uid]
        if pods:
            self._by_node[node] = pods
        else:
            self._by_node.pop(node, None)

    def nominated_node(self, uid: str) -> str:
        return self._node_of.get(uid, "")

    def pods_for_node(self, node_name: str) -> list[PodInfo]:
        return list(self._by_node.get(node_name, ()))

    def __bool__(self) -> bool:
        return bool(self._node_of)
