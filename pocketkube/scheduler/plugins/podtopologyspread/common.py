"""PodTopologySpread building blocks: constraints, default selectors, matching-pod counts (pure).

Theory of operation (upstream podtopologyspread/common.go, helper.DefaultSelector):

- `constraints_of(spec, labels, action)` keeps the pod's topologySpreadConstraints
  with the given whenUnsatisfiable, compiling the labelSelector and ANDing in
  the pod's values of matchLabelKeys; minDomains defaults to 1,
  nodeAffinityPolicy to Honor and nodeTaintsPolicy to Ignore.
- A pod with no constraints of its own gets the plugin's default ones (system
  defaults: hostname maxSkew 3 and zone maxSkew 5, both ScheduleAnyway) with
  the selector `default_selector` derives from the Services selecting the pod
  and its controlling ReplicationController/ReplicaSet/StatefulSet; an empty
  selector drops them.
- `MatchCounter.count(node, selector, namespace)` counts the non-terminating
  pods of that namespace on the node matching the selector (an empty selector
  counts nothing, as upstream). Counting every node for every pod is the
  expensive part of this plugin, so counts are memoised per (selector,
  namespace, node) and reused while the NodeInfo's generation is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pocketkube.machinery.taints import find_untolerated
from pocketkube.scheduler.labelsel import Selector, compile_selector, from_match_labels
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.plugins.nodeaffinity import RequiredNodeAffinity
from pocketkube.scheduler.podinfo import PodInfo

DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
HONOR = "Honor"
IGNORE = "Ignore"

SYSTEM_DEFAULT_CONSTRAINTS: tuple[dict[str, Any], ...] = (
    {"topologyKey": HOSTNAME, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 3},
    {"topologyKey": ZONE, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 5},
)

Obj = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: Selector
    min_domains: int = 1
    node_affinity_policy: str = HONOR
    node_taints_policy: str = IGNORE

    def matches_inclusion_policies(self, pod: PodInfo, node: NodeInfo, required: RequiredNodeAffinity) -> bool:
        if self.node_affinity_policy == HONOR and not required.matches(node.labels, node.name):
            return False
        return not (self.node_taints_policy == HONOR and find_untolerated(node.taints, pod.tolerations) is not None)


def constraints_of(raw: Sequence[Obj], labels: Mapping[str, str], action: str) -> list[Constraint]:
    out = []
    for c in raw:
        if c.get("whenUnsatisfiable") != action:
            continue
        selector = compile_selector(c.get("labelSelector"))
        for key in c.get("matchLabelKeys") or ():
            if key in labels:
                selector = selector.with_requirement(key, labels[key])
        out.append(Constraint(int(c.get("maxSkew") or 1), c.get("topologyKey") or "", selector,
                              int(c.get("minDomains") or 1), c.get("nodeAffinityPolicy") or HONOR,
                              c.get("nodeTaintsPolicy") or IGNORE))
    return out


def _controller_of(meta: Obj) -> Obj | None:
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def default_selector(pod: PodInfo, listers: Any) -> Selector:
    """Upstream DefaultSelector: Services' selectors merged, plus the controller's selector."""
    merged: dict[str, str] = {}
    for svc in listers.list("services", pod.namespace):
        sel = (svc.get("spec") or {}).get("selector") or {}
        if sel and all(pod.labels.get(k) == v for k, v in sel.items()):
            merged.update(sel)
    selector = from_match_labels(merged)
    owner = _controller_of(pod.pod.get("metadata") or {})
    if owner is None:
        return selector
    api_version, kind = owner.get("apiVersion", ""), owner.get("kind", "")
    resource = {("v1", "ReplicationController"): "replicationcontrollers",
                ("apps/v1", "ReplicaSet"): "replicasets",
                ("apps/v1", "StatefulSet"): "statefulsets"}.get((api_version, kind))
    if resource is None:
        return selector
    obj = listers.get(resource, pod.namespace, owner.get("name", ""))
    if obj is None:
        return selector
    spec_sel = (obj.get("spec") or {}).get("selector")
    if resource == "replicationcontrollers":
        merged.update(spec_sel or {})
        return from_match_labels(merged)
    other = compile_selector(spec_sel)
    if other.nothing:
        return selector
    return Selector(selector.equals + other.equals, selector.others + other.others)


def pod_constraints(pod: PodInfo, action: str, defaults: Sequence[Obj], listers: Any) -> list[Constraint]:
    own = pod.spec.get("topologySpreadConstraints") or []
    if own:
        return constraints_of(own, pod.labels, action)
    constraints = constraints_of(defaults, pod.labels, action)
    if not constraints:
        return []
    selector = default_selector(pod, listers)
    if selector.is_empty():
        return []
    return [Constraint(c.max_skew, c.topology_key, selector, c.min_domains, c.node_affinity_policy,
                       c.node_taints_policy) for c in constraints]


def has_all_keys(labels: Mapping[str, str], constraints: Sequence[Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


def count_matching(pods: Sequence[PodInfo], selector: Selector, namespace: str) -> int:
    if selector.is_empty():
        return 0
    n = 0
    for p in pods:
        if not p.deleting and p.namespace == namespace and selector.matches(p.labels):
            n += 1
    return n


class MatchCounter:
    """Memoised `count_matching` per (selector, namespace, node), valid while the node's generation holds."""

    MAX_KEYS = 512

    def __init__(self) -> None:
        self._memo: dict[tuple[Any, ...], dict[str, tuple[int, int]]] = {}

    def memo(self, selector: Selector, namespace: str) -> dict[str, tuple[int, int]]:
        """The per-node memo of one (selector, namespace); pass it to `count_with`."""
        key = (selector.key, namespace)
        per_node = self._memo.get(key)
        if per_node is None:
            if len(self._memo) >= self.MAX_KEYS:
                self._memo.clear()
            per_node = self._memo[key] = {}
        return per_node

    def count(self, node: NodeInfo, selector: Selector, namespace: str) -> int:
        return count_with(self.memo(selector, namespace), node, selector, namespace)


def count_with(memo: dict[str, tuple[int, int]], node: NodeInfo, selector: Selector, namespace: str) -> int:
    hit = memo.get(node.name)
    if hit is not None and hit[0] == node.generation:
        return hit[1]
    n = count_matching(node.pods, selector, namespace)
    memo[node.name] = (node.generation, n)
    return n


def inclusion_is_trivial(required: RequiredNodeAffinity, constraints: Sequence[Constraint]) -> bool:
    """True when every node passes every constraint's inclusion policies (no affinity, taints ignored)."""
    return not required.node_selector and required.terms is None and all(
        c.node_taints_policy != HONOR for c in constraints)
