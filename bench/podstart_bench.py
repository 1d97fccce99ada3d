"""bench/podstart: real pods on the containerd node, as upstream's density test measures them.

One run starts a fresh profile with `--node-runtime containerd` in a private POCKETKUBE_HOME and:
1. warms up: one busybox pod pulls the image, then is deleted (every measured pod has the image
   present, imagePullPolicy IfNotPresent);
2. measures the limit in the same run: `ctr run --rm` of the same image on the node's own
   containerd (ContainerdManager.ctr_run_rm: create + start + wait + delete of `true`), median of
   `--ctr-runs`;
3. creates `--pods` pods at a steady `--rate` pods/s and watches them: a pod's startup latency is
   from just before its POST to the watch event showing it Running with its container ready;
   reports p50 / p99;
4. with those pods running, the RSS of the node agent and of containerd;
5. deletes them, then creates the same number at once (concurrent POSTs) and reports the time
   from the first POST until all are Running;
6. deletes the profile. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from pocketkube.kubelet.containerd import ContainerdManager
from pocketkube.kubelet.containerd_config import NodePaths

TARGETS = {"pod_startup_p99_s": 1.0, "pod_startup_p99_slo_s": 5.0, "p50_over_raw_ctr_run": 3.0}
IMAGE = "docker.io/library/busybox:latest"
NS = "bench"
PROFILE = "podstart"


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pod_body(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "podstart"}},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                "name": "c", "image": IMAGE, "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}]}}


def is_up(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and all(c.get("ready") for c in status.get("containerStatuses") or [{}])


class Bench:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pocketkube-podstart-", dir="/tmp"))
        self.env = {**os.environ, "POCKETKUBE_HOME": str(self.tmp / "state"), "HOME": str(self.tmp),
                    "KUBECONFIG": str(self.tmp / "kubeconfig")}
        self.cli = [sys.executable, "-m", "pocketkube.cli.main"]
        self.state = self.tmp / "state" / PROFILE
        self.up: dict[str, float] = {}
        self.gone: set[str] = set()
        self.changed = asyncio.Event()

    def start(self) -> None:
        out = subprocess.run([*self.cli, "start", "-p", PROFILE, "--node-runtime", "containerd"], env=self.env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"pocketkube start failed: {out.stderr}")
        port = json.loads((self.state / "config.json").read_text())["apiserver_port"]
        self.server = f"https://127.0.0.1:{port}"
        self.ssl = ssl.create_default_context(cafile=str(self.state / "pki" / "ca.crt"))
        self.ssl.load_cert_chain(str(self.state / "pki" / "admin.crt"), str(self.state / "pki" / "admin.key"))

    def stop(self) -> None:
        subprocess.run([*self.cli, "delete", "-p", PROFILE], env=self.env, capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    async def watch(self, s: aiohttp.ClientSession) -> None:
        async with s.get(f"/api/v1/namespaces/{NS}/pods?watch=true&resourceVersion=0",
                         timeout=aiohttp.ClientTimeout(total=None)) as r:
            async for line in r.content:
                if not line.strip():
                    continue
                ev = orjson.loads(line)
                name = ev["object"]["metadata"]["name"]
                if ev["type"] == "DELETED":
                    self.gone.add(name)
                    self.up.pop(name, None)
                elif is_up(ev["object"]) and name not in self.up:
                    self.up[name] = time.perf_counter()
                self.changed.set()

    async def until(self, check: Any, timeout: float = 120.0) -> None:
        deadline = time.perf_counter() + timeout
        while not check():
            if time.perf_counter() > deadline:
                raise SystemExit("timed out waiting for the pods")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=1.0)

    async def create(self, s: aiohttp.ClientSession, name: str) -> float:
        t0 = time.perf_counter()
        async with s.post(f"/api/v1/namespaces/{NS}/pods", json=pod_body(name)) as r:
            if r.status != 201:
                raise SystemExit(f"creating {name}: {r.status} {await r.text()}")
        return t0

    async def delete_all(self, s: aiohttp.ClientSession, names: list[str]) -> None:
        self.gone -= set(names)
        await asyncio.gather(*(self._delete(s, n) for n in names))
        await self.until(lambda: set(names) <= self.gone)

    async def _delete(self, s: aiohttp.ClientSession, name: str) -> None:
        async with s.delete(f"/api/v1/namespaces/{NS}/pods/{name}") as r:
            await r.read()

    async def run(self, pods: int, rate: float, ctr_runs: int) -> dict[str, Any]:
        s = aiohttp.ClientSession(base_url=self.server, connector=aiohttp.TCPConnector(ssl=self.ssl, limit=0))
        watcher = None
        try:
            await s.post("/api/v1/namespaces", json={"metadata": {"name": NS}})
            await self.service_account(s)
            watcher = asyncio.ensure_future(self.watch(s))
            await self.create(s, "warmup")
            await self.until(lambda: "warmup" in self.up)
            await self.delete_all(s, ["warmup"])
            raw = await self.raw_ctr_run(ctr_runs)
            print(f"raw ctr run --rm: median {raw:.3f} s over {ctr_runs} runs")
            steady = await self.steady(s, pods, rate)
            rss = {"node_agent_rss_mb": round(rss_mb(self.pid("run/node-agent.pid")), 1),
                   "containerd_rss_mb": round(rss_mb(self.pid("containerd/containerd.pid")), 1)}
            await self.delete_all(s, [f"steady-{i:02d}" for i in range(pods)])
            burst = await self.burst(s, pods)
            await self.delete_all(s, [f"burst-{i:02d}" for i in range(pods)])
        finally:
            if watcher is not None:
                watcher.cancel()
            await s.close()
        p50 = steady["pod_startup_p50_s"]
        return {**steady, "raw_ctr_run_s": round(raw, 3), "p50_over_raw_ctr_run": round(p50 / raw, 2),
                "burst30_all_running_s" if pods == 30 else f"burst{pods}_all_running_s": round(burst, 3),
                **rss, "pods": pods, "rate_per_s": rate, "targets": TARGETS}

    async def service_account(self, s: aiohttp.ClientSession) -> None:
        """Pods are admitted once the namespace's default service account exists."""
        for _ in range(200):
            async with s.get(f"/api/v1/namespaces/{NS}/serviceaccounts/default") as r:
                if r.status == 200:
                    return
            await asyncio.sleep(0.05)
        raise SystemExit("the default service account did not appear")

    def pid(self, rel: str) -> int:
        return int((self.state / rel).read_text().strip())

    async def raw_ctr_run(self, runs: int) -> float:
        manager = ContainerdManager(NodePaths(self.state).containerd)
        times = [await manager.ctr_run_rm(IMAGE) for _ in range(runs)]
        return statistics.median(times)

    async def steady(self, s: aiohttp.ClientSession, pods: int, rate: float) -> dict[str, float]:
        created: dict[str, float] = {}
        t0 = time.perf_counter()
        for i in range(pods):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            name = f"steady-{i:02d}"
            created[name] = await self.create(s, name)
        await self.until(lambda: all(n in self.up for n in created))
        latencies = [self.up[n] - t for n, t in created.items()]
        p50, p99 = pct(latencies, 50), pct(latencies, 99)
        print(f"{pods} pods at {rate}/s: startup p50 {p50:.3f} s, p99 {p99:.3f} s, max {max(latencies):.3f} s")
        return {"pod_startup_p50_s": round(p50, 3), "pod_startup_p99_s": round(p99, 3)}

    async def burst(self, s: aiohttp.ClientSession, pods: int) -> float:
        names = [f"burst-{i:02d}" for i in range(pods)]
        t0 = time.perf_counter()
        await asyncio.gather(*(self.create(s, n) for n in names))
        await self.until(lambda: all(n in self.up for n in names))
        total = max(self.up[n] for n in names) - t0
        print(f"burst of {pods} pods: all Running in {total:.2f} s")
        return total


def main() -> None:
    p = argparse.ArgumentParser(prog="bench/podstart")
    p.add_argument("--pods", type=int, default=30)
    p.add_argument("--rate", type=float, default=5.0, help="pods created per second in the steady phase")
    p.add_argument("--ctr-runs", type=int, default=10)
    args = p.parse_args()
    bench = Bench()
    try:
        bench.start()
        result = asyncio.run(bench.run(args.pods, args.rate, args.ctr_runs))
    finally:
        bench.stop()
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
