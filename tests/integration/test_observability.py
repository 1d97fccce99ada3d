"""Health endpoints, Prometheus metrics and a real Prometheus scraping the apiserver (issue 3)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from cluster import Cluster

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def test_health_endpoints(cluster: Cluster) -> None:
    assert cluster.kubectl("get", "--raw", "/healthz").out == "ok"
    livez = cluster.kubectl("get", "--raw", "/livez?verbose").out
    assert "[+]ping ok" in livez and livez.rstrip().endswith("livez check passed")
    readyz = cluster.kubectl("get", "--raw", "/readyz?verbose").out
    assert "[+]etcd ok" in readyz and "[+]informer-sync ok" in readyz
    assert readyz.rstrip().endswith("readyz check passed")
    assert cluster.kubectl("get", "--raw", "/readyz/ping").out == "ok"


def test_metrics_have_upstream_names(cluster: Cluster) -> None:
    cluster.kubectl("get", "ns")
    text = cluster.kubectl("get", "--raw", "/metrics").out
    assert 'apiserver_request_total{' in text and 'verb="LIST"' in text
    assert "apiserver_request_duration_seconds_bucket" in text
    assert 'apiserver_storage_objects{resource="namespaces"}' in text
    assert "process_resident_memory_bytes" in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _query(port: int, expr: str) -> float | None:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            data = json.loads(resp.read())
    except OSError:
        return None
    result = data.get("data", {}).get("result") or []
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_apiserver(cluster: Cluster) -> None:
    pki = Path(cluster.env["POCKETKUBE_HOME"]) / cluster.profile / "pki"
    server = json.loads(cluster.kubectl("config", "view", "-o", "json", "--minify").out)["clusters"][0]["cluster"][
        "server"]
    target = urllib.parse.urlparse(server).netloc
    tmp = Path(tempfile.mkdtemp(prefix="pocketkube-prom-"))
    port = _free_port()
    config = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s"}, "scrape_configs": [{
        "job_name": "apiserver", "scheme": "https", "static_configs": [{"targets": [target]}],
        "tls_config": {"ca_file": str(pki / "ca.crt"), "cert_file": str(pki / "admin.crt"),
                       "key_file": str(pki / "admin.key")}}]}
    (tmp / "prometheus.yml").write_text(json.dumps(config))
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={tmp / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        expr = 'sum(apiserver_request_total{verb="LIST",resource="configmaps"})'
        first = cluster.wait_for(lambda: _query(port, expr) is not None, timeout=60)
        assert first
        before = _query(port, expr) or 0.0
        for _ in range(5):
            cluster.kubectl("get", "configmaps", "-A")
        deadline = time.monotonic() + 30
        after = before
        while time.monotonic() < deadline and after < before + 5:
            time.sleep(0.5)
            after = _query(port, expr) or 0.0
        assert after >= before + 5, (before, after)
        assert _query(port, 'up{job="apiserver"}') == 1.0
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)
