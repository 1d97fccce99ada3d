"""The scheduler's Prometheus metrics, with kube-scheduler's names, labels and buckets.

Theory of operation: `SchedulerMetrics(registry)` creates the families once per
registry (the process-wide client.metrics.REGISTRY by default, which
cmd/scheduler.py serves on /metrics). Counters and histograms are updated by
the scheduling loop; scheduler_pending_pods is computed when scraped, from the
queue's counts (no ticker).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pocketkube.client.metrics import REGISTRY

SCHEDULED = "scheduled"
UNSCHEDULABLE = "unschedulable"
ERROR = "error"

# metrics.ExponentialBuckets(0.001, 2, 15)
_ATTEMPT_BUCKETS = tuple(0.001 * 2 ** i for i in range(15))
# metrics.ExponentialBuckets(1, 2, 7)
_VICTIM_BUCKETS = tuple(float(2 ** i) for i in range(7))


class SchedulerMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.attempts = Counter(
            "scheduler_schedule_attempts_total",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be "
            "scheduled, while 'error' means an internal scheduler problem.", ("result", "profile"),
            registry=registry)
        self.attempt_duration = Histogram(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)", ("result", "profile"),
            buckets=_ATTEMPT_BUCKETS, registry=registry)
        self.algorithm_duration = Histogram(
            "scheduler_scheduling_algorithm_duration_seconds", "Scheduling algorithm latency in seconds",
            buckets=_ATTEMPT_BUCKETS, registry=registry)
        self.pending = Gauge(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' "
            "means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that "
            "the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that "
            "the scheduler never attempted to schedule because they are gated.", ("queue",), registry=registry)
        self.pod_attempts = Histogram(
            "scheduler_pod_scheduling_attempts", "Number of attempts to successfully schedule a pod.",
            buckets=(1, 2, 4, 8, 16), registry=registry)
        self.preemption_attempts = Counter(
            "scheduler_preemption_attempts_total", "Total preemption attempts in the cluster till now",
            registry=registry)
        self.preemption_victims = Histogram(
            "scheduler_preemption_victims", "Number of selected preemption victims", buckets=_VICTIM_BUCKETS,
            registry=registry)

    def watch_queue(self, counts: Callable[[], dict[str, int]]) -> None:
        for queue in ("active", "backoff", "unschedulable", "gated"):
            self.pending.labels(queue).set_function(lambda q=queue: float(counts().get(q, 0)))  # type: ignore[misc]

    def observe_attempt(self, result: str, profile: str, seconds: float) -> None:
        self.attempts.labels(result, profile).inc()
        self.attempt_duration.labels(result, profile).observe(seconds)
