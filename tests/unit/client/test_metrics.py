"""The /healthz + /metrics server (real loopback HTTP) and the workqueue metric exposition."""

from __future__ import annotations

import asyncio

import aiohttp
from prometheus_client import CollectorRegistry

from pocketkube.client.metrics import serve_health
from pocketkube.client.workqueue import WorkQueue


async def fetch(session: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    async with session.get(url) as resp:
        return resp.status, await resp.text(), resp.headers.get("Content-Type", "")


async def test_healthz_and_metrics() -> None:
    registry = CollectorRegistry()
    healthy = {"informers": True}

    async def informers_synced() -> bool:
        return healthy["informers"]

    q = WorkQueue(name="deployment", registry=registry)
    q.add("ns/web")
    server = await serve_health("127.0.0.1", 0, registry, {"informers-synced": informers_synced})
    try:
        assert server.port > 0
        async with aiohttp.ClientSession() as s:
            assert (await fetch(s, f"{server.url}/healthz"))[:2] == (200, "ok")
            status, body, _ = await fetch(s, f"{server.url}/healthz?verbose")
            assert (status, body) == (200, "[+]ping ok\n[+]informers-synced ok\nhealthz check passed\n")
            healthy["informers"] = False
            status, body, _ = await fetch(s, f"{server.url}/healthz")
            assert status == 500
            assert body == "[+]ping ok\n[-]informers-synced failed: reason withheld\nhealthz check failed\n"
            assert (await fetch(s, f"{server.url}/healthz?exclude=informers-synced"))[:2] == (200, "ok")
            assert (await fetch(s, f"{server.url}/healthz/ping"))[:2] == (200, "ok")
            assert (await fetch(s, f"{server.url}/healthz/informers-synced"))[0] == 500
            assert (await fetch(s, f"{server.url}/healthz/nope"))[0] == 404
            status, body, ctype = await fetch(s, f"{server.url}/metrics")
        assert status == 200 and ctype.startswith("text/plain")
        assert 'workqueue_depth{name="deployment"} 1.0' in body
        assert 'workqueue_adds_total{name="deployment"} 1.0' in body
        for family in ("workqueue_queue_duration_seconds_bucket", "workqueue_work_duration_seconds_bucket",
                       "workqueue_unfinished_work_seconds", "workqueue_longest_running_processor_seconds",
                       "workqueue_retries_total"):
            assert f'{family}{{' in body, family
        assert 'le="1e-08"' in body and 'le="10.0"' in body
    finally:
        await server.close()
    await asyncio.sleep(0)
