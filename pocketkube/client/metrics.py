"""Process-wide Prometheus metrics of the client machinery, and the /healthz + /metrics server.

Theory of operation: `REGISTRY` is the CollectorRegistry of this process; the
work queues of every controller register into it (upstream names, label
`name`), and a component exposes it with `serve_health`. The seven workqueue
families are created once per registry; each named queue gets a
`WorkQueueMetrics` that the queue calls on add/get/done/retry. The two
"in progress" gauges (unfinished work, longest running processor) are computed
when scraped instead of by a ticker, from the start times of items being
processed. A queue without a name records nothing (client-go's noop provider).

`serve_health(host, port, registry, checks)` starts a small aiohttp server with
/healthz (Kubernetes' format: `ok`, or `[+]name ok` / `[-]name failed: reason
withheld` lines with ?verbose or on failure, 500 when a check fails; ?exclude=
skips a check; /healthz/<name> runs one) and /metrics (text exposition). Port
0 binds an ephemeral port; the returned `HealthServer` knows the bound port and
is stopped with `close()`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from pocketkube.client.clock import Clock, monotonic

REGISTRY = CollectorRegistry()

# metrics.ExponentialBuckets(10e-9, 10, 10): 10 ns .. 10 s
_DURATION_BUCKETS = tuple(10e-9 * 10 ** i for i in range(10))


@dataclass(frozen=True)
class WorkQueueFamilies:
    depth: Gauge
    adds: Counter
    queue_duration: Histogram
    work_duration: Histogram
    unfinished: Gauge
    longest_running: Gauge
    retries: Counter


_FAMILIES: dict[int, tuple[CollectorRegistry, WorkQueueFamilies]] = {}


def workqueue_families(registry: CollectorRegistry = REGISTRY) -> WorkQueueFamilies:
    """The workqueue metric families of `registry` (created on first use)."""
    found = _FAMILIES.get(id(registry))
    if found is not None and found[0] is registry:
        return found[1]
    label = ("name",)
    fams = WorkQueueFamilies(
        depth=Gauge("workqueue_depth", "Current depth of workqueue", label, registry=registry),
        adds=Counter("workqueue_adds_total", "Total number of adds handled by workqueue", label,
                     registry=registry),
        queue_duration=Histogram("workqueue_queue_duration_seconds",
                                 "How long in seconds an item stays in workqueue before being requested.",
                                 label, buckets=_DURATION_BUCKETS, registry=registry),
        work_duration=Histogram("workqueue_work_duration_seconds",
                                "How long in seconds processing an item from workqueue takes.",
                                label, buckets=_DURATION_BUCKETS, registry=registry),
        unfinished=Gauge("workqueue_unfinished_work_seconds",
                         "How many seconds of work has been done that is in progress and hasn't been observed "
                         "by work_duration. Large values indicate stuck threads. One can deduce the number of "
                         "stuck threads by observing the rate at which this increases.", label, registry=registry),
        longest_running=Gauge("workqueue_longest_running_processor_seconds",
                              "How many seconds has the longest running processor for workqueue been running.",
                              label, registry=registry),
        retries=Counter("workqueue_retries_total", "Total number of retries handled by workqueue", label,
                        registry=registry),
    )
    _FAMILIES[id(registry)] = (registry, fams)
    return fams


class WorkQueueMetrics:
    """The metrics of one named queue (client-go's defaultQueueMetrics)."""

    def __init__(self, name: str, registry: CollectorRegistry = REGISTRY, clock: Clock = monotonic) -> None:
        self.name = name
        self.clock = clock
        fams = workqueue_families(registry)
        self._depth = fams.depth.labels(name)
        self._adds = fams.adds.labels(name)
        self._queue_duration = fams.queue_duration.labels(name)
        self._work_duration = fams.work_duration.labels(name)
        self._retries = fams.retries.labels(name)
        self._added_at: dict[str, float] = {}
        self._started_at: dict[str, float] = {}
        self._depth.set(0)
        fams.unfinished.labels(name).set_function(self.unfinished_work_seconds)
        fams.longest_running.labels(name).set_function(self.longest_running_processor_seconds)

    def add(self, item: str) -> None:
        self._adds.inc()
        self._depth.inc()
        self._added_at.setdefault(item, self.clock())

    def get(self, item: str) -> None:
        self._depth.dec()
        now = self.clock()
        self._started_at[item] = now
        added = self._added_at.pop(item, None)
        if added is not None:
            self._queue_duration.observe(max(0.0, now - added))

    def done(self, item: str) -> None:
        started = self._started_at.pop(item, None)
        if started is not None:
            self._work_duration.observe(max(0.0, self.clock() - started))

    def retry(self) -> None:
        self._retries.inc()

    def unfinished_work_seconds(self) -> float:
        now = self.clock()
        return sum(max(0.0, now - t) for t in self._started_at.values())

    def longest_running_processor_seconds(self) -> float:
        now = self.clock()
        return max((max(0.0, now - t) for t in self._started_at.values()), default=0.0)


HealthCheck = Callable[[], bool | Awaitable[bool]]


@dataclass
class HealthServer:
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        await self.runner.cleanup()


async def _run_check(check: HealthCheck) -> bool:
    try:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        return bool(result)
    except Exception:
        return False


def _health_app(registry: CollectorRegistry, checks: Mapping[str, HealthCheck]) -> web.Application:
    all_checks: dict[str, HealthCheck] = {"ping": lambda: True, **checks}
    headers = {"X-Content-Type-Options": "nosniff"}

    async def healthz(request: web.Request) -> web.Response:
        excluded = set(request.query.getall("exclude", []))
        lines, failed = [], False
        for name, check in all_checks.items():
            if name in excluded:
                continue
            if await _run_check(check):
                lines.append(f"[+]{name} ok\n")
            else:
                failed = True
                lines.append(f"[-]{name} failed: reason withheld\n")
        if failed:
            return web.Response(status=500, text="".join(lines) + "healthz check failed\n", headers=headers)
        if "verbose" in request.query:
            return web.Response(text="".join(lines) + "healthz check passed\n", headers=headers)
        return web.Response(text="ok", headers=headers)

    async def one(request: web.Request) -> web.Response:
        check = all_checks.get(request.match_info["name"])
        if check is None:
            return web.Response(status=404, text="404 page not found\n")
        if await _run_check(check):
            return web.Response(text="ok", headers=headers)
        return web.Response(status=500, text="internal server error: reason withheld\n", headers=headers)

    async def metrics(request: web.Request) -> web.Response:
        resp = web.Response(body=generate_latest(registry))
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/healthz/{name}", one)
    app.router.add_get("/metrics", metrics)
    return app


async def serve_health(host: str = "127.0.0.1", port: int = 0, registry: CollectorRegistry = REGISTRY,
                       checks: Mapping[str, HealthCheck] | None = None) -> HealthServer:
    """Start the /healthz + /metrics server; port 0 picks a free port (see `.port`)."""
    runner = web.AppRunner(_health_app(registry, checks or {}), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    for addr in runner.addresses:
        if isinstance(addr, tuple):
            bound = int(addr[1])
            break
    return HealthServer(runner, host, bound)
