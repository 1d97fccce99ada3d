"""bench/start: time from `pocketkube start` to a usable cluster, and idle memory.

Each run starts a fresh profile in a private POCKETKUBE_HOME, times the `pocketkube start`
command (it returns once the API is ready and the node is Ready), waits a few seconds of
idle, sums the RSS of every process of the profile (the supervisor and all its descendants,
containerd included), then deletes the profile. Both node runtimes are measured: a simulated
node (the headline figures) and, where the host can run containers, a containerd node
(`*_containerd`). Beside the figures it measures the
floor in the same run: the time to start a bare `python -c pass` and to import aiohttp.
Prints one JSON line at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"start_s": 2.0, "idle_rss_mb": 150}


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                out.append(int(p.name))
    return out


def tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(children(p))
    return seen


def one_run(idle: float, node_runtime: str) -> tuple[float, float, int]:
    tmp = Path(tempfile.mkdtemp(prefix="pocketkube-startbench-"))
    env = {**os.environ, "POCKETKUBE_HOME": str(tmp / "state"), "HOME": str(tmp),
           "KUBECONFIG": str(tmp / "kubeconfig")}
    cli = [sys.executable, "-m", "pocketkube.cli.main"]
    try:
        t0 = time.perf_counter()
        subprocess.run([*cli, "start", "-p", "b", "--node-runtime", node_runtime], env=env, check=True,
                       capture_output=True)
        elapsed = time.perf_counter() - t0
        time.sleep(idle)
        sup = int((tmp / "state" / "b" / "run" / "supervisor.pid").read_text())
        pids = tree(sup)
        rss = sum(rss_kb(p) for p in pids) / 1024
        return elapsed, rss, len(pids)
    finally:
        subprocess.run([*cli, "delete", "-p", "b"], env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def floor() -> dict[str, float]:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import aiohttp, orjson, yaml, cryptography.x509"], check=True)
    imports = time.perf_counter() - t0
    return {"python_startup_s": round(bare, 3), "python_imports_s": round(imports, 3)}


def measure(runs: int, idle: float, node_runtime: str) -> dict[str, float]:
    starts, rss, procs = [], [], 0
    for i in range(runs):
        s, r, procs = one_run(idle, node_runtime)
        starts.append(s)
        rss.append(r)
        print(f"[{node_runtime}] run {i + 1}: start {s:.2f} s, idle RSS {r:.0f} MB over {procs} processes")
    return {"start_s": round(statistics.median(starts), 3), "start_s_min": round(min(starts), 3),
            "start_s_max": round(max(starts), 3), "idle_rss_mb": round(statistics.median(rss), 1),
            "processes": procs}


def main() -> None:
    p = argparse.ArgumentParser(prog="bench/start")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--idle", type=float, default=5.0)
    p.add_argument("--containerd", action=argparse.BooleanOptionalAction, default=os.geteuid() == 0,
                   help="also measure a cluster whose node runs real containers (needs root + containerd)")
    args = p.parse_args()
    # Headline figures: the cluster with a simulated node (control plane + node agent, no containers).
    result: dict[str, object] = {**measure(args.runs, args.idle, "simulated")}
    if args.containerd:
        real = measure(args.runs, args.idle, "containerd")
        result.update({f"{k}_containerd": v for k, v in real.items()})
    result.update({"runs": args.runs, **floor(), "targets": TARGETS})
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
