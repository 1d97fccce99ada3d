"""Prometheus metrics of the apiserver, with upstream metric names and labels.

Theory of operation: one private CollectorRegistry per server holds
apiserver_request_total, apiserver_request_duration_seconds,
apiserver_storage_objects and the standard process_* collector; `observe` is
called once per request from the dispatcher with the parsed RequestInfo, and
`render` produces the text exposition format for /metrics.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest

from pocketkube.apiserver.requestinfo import RequestInfo

_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30,
            45, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        labels = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component", "code")
        self.requests = Counter("apiserver_request_total",
                                "Counter of apiserver requests broken out for each verb, dry run value, group, "
                                "version, resource, scope, component, and HTTP response code.",
                                labels, registry=self.registry)
        self.duration = Histogram("apiserver_request_duration_seconds",
                                  "Response latency distribution in seconds for each verb, dry run value, group, "
                                  "version, resource, subresource, scope and component.",
                                  labels[:-1], buckets=_BUCKETS, registry=self.registry)
        self.objects = Gauge("apiserver_storage_objects", "Number of stored objects at the time of last check "
                             "split by kind.", ("resource",), registry=self.registry)

    def observe(self, info: RequestInfo, code: int, seconds: float) -> None:
        if info.is_resource:
            scope = "resource" if info.name else ("namespace" if info.namespace else "cluster")
            values = (info.verb.upper(), "", info.group,
                      info.version, info.resource, info.subresource, scope, "apiserver")
        else:
            values = (info.verb.upper(), "", "", "", "", "", "", "apiserver")
        if info.verb == "watch":
            values = ("WATCH",) + values[1:]
        self.requests.labels(*values, str(code)).inc()
        if info.verb != "watch":
            self.duration.labels(*values).observe(seconds)

    def set_objects(self, resource: str, n: int) -> None:
        self.objects.labels(resource).set(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)
