"""Entry point of the controller-manager process: `python -m pocketkube.cmd.controller_manager ...`."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import signal
import sys
from pathlib import Path

from pocketkube.client import metrics
from pocketkube.client.rest import ClientConfig, RESTClient
from pocketkube.cmd import logs, runner
from pocketkube.controllers import manager
from pocketkube.controllers.garbagecollector.collector import GarbageCollectorSettings
from pocketkube.controllers.nodelifecycle import NodeLifecycleSettings
from pocketkube.controllers.podgc import PodGCSettings

# Extra flags from the environment (before the command line, which wins): how a test cluster
# shortens grace periods, e.g. "--node-monitor-grace-period=4s --node-monitor-period=1s".
FLAGS_ENV = "POCKETKUBE_CONTROLLER_MANAGER_FLAGS"
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str) -> float:
    """A Go duration ("40s", "1m30s", "500ms") or plain seconds, in seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.lstrip("+"):
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _controller_flags(p: argparse.ArgumentParser) -> None:
    gc, nl, pg = GarbageCollectorSettings(), NodeLifecycleSettings(), PodGCSettings()
    p.add_argument("--concurrent-gc-syncs", type=int, default=gc.workers)
    p.add_argument("--node-monitor-period", type=duration, default=nl.monitor_period)
    p.add_argument("--node-monitor-grace-period", type=duration, default=nl.monitor_grace_period)
    p.add_argument("--node-startup-grace-period", type=duration, default=nl.startup_grace_period)
    p.add_argument("--node-eviction-rate", type=float, default=nl.eviction_rate)
    p.add_argument("--secondary-node-eviction-rate", type=float, default=nl.secondary_eviction_rate)
    p.add_argument("--large-cluster-size-threshold", type=int, default=nl.large_cluster_threshold)
    p.add_argument("--unhealthy-zone-threshold", type=float, default=nl.unhealthy_zone_threshold)
    p.add_argument("--terminated-pod-gc-threshold", type=int, default=pg.terminated_threshold)
    p.add_argument("--pod-gc-period", type=duration, default=pg.period, help="pocketkube: pod GC pass period")
    p.add_argument("--pod-gc-quarantine", type=duration, default=pg.quarantine,
                   help="pocketkube: how long a missing node is awaited before its pods are deleted")


def controller_settings(args: argparse.Namespace, options: manager.Options) -> manager.Options:
    options.gc = GarbageCollectorSettings(workers=args.concurrent_gc_syncs)
    options.node_lifecycle = NodeLifecycleSettings(
        monitor_period=args.node_monitor_period, monitor_grace_period=args.node_monitor_grace_period,
        startup_grace_period=args.node_startup_grace_period, eviction_rate=args.node_eviction_rate,
        secondary_eviction_rate=args.secondary_node_eviction_rate,
        large_cluster_threshold=args.large_cluster_size_threshold,
        unhealthy_zone_threshold=args.unhealthy_zone_threshold)
    options.pod_gc = PodGCSettings(terminated_threshold=args.terminated_pod_gc_threshold,
                                   period=args.pod_gc_period, quarantine=args.pod_gc_quarantine)
    return options


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="pocketkube-controller-manager")
    p.add_argument("--profile-dir", default="")
    p.add_argument("--server", required=True)
    p.add_argument("--certificate-authority", default="")
    p.add_argument("--client-certificate", default="")
    p.add_argument("--client-key", default="")
    p.add_argument("--controllers", default="", help="comma-separated names (default: all)")
    p.add_argument("--leader-elect", default="true", choices=["true", "false"],
                   help="run the controllers only while holding the kube-system Lease")
    p.add_argument("--bind-address", default="127.0.0.1", help="address of the /healthz and /metrics server")
    p.add_argument("--secure-port", type=int, default=0, help="port of /healthz and /metrics (0: any free port)")
    p.add_argument("--port-file", default="", help="write the bound health port here")
    p.add_argument("-v", "--log-level", default="info")
    _controller_flags(p)
    return p.parse_args([*shlex.split(os.environ.get(FLAGS_ENV, "")), *argv])


async def amain(args: argparse.Namespace) -> None:
    client = RESTClient(ClientConfig(server=args.server, ca_file=args.certificate_authority,
                                     cert_file=args.client_certificate, key_file=args.client_key,
                                     user_agent="kube-controller-manager/v1.32.4 (pocketkube)"))
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    health = await metrics.serve_health(args.bind_address, args.secure_port)
    if args.port_file:
        Path(args.port_file).write_text(str(health.port))
    try:
        await client.wait_ready()
        enabled = [c for c in args.controllers.split(",") if c] or None
        ca_pem = Path(args.certificate_authority).read_text() if args.certificate_authority else ""
        await manager.run(client, enabled, controller_settings(args, manager.Options(
            root_ca_pem=ca_pem, leader_elect=args.leader_elect == "true")))
    except asyncio.CancelledError:
        pass
    finally:
        await health.close()
        await client.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logs.configure(args.log_level, os.environ.get("POCKETKUBE_LOG_FORMAT", "text"))
    sys.exit(runner.run(amain(args)))


if __name__ == "__main__":
    main()
