"""Entry point of the apiserver process: `python -m pocketkube.cmd.apiserver ...`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

from pocketkube.apiserver import tracing
from pocketkube.apiserver.server import APIServer, ServerConfig
from pocketkube.cmd import logs
from pocketkube.storage import open_store


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="pocketkube-apiserver")
    p.add_argument("--profile-dir", default="", help="the profile this apiserver belongs to (informational)")
    p.add_argument("--bind-address", default="127.0.0.1")
    p.add_argument("--secure-port", type=int, default=6443)
    p.add_argument("--tls-cert-file", default="")
    p.add_argument("--tls-private-key-file", default="")
    p.add_argument("--client-ca-file", default="")
    p.add_argument("--storage", default="memory://", help="sqlite:///path, etcd://host:port,..., memory://")
    p.add_argument("--advertise-address", default="127.0.0.1")
    p.add_argument("--port-file", default="", help="write the bound port here once serving")
    p.add_argument("--service-account-key-file", action="append", default=[],
                   help="PEM public (or private) keys that verify service account tokens (repeatable)")
    p.add_argument("--service-account-signing-key-file", default="", help="PEM private key that signs tokens")
    p.add_argument("--service-account-issuer", action="append", default=[],
                   help="token issuer; the first signs, all are accepted (repeatable)")
    p.add_argument("--api-audiences", default="", help="comma-separated; default: the service account issuers")
    p.add_argument("--tracing-endpoint", default=tracing.endpoint_from_env(),
                   help="OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces (default: off)")
    p.add_argument("-v", "--log-level", default=os.environ.get("POCKETKUBE_LOG_LEVEL", "info"))
    p.add_argument("--log-format", default=os.environ.get("POCKETKUBE_LOG_FORMAT", "text"), choices=["text", "json"])
    return p.parse_args(argv)


def configure_logging(level: str, fmt: str = "") -> None:
    logs.configure(level, fmt or os.environ.get("POCKETKUBE_LOG_FORMAT", "text"))


async def amain(args: argparse.Namespace) -> None:
    store = await open_store(args.storage)
    config = ServerConfig(host=args.bind_address, port=args.secure_port, cert_file=args.tls_cert_file,
                          key_file=args.tls_private_key_file, client_ca_file=args.client_ca_file,
                          advertise_address=args.advertise_address, tracing_endpoint=args.tracing_endpoint,
                          service_account_key_files=args.service_account_key_file,
                          service_account_signing_key_file=args.service_account_signing_key_file,
                          service_account_issuers=args.service_account_issuer,
                          api_audiences=[a for a in args.api_audiences.split(",") if a])
    server = APIServer(config, store)

    def started(port: int) -> None:
        if args.port_file:
            tmp = args.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(str(port))
            os.replace(tmp, args.port_file)

    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    assert task is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await server.run(started)
    except asyncio.CancelledError:
        pass
    finally:
        server.tracer.shutdown()
        await store.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(args.log_level, args.log_format)
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(amain(args))


if __name__ == "__main__":
    main()
