"""Entry point of the node agent process: `python -m pocketkube.cmd.node ...`.

The agent serves every Node labelled pocketkube.io/simulated=true (see
pocketkube/kubelet/agent.py). On its first start for a profile it creates the
profile's first `--bootstrap-nodes` nodes (NAME, NAME-m02, ...). It serves
/healthz and /metrics on an ephemeral loopback port, written to
PROFILE/run/node-agent.port.

With `--node-runtime containerd` the first node (NAME) is a real node: the
agent runs its pods on a private containerd under PROFILE/containerd (or on
`--container-runtime-endpoint`), and only the other bootstrap nodes are
simulated. SIGTERM (`pocketkube stop`) stops the real node's containers and
its containerd; a crash or SIGKILL leaves them running for the next agent.
The agent hosting the first node posts the control plane's mirror pods.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from pocketkube.client.metrics import REGISTRY, serve_health
from pocketkube.client.rest import ClientConfig, RESTClient
from pocketkube.cmd import logs, runner
from pocketkube.kubelet import simulate
from pocketkube.kubelet.agent import Agent, AgentOptions, bootstrap_names
from pocketkube.kubelet.agentmetrics import AgentCollector
from pocketkube.kubelet.realnode import RealNodeConfig
from pocketkube.kubelet.server import serve, server_ssl_context
from pocketkube.kubelet.streaming_sim import SimulatedStreaming

log = logging.getLogger("pocketkube.node")
DEFAULT_TIMING = simulate.Timing()


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="pocketkube-node")
    p.add_argument("--profile-dir", default="")
    p.add_argument("--server", required=True)
    p.add_argument("--certificate-authority", default="")
    p.add_argument("--client-certificate", default="")
    p.add_argument("--client-key", default="")
    p.add_argument("--bootstrap-nodes", type=int, default=0, help="simulated nodes to create on first start")
    p.add_argument("--bootstrap-name", default="", help="name of the first bootstrap node (default: profile)")
    p.add_argument("--sim-start-delay", type=float, default=DEFAULT_TIMING.start,
                   help="seconds a simulated container takes to start (ContainerCreating)")
    p.add_argument("--sim-init-duration", type=float, default=DEFAULT_TIMING.init,
                   help="seconds a simulated init container runs")
    p.add_argument("--sim-stop-delay", type=float, default=DEFAULT_TIMING.stop,
                   help="seconds a simulated container takes to exit after SIGTERM")
    p.add_argument("--event-qps", type=float, default=50.0, help="events/s of all nodes (0: none, <0: unlimited)")
    p.add_argument("--event-burst", type=int, default=100)
    p.add_argument("--healthz-port", type=int, default=0, help="loopback port of /healthz and /metrics (0: any)")
    p.add_argument("--tls-cert-file", default="", help="serving certificate of the streaming server")
    p.add_argument("--tls-private-key-file", default="")
    p.add_argument("--client-ca-file", default="", help="CA that signs the apiserver's client certificate")
    p.add_argument("--node-runtime", choices=("simulated", "containerd"), default="simulated",
                   help="containerd: the first bootstrap node is a real node running containers")
    p.add_argument("--container-runtime-endpoint", default="",
                   help="CRI endpoint of the real node (default: start a private containerd in the profile)")
    p.add_argument("--pod-cidr", default="10.244.0.0/24", help="pod CIDR of the real node")
    p.add_argument("--mirror-pods", choices=("auto", "off"), default="auto",
                   help="post the control plane's mirror pods for the first node (auto: when --profile-dir is set)")
    p.add_argument("-v", "--log-level", default="info")
    return p.parse_args(argv)


def options(args: argparse.Namespace) -> AgentOptions:
    profile = Path(args.profile_dir) if args.profile_dir else None
    first = args.bootstrap_name or (profile.name if profile else "node")
    names = bootstrap_names(first, max(args.bootstrap_nodes, 0))
    real = None
    if args.node_runtime == "containerd":
        if profile is None:
            raise SystemExit("--node-runtime containerd needs --profile-dir")
        real = RealNodeConfig(name=first, profile_dir=profile, pod_cidr=args.pod_cidr,
                              cri_endpoint=args.container_runtime_endpoint or None)
        names = names[1:] if names else ()
    has_first = real is not None or bool(names and names[0] == first)
    return AgentOptions(
        timing=simulate.Timing(start=args.sim_start_delay, init=args.sim_init_duration, stop=args.sim_stop_delay),
        bootstrap_nodes=names, state_dir=profile / "kubelet" if profile else None,
        event_qps=args.event_qps, event_burst=args.event_burst, real_node=real,
        mirror_node=first if profile is not None and has_first and args.mirror_pods == "auto" else "",
        profile_dir=profile)


async def amain(args: argparse.Namespace) -> None:
    config = ClientConfig(server=args.server, ca_file=args.certificate_authority, cert_file=args.client_certificate,
                          key_file=args.client_key, user_agent="kubelet/v1.32.4 (linux/amd64) pocketkube-node-agent")
    client, heartbeats = RESTClient(config), RESTClient(config)
    agent = Agent(client, options(args), heartbeat_client=heartbeats)
    try:
        await agent.start_runtime()
        await client.wait_ready()
    except BaseException:
        await agent.shutdown(stop_pods=False)
        await client.close()
        await heartbeats.close()
        raise
    streaming_runner = None
    if args.tls_cert_file:
        state = Path(args.profile_dir) / "kubelet" if args.profile_dir else Path(".")
        agent.attach_streaming(SimulatedStreaming(state / "podlogs"))
        streaming_runner, kubelet_port = await serve(agent.streaming_backend(), "127.0.0.1", 0, server_ssl_context(
            args.tls_cert_file, args.tls_private_key_file, args.client_ca_file or args.certificate_authority))
        agent.set_kubelet_port(kubelet_port)
    collector = AgentCollector(agent)
    REGISTRY.register(collector)
    health = await serve_health(port=args.healthz_port, checks={"informers": agent.healthy})
    if args.profile_dir:
        run_dir = Path(args.profile_dir) / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "node-agent.port").write_text(str(health.port))
    log.info("node agent serving /healthz and /metrics on %s", health.url)
    stopped = False
    try:
        await agent.run()
    except asyncio.CancelledError:  # SIGTERM: `pocketkube stop` stops the real node's pods and containerd
        stopped = True
        await agent.shutdown(stop_pods=True)
        raise
    finally:
        if not stopped:
            await agent.shutdown(stop_pods=False)
        REGISTRY.unregister(collector)
        if streaming_runner is not None:
            await streaming_runner.cleanup()
        await health.close()
        await client.close()
        await heartbeats.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logs.configure(args.log_level, os.environ.get("POCKETKUBE_LOG_FORMAT", "text"))
    runner.run(amain(args))


if __name__ == "__main__":
    main()
