"""bench/api: apiserver throughput and latency, with the raw storage limit measured beside it.

Runs a real cluster (`pocketkube start`, in a private POCKETKUBE_HOME) on the chosen
datastore and drives it over HTTPS from this process (the other core):

- creates/s and p50/p99 latency with 1, 8 and 64 concurrent clients (ConfigMaps, ~1 KiB)
- single-object GET/s (64 clients)
- a full list of 10,000 ConfigMaps, and the same list in kubectl's pages of 500
- watch event latency with 100 watchers (create -> event at every watcher)
- p99 read and write latency at a steady 200 req/s (half reads, half writes)
- the raw storage commit rate at the same concurrencies (the limit), measured in this run

Prints human-readable lines and ends with one JSON line of all figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"creates_per_s_c64": 2000, "write_p99_ms_at_200rps": 50, "read_p99_ms_at_200rps": 50}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] * 1000


class Cluster:
    def __init__(self, datastore: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pocketkube-bench-"))
        self.env = {**os.environ, "POCKETKUBE_HOME": str(self.tmp / "state"), "HOME": str(self.tmp),
                    "KUBECONFIG": str(self.tmp / "kubeconfig")}
        self.datastore = datastore
        self.etcd: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [sys.executable, "-m", "pocketkube.cli.main", "start", "-p", "bench"]
        if self.datastore == "etcd":
            args += ["--datastore", self._start_etcd()]
        subprocess.run(args, env=self.env, check=True, capture_output=True)
        pki = self.tmp / "state" / "bench" / "pki"
        cfg = json.loads((self.tmp / "state" / "bench" / "config.json").read_text())
        self.server = f"https://127.0.0.1:{cfg['apiserver_port']}"
        self.ssl = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ssl.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def _start_etcd(self) -> str:
        from bench_etcd import free_port

        client, peer = free_port(), free_port()
        data = self.tmp / "etcd"
        self.etcd = subprocess.Popen(
            ["etcd", "--name", "b", "--data-dir", str(data), "--logger=zap", "--log-level", "error",
             "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls",
             f"http://127.0.0.1:{client}", "--listen-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}", "--initial-cluster",
             f"b=http://127.0.0.1:{peer}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        import socket
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", client), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        return f"etcd://127.0.0.1:{client}"

    def stop(self) -> None:
        subprocess.run([sys.executable, "-m", "pocketkube.cli.main", "delete", "-p", "bench"], env=self.env,
                       capture_output=True)
        if self.etcd is not None:
            self.etcd.send_signal(signal.SIGTERM)
            self.etcd.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)


def configmap(ns: str, name: str) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
                         "data": {"payload": "x" * 900}})


class Load:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        conn = aiohttp.TCPConnector(ssl=cluster.ssl, limit=0)
        self.session = aiohttp.ClientSession(base_url=cluster.server, connector=conn)
        self.headers = {"Content-Type": "application/json"}

    async def close(self) -> None:
        await self.session.close()

    async def post(self, path: str, body: bytes) -> None:
        async with self.session.post(path, data=body, headers=self.headers) as r:
            await r.read()
            if r.status != 201:
                raise RuntimeError(f"create failed: {r.status}")

    async def get(self, path: str) -> bytes:
        async with self.session.get(path) as r:
            data = await r.read()
            if r.status != 200:
                raise RuntimeError(f"get failed: {r.status}")
            return data

    async def namespace(self) -> str:
        name = "b-" + uuid.uuid4().hex[:6]
        await self.post("/api/v1/namespaces", orjson.dumps({"metadata": {"name": name}}))
        return name

    async def creates(self, concurrency: int, seconds: float) -> dict[str, float]:
        ns = await self.namespace()
        lat: list[float] = []
        deadline = time.perf_counter() + seconds

        async def worker(w: int) -> None:
            i = 0
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                await self.post(f"/api/v1/namespaces/{ns}/configmaps", configmap(ns, f"c{w}-{i}"))
                lat.append(time.perf_counter() - t0)
                i += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        return {"per_s": len(lat) / (time.perf_counter() - start), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}

    async def gets(self, concurrency: int, seconds: float) -> dict[str, float]:
        ns = await self.namespace()
        await self.post(f"/api/v1/namespaces/{ns}/configmaps", configmap(ns, "one"))
        lat: list[float] = []
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                await self.get(f"/api/v1/namespaces/{ns}/configmaps/one")
                lat.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return {"per_s": len(lat) / (time.perf_counter() - start), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}

    async def list_10k(self) -> dict[str, float]:
        ns = await self.namespace()
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            async with sem:
                await self.post(f"/api/v1/namespaces/{ns}/configmaps", configmap(ns, f"l{i:05d}"))

        await asyncio.gather(*(one(i) for i in range(10_000)))
        t0 = time.perf_counter()
        full = orjson.loads(await self.get(f"/api/v1/namespaces/{ns}/configmaps"))
        full_s = time.perf_counter() - t0
        assert sum(1 for i in full["items"] if i["metadata"]["name"].startswith("l")) == 10_000
        t0 = time.perf_counter()
        count, cont = 0, ""
        while True:
            page = orjson.loads(await self.get(f"/api/v1/namespaces/{ns}/configmaps?limit=500"
                                               + (f"&continue={cont}" if cont else "")))
            count += sum(1 for i in page["items"] if i["metadata"]["name"].startswith("l"))
            cont = page["metadata"].get("continue", "")
            if not cont:
                break
        paged_s = time.perf_counter() - t0
        assert count == 10_000
        return {"full_ms": full_s * 1000, "paged_500_ms": paged_s * 1000}

    async def watch_latency(self, watchers: int, events: int) -> dict[str, float]:
        ns = await self.namespace()
        sent: dict[str, float] = {}
        lat: list[float] = []
        ready = asyncio.Event()
        started = 0

        async def watch() -> None:
            nonlocal started
            async with self.session.get(f"/api/v1/namespaces/{ns}/configmaps?watch=true") as r:
                started += 1
                if started == watchers:
                    ready.set()
                seen = 0
                async for line in r.content:
                    if not line.strip():
                        continue
                    ev = orjson.loads(line)
                    name = ev["object"]["metadata"]["name"]
                    if name not in sent:
                        continue  # objects that existed before the measurement (kube-root-ca.crt)
                    lat.append(time.perf_counter() - sent[name])
                    seen += 1
                    if seen == events:
                        return

        tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
        await asyncio.wait_for(ready.wait(), 30)
        await asyncio.sleep(0.5)
        for i in range(events):
            name = f"w{i}"
            sent[name] = time.perf_counter()
            await self.post(f"/api/v1/namespaces/{ns}/configmaps", configmap(ns, name))
            await asyncio.sleep(0.02)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        return {"p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}

    async def steady(self, rate: float, seconds: float) -> dict[str, float]:
        ns = await self.namespace()
        await self.post(f"/api/v1/namespaces/{ns}/configmaps", configmap(ns, "read-me"))
        reads: list[float] = []
        writes: list[float] = []

        async def one(i: int) -> None:
            t0 = time.perf_counter()
            if i % 2:
                await self.get(f"/api/v1/namespaces/{ns}/configmaps/read-me")
                reads.append(time.perf_counter() - t0)
            else:
                await self.post(f"/api/v1/namespaces/{ns}/configmaps", configmap(ns, f"s{i}"))
                writes.append(time.perf_counter() - t0)

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        return {"read_p99_ms": pct(reads, 99), "write_p99_ms": pct(writes, 99), "read_p50_ms": pct(reads, 50),
                "write_p50_ms": pct(writes, 50)}


async def raw_limits(seconds: float) -> dict[str, float]:
    from pocketkube.storage.bench_raw import raw_commit_rate

    tmp = Path(tempfile.mkdtemp(prefix="pocketkube-rawbench-"))
    out = {}
    try:
        for c in (1, 8, 64):
            r = await raw_commit_rate(f"sqlite://{tmp / f'raw{c}.db'}", c, seconds)
            out[f"raw_commits_per_s_c{c}"] = r["ops_per_s"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


async def run(datastore: str, seconds: float) -> dict[str, Any]:
    cluster = Cluster(datastore)
    cluster.start()
    load = Load(cluster)
    figures: dict[str, Any] = {"datastore": datastore}
    try:
        await load.creates(8, 1.0)  # warm-up
        for c in (1, 8, 64):
            r = await load.creates(c, seconds)
            figures[f"creates_per_s_c{c}"] = round(r["per_s"])
            figures[f"create_p50_ms_c{c}"] = round(r["p50_ms"], 2)
            figures[f"create_p99_ms_c{c}"] = round(r["p99_ms"], 2)
            print(f"[{datastore}] creates c={c}: {r['per_s']:.0f}/s p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms")
        g = await load.gets(64, seconds)
        figures["gets_per_s_c64"] = round(g["per_s"])
        print(f"[{datastore}] gets c=64: {g['per_s']:.0f}/s p99 {g['p99_ms']:.1f} ms")
        lst = await load.list_10k()
        figures["list_10k_ms"] = round(lst["full_ms"], 1)
        figures["list_10k_paged_ms"] = round(lst["paged_500_ms"], 1)
        print(f"[{datastore}] list 10k: {lst['full_ms']:.0f} ms (paged by 500: {lst['paged_500_ms']:.0f} ms)")
        w = await load.watch_latency(100, 50)
        figures["watch_latency_p50_ms"] = round(w["p50_ms"], 2)
        figures["watch_latency_p99_ms"] = round(w["p99_ms"], 2)
        print(f"[{datastore}] watch latency (100 watchers): p50 {w['p50_ms']:.1f} ms p99 {w['p99_ms']:.1f} ms")
        s = await load.steady(200, max(seconds, 5))
        figures["read_p99_ms_at_200rps"] = round(s["read_p99_ms"], 2)
        figures["write_p99_ms_at_200rps"] = round(s["write_p99_ms"], 2)
        print(f"[{datastore}] steady 200 req/s: read p99 {s['read_p99_ms']:.1f} ms, "
              f"write p99 {s['write_p99_ms']:.1f} ms")
    finally:
        await load.close()
        cluster.stop()
    return figures


async def amain(args: argparse.Namespace) -> None:
    result: dict[str, Any] = {}
    sqlite = await run("sqlite", args.seconds)
    result.update(sqlite)
    raw = await raw_limits(args.seconds)
    result.update(raw)
    print("[limit] raw SQLite durable commits: " + ", ".join(f"{k[-3:]}={v:.0f}/s" for k, v in raw.items()))
    if args.etcd:
        etcd = await run("etcd", args.seconds)
        result["etcd"] = {k: v for k, v in etcd.items() if k != "datastore"}
    result["targets"] = TARGETS
    result["cpus"] = os.cpu_count()
    print(json.dumps(result, sort_keys=True))


def main() -> None:
    p = argparse.ArgumentParser(prog="bench/api")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--no-etcd", dest="etcd", action="store_false")
    args = p.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()
