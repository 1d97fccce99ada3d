from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from pocketkube.client.fake import FakeClient
from pocketkube.kubelet.agent import Agent, AgentOptions
from pocketkube.kubelet.agentmetrics import AgentCollector


async def test_metrics_are_read_from_the_agent_counters() -> None:
    agent = Agent(FakeClient(), AgentOptions())
    agent.workers._observe_start(0.3)
    agent.workers._observe_start(7.0)
    agent.events.dropped = 4
    registry = CollectorRegistry()
    registry.register(AgentCollector(agent))
    text = generate_latest(registry).decode()
    assert 'kubelet_pod_start_duration_seconds_bucket{le="0.5"} 1.0' in text
    assert 'kubelet_pod_start_duration_seconds_bucket{le="8.0"} 2.0' in text
    assert 'kubelet_pod_start_duration_seconds_bucket{le="+Inf"} 2.0' in text
    assert "kubelet_pod_start_duration_seconds_sum 7.3" in text
    assert 'pocketkube_node_agent_events_total{result="dropped"} 4.0' in text
    assert "kubelet_running_pods 0.0" in text
