"""Request tracing with OpenTelemetry, exported over OTLP/HTTP when an endpoint is configured.

Theory of operation: tracing is off unless the apiserver gets `--tracing-endpoint`
(or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT is set).
When off, `Tracer.span` is a no-op context manager and the OpenTelemetry packages
are never imported, so it costs nothing. When on, every request gets one
server span (named like upstream's "HTTP <verb> route") with the Kubernetes
request attributes, ended with the status code; spans are batched and sent by
the SDK's background exporter thread. W3C `traceparent` headers from clients
are honoured so a client's trace continues through the apiserver.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

SERVICE_NAME = "apiserver"


def endpoint_from_env() -> str:
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").rstrip("/") + "/v1/traces"
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") else "")


class Tracer:
    def __init__(self, endpoint: str = "", service: str = SERVICE_NAME) -> None:
        self.enabled = bool(endpoint)
        self._tracer: Any = None
        self._provider: Any = None
        if not self.enabled:
            return
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self._provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint),
                                                             schedule_delay_millis=500))
        self._tracer = self._provider.get_tracer("pocketkube.apiserver")

    @contextlib.contextmanager
    def span(self, name: str, headers: Mapping[str, str], attributes: dict[str, Any]) -> Iterator[Any]:
        if not self.enabled:
            yield None
            return
        from opentelemetry.propagate import extract
        from opentelemetry.trace import SpanKind

        with self._tracer.start_as_current_span(name, context=extract(dict(headers)), kind=SpanKind.SERVER,
                                                attributes=attributes) as span:
            yield span

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()
