"""Controller skeleton: shared informers feed a work queue; workers call `sync(key)`.

Theory of operation: a controller declares the informers it reads and maps
their events to primary keys (event handlers only enqueue). Workers take keys
from the queue and call the level-triggered `sync(key)`, which re-reads the
caches and acts through the API. An exception re-queues the key with per-key
exponential backoff; a returned number re-queues it after that many seconds.
The `InformerFactory` shares one informer per resource among all controllers
of a process.
"""

from __future__ import annotations

import asyncio
import logging

from pocketkube.client.informer import Informer
from pocketkube.client.rest import ResourceRef, RESTClient
from pocketkube.client.workqueue import WorkQueue

log = logging.getLogger("pocketkube.controllers")


class InformerFactory:
    def __init__(self, client: RESTClient) -> None:
        self.client = client
        self.informers: dict[ResourceRef, Informer] = {}

    def informer(self, ref: ResourceRef) -> Informer:
        inf = self.informers.get(ref)
        if inf is None:
            inf = self.informers[ref] = Informer(self.client, ref)
        return inf

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for ref, inf in self.informers.items():
                tg.create_task(inf.run(), name=f"informer-{ref.plural}")


class Controller:
    name = "controller"
    workers = 2

    def __init__(self, client: RESTClient, factory: InformerFactory) -> None:
        self.client = client
        self.factory = factory
        self.queue = WorkQueue()
        self.watched: list[Informer] = []

    def watch(self, ref: ResourceRef) -> Informer:
        inf = self.factory.informer(ref)
        self.watched.append(inf)
        return inf

    async def sync(self, key: str) -> float | None:
        raise NotImplementedError

    async def run(self) -> None:
        for inf in self.watched:
            await inf.synced.wait()
        async with asyncio.TaskGroup() as tg:
            for i in range(self.workers):
                tg.create_task(self._worker(), name=f"{self.name}-worker-{i}")

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                after = await self.sync(key)
                self.queue.forget(key)
                if after:
                    self.queue.add_after(key, after)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("%s: sync %s failed (retry %d): %s", self.name, key, self.queue.retries(key), e)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)
