"""Snapshot: the frozen view of the cluster one scheduling cycle works on.

Theory of operation: at the start of every cycle the cache brings the snapshot
up to date (cache.update_snapshot), copying only the NodeInfos whose generation
changed, so a cycle costs O(changed nodes), not O(nodes). Plugins read the
snapshot and never the live cache: pods bound or assumed while the cycle
awaits (preemption) do not shift under its feet. `node_info_list` is ordered
like upstream's node tree: nodes are grouped by zone and listed round-robin
across zones, so the "first N feasible nodes" search spreads over zones.
"""

from __future__ import annotations

from pocketkube.scheduler.nodeinfo import NodeInfo


class Snapshot:
    __slots__ = ("generation", "have_pods_with_affinity", "have_pods_with_required_anti_affinity", "image_nodes",
                 "node_info_list", "node_info_map")

    def __init__(self) -> None:
        self.node_info_map: dict[str, NodeInfo] = {}
        self.node_info_list: list[NodeInfo] = []
        self.have_pods_with_affinity: list[NodeInfo] = []
        self.have_pods_with_required_anti_affinity: list[NodeInfo] = []
        self.image_nodes: dict[str, int] = {}
        self.generation = -1

    def get(self, name: str) -> NodeInfo | None:
        return self.node_info_map.get(name)

    def num_nodes(self) -> int:
        return len(self.node_info_list)

    @classmethod
    def of(cls, nodes: list[NodeInfo]) -> Snapshot:
        """A snapshot of the given NodeInfos (tests and benchmarks; no copying)."""
        s = cls()
        s.node_info_map = {n.name: n for n in nodes}
        s.node_info_list = list(nodes)
        s.rebuild_side_lists()
        return s

    def rebuild_side_lists(self) -> None:
        self.have_pods_with_affinity = [n for n in self.node_info_list if n.pods_with_affinity]
        self.have_pods_with_required_anti_affinity = [n for n in self.node_info_list
                                                      if n.pods_with_required_anti_affinity]
        counts: dict[str, int] = {}
        for n in self.node_info_list:
            for image in n.images:
                counts[image] = counts.get(image, 0) + 1
        self.image_nodes = counts
