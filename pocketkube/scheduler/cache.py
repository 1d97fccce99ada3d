"""The scheduler cache: live NodeInfos, pod states and assumed pods (optimistic binding).

Theory of operation (upstream internal/cache): informer events add, update and
remove nodes and *bound* pods. When the scheduler picks a node it "assumes"
the pod there immediately -- the pod counts against the node from that moment,
so the next cycle sees the reduced capacity without waiting for the API
server -- and binds it in the background. Then one of three things happens:

- the informer delivers the bound pod: `add_pod` confirms the assumption
  (moving the pod if the server put it elsewhere);
- the bind fails: `forget_pod` takes it off the node again;
- with a TTL configured (`assumed_ttl` > 0; upstream 1.32 uses 0, i.e. never),
  an assumed pod whose binding finished but was never confirmed expires after
  the TTL (`cleanup_assumed_pods`).

Every change marks its node dirty; `update_snapshot` copies exactly the dirty
NodeInfos into the Snapshot, and rebuilds the node order (zones round-robin)
only when the node set changed. Pods may arrive for a node the cache has not
seen yet: they wait on a node-less NodeInfo that is hidden from snapshots.
Single-threaded by design (one asyncio loop); no locks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pocketkube.client.clock import monotonic
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.snapshot import Snapshot

log = logging.getLogger("pocketkube.scheduler.cache")

Obj = dict[str, Any]
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"


@dataclass(slots=True)
class _PodState:
    pod: PodInfo
    assumed: bool = False
    binding_finished: bool = False
    deadline: float | None = None


def zone_key(labels: dict[str, str] | Any) -> str:
    region = labels.get(REGION_LABEL, "")
    zone = labels.get(ZONE_LABEL, "")
    return f"{region}:\x00:{zone}" if region or zone else ""


class Cache:
    def __init__(self, *, assumed_ttl: float = 0.0, clock: Callable[[], float] = monotonic) -> None:
        self.assumed_ttl = assumed_ttl
        self.clock = clock
        self.nodes: dict[str, NodeInfo] = {}
        self.pod_states: dict[str, _PodState] = {}
        self._zones: dict[str, list[str]] = {}
        self._dirty: set[str] = set()
        self._nodes_changed = True
        self._side_lists_stale = True

    # ------------------------------------------------------------------ nodes
    def add_node(self, node: Obj) -> NodeInfo:
        """Add or update a node; the node order changes only when a node appears or changes zone."""
        name = node["metadata"]["name"]
        ni = self.nodes.get(name)
        if ni is None:
            ni = self.nodes[name] = NodeInfo(name=name)
        old_zone = zone_key(ni.labels) if ni.node is not None else None
        old_images = ni.images
        ni.set_node(node)
        new_zone = zone_key(ni.labels)
        if old_zone != new_zone:
            if old_zone is not None:
                self._zone_remove(old_zone, name)
            self._zones.setdefault(new_zone, []).append(name)
            self._nodes_changed = True
            self._side_lists_stale = True
        if ni.images != old_images:
            self._side_lists_stale = True
        self._mark(name)
        return ni

    def update_node(self, node: Obj) -> NodeInfo:
        return self.add_node(node)

    def remove_node(self, name: str) -> None:
        ni = self.nodes.get(name)
        if ni is None or ni.node is None:
            return
        self._zone_remove(zone_key(ni.labels), name)
        if ni.pods:
            ni.node = None  # keep the pods until they are deleted (upstream keeps a ghost NodeInfo)
        else:
            del self.nodes[name]
        self._nodes_changed = True
        self._side_lists_stale = True

    def _zone_remove(self, zone: str, name: str) -> None:
        names = self._zones.get(zone)
        if names is not None and name in names:
            names.remove(name)
            if not names:
                del self._zones[zone]

    def node_count(self) -> int:
        return sum(1 for ni in self.nodes.values() if ni.node is not None)

    # ------------------------------------------------------------------ pods
    def _node_info(self, name: str) -> NodeInfo:
        ni = self.nodes.get(name)
        if ni is None:
            ni = self.nodes[name] = NodeInfo(name=name)
        return ni

    def _add_to_node(self, pi: PodInfo) -> None:
        self._node_info(pi.node_name).add_pod(pi)
        self._mark(pi.node_name)

    def _remove_from_node(self, pi: PodInfo) -> None:
        ni = self.nodes.get(pi.node_name)
        if ni is None:
            return
        ni.remove_pod(pi.uid)
        self._mark(pi.node_name)
        if ni.node is None and not ni.pods:
            del self.nodes[pi.node_name]

    def _mark(self, name: str) -> None:
        self._dirty.add(name)

    def assume_pod(self, pi: PodInfo) -> None:
        """Account `pi` (with node_name set) on its node before the bind is confirmed."""
        if pi.uid in self.pod_states:
            raise ValueError(f"pod {pi.key} is in the cache, so can't be assumed")
        self._add_to_node(pi)
        self.pod_states[pi.uid] = _PodState(pi, assumed=True)

    def finish_binding(self, pi: PodInfo) -> None:
        st = self.pod_states.get(pi.uid)
        if st is not None and st.assumed:
            st.binding_finished = True
            if self.assumed_ttl > 0:
                st.deadline = self.clock() + self.assumed_ttl

    def forget_pod(self, pi: PodInfo) -> None:
        st = self.pod_states.get(pi.uid)
        if st is None or not st.assumed:
            return
        self._remove_from_node(st.pod)
        del self.pod_states[pi.uid]

    def is_assumed(self, uid: str) -> bool:
        st = self.pod_states.get(uid)
        return st is not None and st.assumed

    def assumed_pod(self, uid: str) -> PodInfo | None:
        st = self.pod_states.get(uid)
        return st.pod if st is not None and st.assumed else None

    def add_pod(self, pi: PodInfo) -> None:
        """A bound pod from the informer (confirms an assumed pod)."""
        st = self.pod_states.get(pi.uid)
        if st is not None:
            if st.assumed and st.pod.node_name != pi.node_name:
                log.info("pod %s was assumed on %s but bound to %s", pi.key, st.pod.node_name, pi.node_name)
            self._remove_from_node(st.pod)
        self._add_to_node(pi)
        self.pod_states[pi.uid] = _PodState(pi)

    def update_pod(self, pi: PodInfo) -> None:
        st = self.pod_states.get(pi.uid)
        if st is not None:
            self._remove_from_node(st.pod)
        self._add_to_node(pi)
        self.pod_states[pi.uid] = _PodState(pi)

    def remove_pod(self, uid: str) -> None:
        st = self.pod_states.pop(uid, None)
        if st is not None:
            self._remove_from_node(st.pod)

    def cleanup_assumed_pods(self) -> list[PodInfo]:
        """Expire assumed pods whose binding finished more than `assumed_ttl` ago; returns them."""
        now = self.clock()
        expired = [st.pod for st in self.pod_states.values()
                   if st.assumed and st.binding_finished and st.deadline is not None and now >= st.deadline]
        for pi in expired:
            log.warning("assumed pod %s expired", pi.key)
            self._remove_from_node(pi)
            del self.pod_states[pi.uid]
        return expired

    def pod_count(self) -> int:
        return len(self.pod_states)

    # ------------------------------------------------------------------ snapshot
    def node_order(self) -> list[str]:
        """Node names, zones interleaved round-robin (upstream nodeTree.list)."""
        zones = list(self._zones.values())
        out: list[str] = []
        i = 0
        while True:
            added = False
            for names in zones:
                if i < len(names):
                    out.append(names[i])
                    added = True
            if not added:
                return out
            i += 1

    def update_snapshot(self, snap: Snapshot) -> None:
        if self._nodes_changed:
            fresh: dict[str, NodeInfo] = {}
            for name in self.node_order():
                old = snap.node_info_map.get(name)
                fresh[name] = old if old is not None and name not in self._dirty else self.nodes[name].clone()
            snap.node_info_map = fresh
            snap.node_info_list = list(fresh.values())
            self._nodes_changed = False
        else:
            for name in self._dirty:
                ni = self.nodes.get(name)
                if ni is None or ni.node is None or name not in snap.node_info_map:
                    continue
                clone = ni.clone()
                old = snap.node_info_map[name]
                snap.node_info_map[name] = clone
                snap.node_info_list[snap.node_info_list.index(old)] = clone
                if _in_side_lists(old) or _in_side_lists(clone):
                    self._side_lists_stale = True
        self._dirty.clear()
        if self._side_lists_stale:
            snap.rebuild_side_lists()
            self._side_lists_stale = False
        snap.generation += 1


def _in_side_lists(ni: NodeInfo) -> bool:
    return bool(ni.pods_with_affinity or ni.pods_with_required_anti_affinity)
