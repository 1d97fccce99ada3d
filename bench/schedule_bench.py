"""bench/schedule: controllers + scheduler + simulated nodes at scale.

One run: start a cluster without nodes, add N simulated nodes, measure the raw
apiserver create rate (the limit: ConfigMap creates, 64 in flight), then create
Deployments totalling P replicas and watch every pod:

- all_running_s: from the first Deployment create until all P pods are Running
- sched_pods_per_s: pods bound per second (first to last binding seen)
- pod_startup_p50_s / p99_s: from a pod's ADDED event to its Running event
- mutating_p99_ms: p99 of apiserver POST/PUT/PATCH/DELETE latency during the run,
  from the apiserver's own apiserver_request_duration_seconds histogram
- raw_creates_per_s: the limit measured in the same run
- latency_pod_startup_p50_s / p99_s: then, as upstream's density test does once the cluster is
  saturated, one pod per node (at least 100) created one by one at 20 pods/s; from the create
  request to Running seen by watch. This is the figure the pod-startup SLO (p99 <= 5 s) is about;
  pod_startup_* above include the queueing of 10,000 pods created at once.

The cluster is started with `--processes separate` (controller-manager, scheduler and the
simulated nodes' agent each in its own process, as one would run a cluster this size: the
shared default keeps a laptop cluster small but puts them all on one core);
`--processes shared` measures the default. `--small` runs 50 nodes and 1,000 pods.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

TARGETS = {"all_running_s": 60.0, "sched_pods_per_s": 100.0, "pod_startup_p99_s": 5.0, "mutating_p99_ms": 1000.0,
           "latency_pod_startup_p99_s": 5.0}
LATENCY_RATE = 20.0  # pods/s for the latency pods
MUTATING = ("POST", "PUT", "PATCH", "DELETE")


async def pod_events(s: aiohttp.ClientSession, ns: str) -> AsyncIterator[dict[str, Any]]:
    """The watch events of the namespace's pods, from the start (resourceVersion=0)."""
    async with s.get(f"/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion=0",
                     timeout=aiohttp.ClientTimeout(total=None)) as r:
        async for line in r.content:
            if line.strip():
                yield orjson.loads(line)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


class Bench:
    def __init__(self, nodes: int, pods: int, deployments: int, processes: str) -> None:
        self.nodes, self.pods, self.deployments, self.processes = nodes, pods, deployments, processes
        self.latency_count = max(100, nodes)  # as many as nodes (upstream: a few per node), at least 100
        self.tmp = Path(tempfile.mkdtemp(prefix="pocketkube-schedbench-"))
        self.env = {**os.environ, "POCKETKUBE_HOME": str(self.tmp / "state"), "HOME": str(self.tmp),
                    "KUBECONFIG": str(self.tmp / "kubeconfig")}
        self.cli = [sys.executable, "-m", "pocketkube.cli.main"]

    def start(self) -> None:
        out = subprocess.run([*self.cli, "start", "-p", "sched", "--nodes", "0", "--node-runtime", "simulated",
                              "--processes", self.processes],
                             env=self.env, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"pocketkube start failed: {out.stderr}")
        state = self.tmp / "state" / "sched"
        port = json.loads((state / "config.json").read_text())["apiserver_port"]
        self.server = f"https://127.0.0.1:{port}"
        self.ssl = ssl.create_default_context(cafile=str(state / "pki" / "ca.crt"))
        self.ssl.load_cert_chain(str(state / "pki" / "admin.crt"), str(state / "pki" / "admin.key"))
        t0 = time.perf_counter()
        subprocess.run([*self.cli, "node", "add", "-p", "sched", "--simulated", "--count", str(self.nodes),
                        "--cpu", "32", "--memory", "256Gi", "--pods", "110"], env=self.env, check=True,
                       capture_output=True, timeout=600)
        print(f"{self.nodes} simulated nodes Ready in {time.perf_counter() - t0:.1f} s")

    def stop(self) -> None:
        subprocess.run([*self.cli, "delete", "-p", "sched"], env=self.env, capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    async def session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(base_url=self.server, connector=aiohttp.TCPConnector(ssl=self.ssl, limit=0))

    async def raw_creates(self, s: aiohttp.ClientSession, n: int = 3000, concurrency: int = 64) -> float:
        ns = "raw-" + uuid.uuid4().hex[:6]
        await s.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with sem, s.post(f"/api/v1/namespaces/{ns}/configmaps",
                                   json={"metadata": {"name": f"c{i}"}, "data": {"k": "v" * 200}}) as r:
                await r.read()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        rate = n / (time.perf_counter() - t0)
        async with s.delete(f"/api/v1/namespaces/{ns}") as r:
            await r.read()
        return rate

    async def mutating_histogram(self, s: aiohttp.ClientSession) -> dict[float, float]:
        async with s.get("/metrics") as r:
            text = await r.text()
        buckets: dict[float, float] = {}
        for line in text.splitlines():
            if not line.startswith("apiserver_request_duration_seconds_bucket{"):
                continue
            labels, value = line.rsplit(" ", 1)
            if not any(f'verb="{v}"' in labels for v in MUTATING):
                continue
            le = labels.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + float(value)
        return buckets

    async def run(self) -> dict[str, Any]:
        s = await self.session()
        try:
            raw = await self.raw_creates(s)
            print(f"raw apiserver creates: {raw:.0f}/s (64 in flight)")
            before = await self.mutating_histogram(s)
            result = await self.rollout(s)
            after = await self.mutating_histogram(s)
            result["mutating_p99_ms"] = round(_hist_p99(before, after) * 1000, 1)
            result["raw_creates_per_s"] = round(raw)
            result.update(await self.latency_pods(s))
            return result
        finally:
            await s.close()

    async def rollout(self, s: aiohttp.ClientSession) -> dict[str, Any]:
        ns = "bench"
        await s.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
        added: dict[str, float] = {}
        running: dict[str, float] = {}
        bound: list[float] = []
        done = asyncio.Event()

        async def watch() -> None:
            async for ev in pod_events(s, ns):
                pod = ev["object"]
                uid = pod["metadata"]["uid"]
                now = time.perf_counter()
                if ev["type"] == "ADDED":
                    added.setdefault(uid, now)
                if pod.get("spec", {}).get("nodeName") and uid not in running and uid not in bound_seen:
                    bound_seen.add(uid)
                    bound.append(now)
                if pod.get("status", {}).get("phase") == "Running" and uid not in running:
                    running[uid] = now
                    if len(running) >= self.pods:
                        done.set()
                        return

        bound_seen: set[str] = set()
        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.5)
        per = self.pods // self.deployments
        t0 = time.perf_counter()
        for d in range(self.deployments):
            body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"d{d}"}, "spec": {
                "replicas": per, "selector": {"matchLabels": {"app": f"d{d}"}}, "template": {
                    "metadata": {"labels": {"app": f"d{d}"}}, "spec": {"containers": [{
                        "name": "c", "image": "busybox",
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}}
            async with s.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=body) as r:
                await r.read()
        try:
            await asyncio.wait_for(done.wait(), timeout=900)
        finally:
            watcher.cancel()
        total = time.perf_counter() - t0
        startups = [running[u] - added[u] for u in running if u in added]
        sched_rate = len(bound) / (max(bound) - min(bound)) if len(bound) > 1 else float("nan")
        print(f"{self.pods} pods Running in {total:.1f} s; scheduling {sched_rate:.0f} pods/s; startup p50 "
              f"{pct(startups, 50):.2f} s p99 {pct(startups, 99):.2f} s")
        return {"all_running_s": round(total, 2), "sched_pods_per_s": round(sched_rate, 1),
                "pod_startup_p50_s": round(pct(startups, 50), 3), "pod_startup_p99_s": round(pct(startups, 99), 3),
                "nodes": self.nodes, "pods": self.pods}


    async def latency_pods(self, s: aiohttp.ClientSession) -> dict[str, Any]:
        """Upstream's density-test split: once the cluster is saturated, pods created one by one at
        a steady rate measure the startup-latency SLO (creation request -> Running seen by watch)."""
        ns, count, rate = "latency", self.latency_count, LATENCY_RATE
        await s.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
        created: dict[str, float] = {}
        running: dict[str, float] = {}
        done = asyncio.Event()

        async def watch() -> None:
            async for ev in pod_events(s, ns):
                pod = ev["object"]
                name = pod["metadata"]["name"]
                if pod.get("status", {}).get("phase") == "Running" and name not in running:
                    running[name] = time.perf_counter()
                    if len(running) >= count:
                        done.set()
                        return

        async def create(i: int) -> None:
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"lat-{i}"}, "spec": {"containers": [{
                "name": "c", "image": "busybox", "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}
            created[body["metadata"]["name"]] = time.perf_counter()
            async with s.post(f"/api/v1/namespaces/{ns}/pods", json=body) as r:
                await r.read()

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.5)
        start = time.perf_counter()
        creates = []
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            creates.append(asyncio.create_task(create(i)))
        await asyncio.gather(*creates)
        try:
            await asyncio.wait_for(done.wait(), timeout=300)
        finally:
            watcher.cancel()
        startups = [running[n] - created[n] for n in running]
        print(f"{count} latency pods at {rate:.0f}/s on the saturated cluster: startup p50 "
              f"{pct(startups, 50):.2f} s p99 {pct(startups, 99):.2f} s")
        return {"latency_pods": count, "latency_pods_rate_per_s": rate,
                "latency_pod_startup_p50_s": round(pct(startups, 50), 3),
                "latency_pod_startup_p99_s": round(pct(startups, 99), 3)}


def _hist_p99(before: dict[float, float], after: dict[float, float]) -> float:
    """p99 from the difference of two cumulative histograms (linear inside the bucket)."""
    delta = sorted((b, after.get(b, 0.0) - before.get(b, 0.0)) for b in after)
    total = delta[-1][1] if delta else 0.0
    if total <= 0:
        return float("nan")
    target = 0.99 * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in delta:
        if count >= target:
            if bound == float("inf"):
                return prev_bound
            span = count - prev_count
            frac = (target - prev_count) / span if span else 1.0
            return prev_bound + (bound - prev_bound) * frac
        prev_bound, prev_count = bound, count
    return prev_bound


def main() -> None:
    p = argparse.ArgumentParser(prog="bench/schedule")
    p.add_argument("--small", action="store_true", help="50 nodes and 1,000 pods")
    p.add_argument("--nodes", type=int, default=500)
    p.add_argument("--pods", type=int, default=10_000)
    p.add_argument("--deployments", type=int, default=10)
    p.add_argument("--processes", choices=("shared", "separate"), default="separate",
                   help="pocketkube start --processes (default separate: the mode for a cluster this big)")
    args = p.parse_args()
    nodes, pods = (50, 1000) if args.small else (args.nodes, args.pods)
    bench = Bench(nodes, pods, args.deployments, args.processes)
    try:
        bench.start()
        result = asyncio.run(bench.run())
    finally:
        bench.stop()
    result["processes"] = args.processes
    result["targets"] = TARGETS
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
