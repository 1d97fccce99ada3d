"""Several components in one process: `python -m pocketkube.cmd.components --profile-dir D @NAME ARGS... @NAME ARGS...`.

Theory of operation: a Python process costs 35-40 MB before it does anything
(interpreter, asyncio, aiohttp), so a laptop cluster that runs the
controller-manager, the scheduler and a simulated node agent as three
processes pays that three times. This host runs each named component's
`amain(args)` (the same coroutine its own entry point runs) as a task of one
event loop, like k3s runs its components in one binary. The components stay
independent: each keeps its own client identity, informers, health/metrics
server and leader election, and they still talk only through the API.

Logs stay per component: a context variable set in each component's task (and
so inherited by every task it starts) routes its records to
logs/<component>.log. If any component fails, the process exits non-zero and
the supervisor restarts it with backoff; SIGTERM cancels all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from pocketkube.cmd import logs, runner

MODULES = {
    "controller-manager": "pocketkube.cmd.controller_manager",
    "scheduler": "pocketkube.cmd.scheduler",
    "node-agent": "pocketkube.cmd.node",
}
CURRENT = contextvars.ContextVar("pocketkube_component", default="")
log = logging.getLogger("pocketkube.components")


class RoutingHandler(logging.Handler):
    """Writes each record to logs/<component>.log of the component whose task logged it."""

    def __init__(self, logs_dir: Path | None, fallback: logging.Handler) -> None:
        super().__init__()
        self.logs_dir = logs_dir
        self.fallback = fallback
        self.handlers: dict[str, logging.Handler] = {}

    def handler_for(self, component: str) -> logging.Handler:
        h = self.handlers.get(component)
        if h is None:
            assert self.logs_dir is not None
            h = logging.FileHandler(self.logs_dir / f"{component}.log")
            h.setFormatter(self.fallback.formatter)
            self.handlers[component] = h
        return h

    def emit(self, record: logging.LogRecord) -> None:
        component = CURRENT.get()
        target = self.handler_for(component) if component and self.logs_dir else self.fallback
        target.handle(record)

    def close(self) -> None:
        for h in self.handlers.values():
            h.close()
        super().close()


def split_argv(argv: list[str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(host args, [(component, component args)]) from `HOST_ARGS @name ARGS @name ARGS`."""
    host: list[str] = []
    specs: list[tuple[str, list[str]]] = []
    for arg in argv:
        if arg.startswith("@"):
            name = arg[1:]
            if name not in MODULES:
                raise SystemExit(f"unknown component {name!r}; known: {', '.join(MODULES)}")
            specs.append((name, []))
        elif specs:
            specs[-1][1].append(arg)
        else:
            host.append(arg)
    return host, specs


async def host(specs: list[tuple[str, Any, argparse.Namespace]]) -> int:
    async def run_one(name: str, module: Any, args: argparse.Namespace) -> None:
        CURRENT.set(name)
        log.info("component %s starting", name)
        result = await module.amain(args)
        raise SystemExit(f"component {name} ended ({result!r})")

    failed = False
    try:
        async with asyncio.TaskGroup() as tg:
            for name, module, args in specs:
                tg.create_task(run_one(name, module, args), name=name)
    except* SystemExit as group:
        log.error("%s", "; ".join(str(e) for e in group.exceptions))
        failed = True
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> None:
    host_argv, wanted = split_argv(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="pocketkube-components")
    p.add_argument("--profile-dir", default="")
    p.add_argument("-v", "--log-level", default="info")
    args = p.parse_args(host_argv)
    logs.configure(args.log_level, os.environ.get("POCKETKUBE_LOG_FORMAT", "text"))
    root = logging.getLogger()
    logs_dir = Path(args.profile_dir) / "logs" if args.profile_dir else None
    root.handlers[:] = [RoutingHandler(logs_dir, root.handlers[0])]
    specs = []
    for name, component_argv in wanted:
        module = importlib.import_module(MODULES[name])
        specs.append((name, module, module.parse_args(component_argv)))
    sys.exit(runner.run(host(specs)))


if __name__ == "__main__":
    main()
