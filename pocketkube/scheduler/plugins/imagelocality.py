"""ImageLocality: prefer nodes that already have the pod's images (from node status.images).

Pure core (upstream image_locality.go): each container image present on the
node scores its size scaled by the fraction of nodes that have it (so images
everywhere count for little); the sum is clamped between 23 MiB and 1000 MiB
per container and mapped linearly onto 0..100. Names without a tag get
":latest", as the kubelet reports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.handle import Handle
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.podinfo import PodInfo

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def normalized_image_name(name: str) -> str:
    if name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    sum_scores = min(max(sum_scores, MIN_THRESHOLD), max_threshold)
    return fw.MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


def image_score(spec: Mapping[str, Any], images: Mapping[str, int], image_nodes: Mapping[str, int],
                total_nodes: int) -> int:
    containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
    if not containers:
        return 0
    total = 0
    if images and total_nodes:
        for c in containers:
            name = normalized_image_name(c.get("image") or "")
            size = images.get(name)
            if size is not None:
                total += int(size * (image_nodes.get(name, 0) / total_nodes))
    return calculate_priority(total, len(containers))


class ImageLocality:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle

    def score(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_nodes(state, pod, [node])[0]

    def score_nodes(self, state: fw.CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        snap = self.handle.snapshot
        if not snap.image_nodes:
            return [0] * len(nodes)
        total = snap.num_nodes()
        return [image_score(pod.spec, n.images, snap.image_nodes, total) if n.images else 0 for n in nodes]
