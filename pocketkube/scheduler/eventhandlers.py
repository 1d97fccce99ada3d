"""Informer events -> scheduler cache and queue (upstream eventhandlers.go).

Theory of operation: pods split in two streams by spec.nodeName.
- Assigned pods feed the cache (add/update/remove; an add confirms an assumed
  pod) and tell the queue that something changed on their node
  (AssignedPodAdd, assigned-pod updates by kind of change, AssignedPodDelete).
- Pending pods whose spec.schedulerName is one of our profiles feed the queue
  (add, update with the kinds of change -- labels, scale-down, tolerations,
  gates removed, other -- or delete). A pod becoming bound leaves the queue and
  enters the cache. Re-deliveries of an unchanged object (same resourceVersion,
  informer resyncs) are ignored. Updates of a pod the scheduler has assumed are ignored (its
  binding is in flight).
- Nodes feed the cache; adds and deletions are offered to parked pods as
  NodeAdd/NodeDelete, updates as the kinds of change that matter (allocatable,
  labels, taints or cordon, conditions, annotations) -- heartbeats that only
  move timestamps produce no event at all.
The change classifiers are pure functions.
"""

from __future__ import annotations

from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.cache import Cache
from pocketkube.scheduler.podinfo import PodInfo, pod_uid
from pocketkube.scheduler.queue import SchedulingQueue
from pocketkube.scheduler.resources import pod_requests

Obj = dict[str, Any]
A = fw.ActionType


def _spec(o: Obj | None) -> Obj:
    spec: Obj = (o or {}).get("spec") or {}
    return spec


def _meta(o: Obj | None) -> Obj:
    meta: Obj = (o or {}).get("metadata") or {}
    return meta


def _status(o: Obj | None) -> Obj:
    status: Obj = (o or {}).get("status") or {}
    return status


def _same_version(old: Obj, new: Obj) -> bool:
    """A resync re-delivers the cached object: nothing changed (upstream skips these)."""
    rv = _meta(old).get("resourceVersion")
    return bool(rv) and rv == _meta(new).get("resourceVersion")


def is_assigned(pod: Obj) -> bool:
    return bool(_spec(pod).get("nodeName"))


def is_terminal(pod: Obj) -> bool:
    return _status(pod).get("phase") in ("Succeeded", "Failed")


def _scaled_down(new: Obj, old: Obj) -> bool:
    a, b = pod_requests(_spec(new)), pod_requests(_spec(old))
    return (a.milli_cpu < b.milli_cpu or a.memory < b.memory or a.ephemeral_storage < b.ephemeral_storage or
            any(v < b.scalar.get(k, 0) for k, v in a.scalar.items()))


def pod_change_actions(new: Obj, old: Obj) -> fw.ActionType:
    """The kinds of change between two versions of a pod (upstream PodSchedulingPropertiesChange)."""
    action = A(0)
    if _meta(new).get("labels") != _meta(old).get("labels"):
        action |= A.UPDATE_POD_LABEL
    if _scaled_down(new, old):
        action |= A.UPDATE_POD_SCALE_DOWN
    if _spec(old).get("schedulingGates") and not _spec(new).get("schedulingGates"):
        action |= A.UPDATE_POD_SCHEDULING_GATES_ELIMINATED
    if _spec(new).get("tolerations") != _spec(old).get("tolerations"):
        action |= A.UPDATE_POD_TOLERATIONS
    return action or A.UPDATE_POD_OTHER


def pod_change_events(new: Obj, old: Obj) -> list[fw.ClusterEvent]:
    resource = fw.POD if is_assigned(new) else fw.UNSCHEDULED_POD
    action = pod_change_actions(new, old)
    return [fw.ClusterEvent(resource, a) for a in A if a in action and a.bit_count() == 1]


def _conditions(node: Obj) -> dict[str, str]:
    return {c.get("type", ""): c.get("status", "") for c in _status(node).get("conditions") or ()}


def node_change_events(new: Obj, old: Obj) -> list[fw.ClusterEvent]:
    """The scheduling-relevant changes of a node update (upstream nodeSchedulingPropertiesChange)."""
    events = []
    if bool(_spec(new).get("unschedulable")) != bool(_spec(old).get("unschedulable")):
        events.append(fw.ClusterEvent(fw.NODE, A.UPDATE_NODE_TAINT, "NodeSpecUnschedulableChange"))
    if _status(new).get("allocatable") != _status(old).get("allocatable"):
        events.append(fw.ClusterEvent(fw.NODE, A.UPDATE_NODE_ALLOCATABLE, "NodeAllocatableChange"))
    if _meta(new).get("labels") != _meta(old).get("labels"):
        events.append(fw.ClusterEvent(fw.NODE, A.UPDATE_NODE_LABEL, "NodeLabelChange"))
    if _spec(new).get("taints") != _spec(old).get("taints"):
        events.append(fw.ClusterEvent(fw.NODE, A.UPDATE_NODE_TAINT, "NodeTaintChange"))
    if _conditions(new) != _conditions(old):
        events.append(fw.ClusterEvent(fw.NODE, A.UPDATE_NODE_CONDITION, "NodeConditionChange"))
    if _meta(new).get("annotations") != _meta(old).get("annotations"):
        events.append(fw.ClusterEvent(fw.NODE, A.UPDATE_NODE_ANNOTATION, "NodeAnnotationChange"))
    return events


class EventHandlers:
    """The informer callbacks; `scheduler_names` are the profiles this scheduler serves."""

    def __init__(self, cache: Cache, queue: SchedulingQueue, scheduler_names: set[str]) -> None:
        self.cache = cache
        self.queue = queue
        self.scheduler_names = scheduler_names

    def responsible(self, pod: Obj) -> bool:
        return (_spec(pod).get("schedulerName") or "default-scheduler") in self.scheduler_names

    # ------------------------------------------------------------------ pods
    def on_pod_add(self, pod: Obj) -> None:
        if is_terminal(pod):
            return
        if is_assigned(pod):
            self.cache.add_pod(PodInfo.of(pod))
            self.queue.assigned_pod_added(pod)
        elif self.responsible(pod):
            self.queue.add(PodInfo.of(pod))

    def on_pod_update(self, old: Obj, new: Obj) -> None:
        if _same_version(old, new):
            return
        if is_assigned(new):
            if not is_assigned(old):
                self.queue.delete(pod_uid(old))
                self.on_pod_add(new)
                return
            if is_terminal(new):
                self.on_pod_delete(new)
                return
            self.cache.update_pod(PodInfo.of(new))
            for ev in pod_change_events(new, old):
                self.queue.move_all_to_active_or_backoff(ev, old, new)
            return
        if self.responsible(new):
            if self.cache.is_assumed(pod_uid(new)):
                return
            self.queue.update(PodInfo.of(new), pod_change_events(new, old))
        elif self.responsible(old):
            self.queue.delete(pod_uid(old))

    def on_pod_delete(self, pod: Obj) -> None:
        if is_assigned(pod):
            self.cache.remove_pod(pod_uid(pod))
            self.queue.move_all_to_active_or_backoff(fw.EVENT_ASSIGNED_POD_DELETE, pod, None)
        else:
            self.queue.delete(pod_uid(pod))

    # ------------------------------------------------------------------ nodes
    def on_node_add(self, node: Obj) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(fw.EVENT_NODE_ADD, None, node)

    def on_node_update(self, old: Obj, new: Obj) -> None:
        if _same_version(old, new):
            return
        self.cache.update_node(new)
        for ev in node_change_events(new, old):
            self.queue.move_all_to_active_or_backoff(ev, old, new)

    def on_node_delete(self, node: Obj) -> None:
        self.cache.remove_node(_meta(node).get("name", ""))
        self.queue.move_all_to_active_or_backoff(fw.EVENT_NODE_DELETE, node, None)
