"""Entry point of the controller-manager process: `python -m pocketkube.cmd.controller_manager ...`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from pocketkube.client import metrics
from pocketkube.client.rest import ClientConfig, RESTClient
from pocketkube.cmd.apiserver import configure_logging
from pocketkube.controllers import manager


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
    return p.parse_args(argv)


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
        enabled = [c for c in args.controllers.split(",") if c] or None
        ca_pem = Path(args.certificate_authority).read_text() if args.certificate_authority else ""
        await manager.run(client, enabled, manager.Options(root_ca_pem=ca_pem,
                                                           leader_elect=args.leader_elect == "true"))
    except asyncio.CancelledError:
        pass
    finally:
        await health.close()
        await client.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(args.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(amain(args))


if __name__ == "__main__":
    main()
