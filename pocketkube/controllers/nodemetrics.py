"""Prometheus families of the node-lifecycle, taint-eviction and pod GC controllers (upstream names).

Theory of operation: the families live in the process registry
(client.metrics.REGISTRY, served on the controller-manager's /metrics) and are
created once per registry, so any number of controller instances (tests build
many) share them. Names, help texts and labels are kube-controller-manager's:
node_collector_* (zone health, size, unhealthy nodes, evictions = NoExecute
taints placed), taint_eviction_controller_* (pod deletions and their latency
from the moment they were due) and pod_gc_collector_* (force deletions and
their errors by namespace and reason: terminated, orphaned, out-of-service,
unscheduled).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pocketkube.client import metrics

_DELETION_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 60, 120, 180, 240)


@dataclass(frozen=True)
class NodeMetrics:
    zone_health: Gauge
    zone_size: Gauge
    unhealthy_nodes: Gauge
    evictions: Counter
    pod_deletions: Counter
    pod_deletion_seconds: Histogram
    force_deletes: Counter
    force_delete_errors: Counter


_BY_REGISTRY: dict[int, tuple[CollectorRegistry, NodeMetrics]] = {}


def families(registry: CollectorRegistry | None = None) -> NodeMetrics:
    reg = registry or metrics.REGISTRY
    found = _BY_REGISTRY.get(id(reg))
    if found is not None and found[0] is reg:
        return found[1]
    zone = ["zone"]
    gc_labels = ["namespace", "reason"]
    made = NodeMetrics(
        zone_health=Gauge("node_collector_zone_health", "Gauge measuring percentage of healthy nodes per zone.",
                          zone, registry=reg),
        zone_size=Gauge("node_collector_zone_size", "Gauge measuring number of registered Nodes per zones.",
                        zone, registry=reg),
        unhealthy_nodes=Gauge("node_collector_unhealthy_nodes_in_zone",
                              "Gauge measuring number of not Ready Nodes per zones.", zone, registry=reg),
        evictions=Counter("node_collector_evictions", "Number of Node evictions that happened since current "
                          "instance of NodeController started.", zone, registry=reg),
        pod_deletions=Counter("taint_eviction_controller_pod_deletions", "Total number of Pods deleted by "
                              "TaintEvictionController since its start.", registry=reg),
        pod_deletion_seconds=Histogram(
            "taint_eviction_controller_pod_deletion_duration_seconds", "Latency, in seconds, between the time "
            "when a taint effect has been activated for the Pod and its deletion via TaintEvictionController.",
            buckets=_DELETION_BUCKETS, registry=reg),
        force_deletes=Counter("pod_gc_collector_force_delete_pods", "Number of pods that are being forcefully "
                              "deleted since the Pod GC Controller started.", gc_labels, registry=reg),
        force_delete_errors=Counter("pod_gc_collector_force_delete_pod_errors", "Number of errors encountered "
                                    "when forcefully deleting the pods since the Pod GC Controller started.",
                                    gc_labels, registry=reg),
    )
    _BY_REGISTRY[id(reg)] = (reg, made)
    return made
