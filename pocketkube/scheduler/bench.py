"""In-process scheduler throughput: N fake nodes, M pending pods, the real scheduler, no API server.

Theory of operation: the scheduler is built exactly as in production (default
profile, all plugins) but with static listers and the in-memory RecordingAPI,
whose bind succeeds at once. Nodes and pods enter through the informer event
handlers; every successful bind is fed back as the informer's pod update (the
assumed pod is confirmed), as the real watch would. The figure is pods
scheduled per second of wall time over the whole run (and per CPU second, which
is steadier on a shared machine). With `owned=True` the
pods belong to ReplicaSets (as Deployment pods do), which switches on the
default topology spreading -- the expensive, realistic case.

`python -m pocketkube.scheduler.bench [--nodes N] [--pods M] [--owned]` prints
one JSON line; bench/ scripts call `measure_throughput`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from typing import Any

from pocketkube.scheduler.api import RecordingAPI
from pocketkube.scheduler.handle import StaticListers
from pocketkube.scheduler.scheduler import Scheduler

Obj = dict[str, Any]


def make_node(i: int, *, cpu: str = "32", memory: str = "128Gi", pods: str = "110", zones: int = 3) -> Obj:
    name = f"node-{i:04d}"
    alloc = {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"uid-{name}", "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                "topology.kubernetes.io/zone": f"zone-{i % zones}"}},
            "spec": {}, "status": {"capacity": alloc, "allocatable": alloc,
                                   "conditions": [{"type": "Ready", "status": "True"}]}}


def make_pod(i: int, *, namespace: str = "bench", owner: Obj | None = None, app: str = "web") -> Obj:
    name = f"{app}-{i:06d}"
    meta: Obj = {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}",
                 "labels": {"app": app}, "resourceVersion": "1"}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner["metadata"]["name"],
                                    "uid": owner["metadata"]["uid"], "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"schedulerName": "default-scheduler", "priority": 0,
                     "containers": [{"name": "c", "image": "busybox",
                                     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}],
                     "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                      "effect": "NoExecute", "tolerationSeconds": 300}]},
            "status": {"phase": "Pending"}}


def make_replica_set(namespace: str = "bench", app: str = "web") -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{app}-rs", "namespace": namespace, "uid": f"uid-rs-{app}"},
            "spec": {"selector": {"matchLabels": {"app": app}}}}


async def measure_throughput(nodes: int = 500, pods: int = 1000, *, owned: bool = False, seed: int = 1) -> Obj:
    api = RecordingAPI()
    rs = make_replica_set()
    listers = StaticListers({"replicasets": [rs] if owned else []})
    sched = Scheduler(api=api, listers=listers, rng=random.Random(seed))
    for i in range(nodes):
        sched.handlers.on_node_add(make_node(i))
    by_key: dict[str, Obj] = {}
    for i in range(pods):
        pod = make_pod(i, owner=rs if owned else None)
        by_key[f"bench/{pod['metadata']['name']}"] = pod
        sched.handlers.on_pod_add(pod)
    start, cpu_start = time.perf_counter(), time.process_time()
    confirmed = 0
    while True:
        q = sched.queue.pop_nowait()
        if q is None:
            break
        await sched.schedule(q)
        for key, node in api.bindings[confirmed:]:
            old = by_key[key]
            new = {**old, "metadata": {**old["metadata"], "resourceVersion": "2"},
                   "spec": {**old["spec"], "nodeName": node}}
            sched.handlers.on_pod_update(old, new)
        confirmed = len(api.bindings)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"nodes": nodes, "pods": pods, "owned": owned, "scheduled": len(api.bindings),
            "seconds": round(elapsed, 3), "cpu_seconds": round(cpu, 3),
            "pods_per_s": round(len(api.bindings) / elapsed, 1) if elapsed else 0.0,
            "pods_per_cpu_s": round(len(api.bindings) / cpu, 1) if cpu else 0.0}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m pocketkube.scheduler.bench")
    p.add_argument("--nodes", type=int, default=500)
    p.add_argument("--pods", type=int, default=1000)
    p.add_argument("--owned", action="store_true", help="pods owned by a ReplicaSet (default spreading)")
    args = p.parse_args()
    print(json.dumps(asyncio.run(measure_throughput(args.nodes, args.pods, owned=args.owned))))


if __name__ == "__main__":
    main()
