"""Request tracing: spans reach an OTLP/HTTP endpoint when one is configured (issue 3)."""

from __future__ import annotations

import http.server
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from cluster import Cluster


class _Collector(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    _Collector.bodies = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", _Collector.bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_spans_are_exported_over_otlp(collector: tuple[str, list[bytes]]) -> None:
    endpoint, bodies = collector
    c = Cluster(profile="traced")
    c.env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = endpoint
    try:
        c.start()
        c.kubectl("get", "namespaces")
        c.wait_for(lambda: any(b"HTTP list namespaces" in b for b in bodies), timeout=30)
        assert any(b"apiserver" in b for b in bodies)  # service.name resource attribute
    finally:
        c.close()


def test_tracing_off_costs_nothing() -> None:
    code = ("import sys; from pocketkube.apiserver.server import APIServer; from pocketkube.apiserver.tracing "
            "import Tracer; t = Tracer(''); assert not t.enabled; "
            "print(any(m.startswith('opentelemetry') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
