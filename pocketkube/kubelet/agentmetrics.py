"""Prometheus metrics of the node agent, read from its counters at scrape time.

Theory of operation: the agent keeps plain integer counters (no metric calls
on the hot path); `AgentCollector` turns them into metric families when
/metrics is scraped. Names follow the kubelet where one exists
(`kubelet_running_pods`, `kubelet_pod_start_duration_seconds`: from first
seeing a pod to reporting it Running); the rest are pocketkube_node_agent_*.
Register one collector per process (cmd/node.py does).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from pocketkube.kubelet.podworkers import START_BUCKETS

if TYPE_CHECKING:
    from pocketkube.kubelet.agent import Agent


class AgentCollector:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        a = self.agent
        stats = a.statistics()
        nodes = GaugeMetricFamily("pocketkube_node_agent_nodes", "Simulated nodes hosted by this agent.",
                                  labels=["state"])
        serving = stats["nodes_serving"]
        nodes.add_metric(["serving"], serving)
        nodes.add_metric(["other"], stats["nodes_hosted"] - serving)
        yield nodes
        yield GaugeMetricFamily("kubelet_running_pods", "Pods with a running sandbox, over all hosted nodes.",
                                value=stats["running_pods"])
        yield CounterMetricFamily("pocketkube_node_agent_pod_syncs", "Pod worker syncs.", value=stats["pod_syncs"])
        yield CounterMetricFamily("pocketkube_node_agent_status_patches", "pods/status patches sent.",
                                  value=stats["status_patches"])
        yield CounterMetricFamily("pocketkube_node_agent_pod_deletions", "Deletion confirmations sent.",
                                  value=stats["pod_deletes"])
        yield CounterMetricFamily("pocketkube_node_agent_write_failures", "Failed status or delete calls.",
                                  value=stats["write_failures"])
        yield GaugeMetricFamily("pocketkube_node_agent_status_backlog", "Pods with a status write pending.",
                                value=stats["write_backlog"])
        events = CounterMetricFamily("pocketkube_node_agent_events", "Kubelet events by outcome.",
                                     labels=["result"])
        events.add_metric(["sent"], stats["events_sent"])
        events.add_metric(["dropped"], stats["events_dropped"])
        yield events
        yield self._start_histogram()

    def _start_histogram(self) -> Any:
        w = self.agent.workers
        buckets, running = [], 0
        for bound, count in zip(START_BUCKETS, w.start_counts, strict=False):
            running += count
            buckets.append((str(float(bound)), running))
        buckets.append(("+Inf", running + w.start_counts[-1]))
        return HistogramMetricFamily("kubelet_pod_start_duration_seconds",
                                     "Duration from the agent seeing a pod to reporting it Running.",
                                     buckets=buckets, sum_value=w.start_sum)
