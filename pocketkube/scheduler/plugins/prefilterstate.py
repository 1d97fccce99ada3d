"""PreFilter state that follows preemption: the PreFilterExtensions the counting filters share (pure).

Theory of operation: InterPodAffinity and PodTopologySpread count, in
PreFilter, the already placed pods their Filter needs (matching pods per
topology domain) and keep the counts in the cycle state under their own key.
When preemption or a nominated pod adds a pod to a node or removes one, the
framework calls AddPod/RemovePod so the counts follow: `StateExtensions(key)`
reads that state and calls its `update_with_pod(pod, other, node, +1 or -1)`;
without a state (PreFilter skipped the pod) there is nothing to update.
`filter_with_state` runs a Filter over the state and, as upstream, reports a
missing state as an error ("reading <key> from cycle state: not found").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.podinfo import PodInfo


class CountingState(Protocol):
    def update_with_pod(self, pod: PodInfo, other: PodInfo, node: NodeInfo, sign: int, /) -> None: ...


S = TypeVar("S")


class StateExtensions:
    """AddPod/RemovePod for the plugin whose PreFilter state lives under `key`."""

    def __init__(self, key: str) -> None:
        self.key = key

    def _update(self, state: fw.CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, sign: int) -> None:
        s: CountingState | None = state.read(self.key)
        if s is not None:
            s.update_with_pod(pod, other, node, sign)

    def add_pod(self, state: fw.CycleState, pod: PodInfo, to_add: PodInfo, node: NodeInfo) -> fw.Status | None:
        self._update(state, pod, to_add, node, 1)
        return None

    def remove_pod(self, state: fw.CycleState, pod: PodInfo, to_remove: PodInfo,
                   node: NodeInfo) -> fw.Status | None:
        self._update(state, pod, to_remove, node, -1)
        return None


def filter_with_state(state: fw.CycleState, key: str, pod: PodInfo, node: NodeInfo,
                      filter_status: Callable[[S, PodInfo, NodeInfo], fw.Status | None]) -> fw.Status | None:
    s: S | None = state.read(key)
    if s is None:
        return fw.error_status(f"reading {key} from cycle state: not found")
    return filter_status(s, pod, node)
