"""Entry point of the scheduler process: `python -m pocketkube.cmd.scheduler ...`.

Serves /healthz and /metrics on an ephemeral loopback port (written to
--port-file when given), then, holding the kube-system/kube-scheduler Lease
when leader election is on (the default), runs the scheduler until SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from pathlib import Path

import yaml

from pocketkube.client.leaderelection import LeaderElectionConfig, LeaderElector, default_identity
from pocketkube.client.metrics import serve_health
from pocketkube.client.rest import ClientConfig, RESTClient
from pocketkube.cmd import logs, runner
from pocketkube.scheduler.app import SchedulerApp
from pocketkube.scheduler.config import load_config
from pocketkube.scheduler.metrics import SchedulerMetrics

log = logging.getLogger("pocketkube.scheduler")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="pocketkube-scheduler")
    p.add_argument("--profile-dir", default="")
    p.add_argument("--server", required=True)
    p.add_argument("--certificate-authority", default="")
    p.add_argument("--client-certificate", default="")
    p.add_argument("--client-key", default="")
    p.add_argument("--config", default="", help="a KubeSchedulerConfiguration file")
    p.add_argument("--leader-elect", default="true", choices=("true", "false"))
    p.add_argument("--bind-address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="healthz/metrics port (0: ephemeral)")
    p.add_argument("--port-file", default="")
    p.add_argument("-v", "--log-level", default="info")
    p.add_argument("--log-format", default=os.environ.get("POCKETKUBE_LOG_FORMAT", "text"), choices=("text", "json"))
    return p.parse_args(argv)


async def amain(args: argparse.Namespace) -> int:
    client = RESTClient(ClientConfig(server=args.server, ca_file=args.certificate_authority,
                                     cert_file=args.client_certificate, key_file=args.client_key,
                                     user_agent="kube-scheduler/v1.32.4 (pocketkube)"))
    config = load_config(yaml.safe_load(Path(args.config).read_text()) if args.config else None)
    app = SchedulerApp(client, config, metrics=SchedulerMetrics(), host=socket.gethostname())
    health = await serve_health(args.bind_address, args.port)
    log.info("serving /healthz and /metrics on %s", health.url)
    if args.port_file:
        Path(args.port_file).write_text(str(health.port))
    try:
        await client.wait_ready()
        if args.leader_elect == "true":
            elector = LeaderElector(client, LeaderElectionConfig("kube-scheduler", identity=default_identity()),
                                    on_started_leading=app.run, recorder=app.recorder)
            await elector.run()
            log.error("leaderelection lost")
            return 1
        await app.run()
    finally:
        await health.close()
        await client.close()
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logs.configure(args.log_level, args.log_format)
    sys.exit(runner.run(amain(args)))


if __name__ == "__main__":
    main()
