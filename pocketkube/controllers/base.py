"""Controller skeleton: shared informers feed a work queue; workers call `sync(key)`.

Theory of operation: a controller declares the informers it reads (`watch`)
and maps their events to primary keys (event handlers only enqueue). After
every watched informer has listed once, `workers` tasks take keys from the
queue and call the level-triggered `sync(key)`, which re-reads the caches and
acts through the API. The queue guarantees one worker per key at a time.
- `sync` raises to retry the key with the queue's rate limiter (per-key
  exponential backoff 5 ms..1000 s, overall 10 qps / burst 100); after
  `max_retries` failures (None: never) the key is dropped until its next
  event. Returning a number re-queues the key after that many seconds
  (`requeue_after` does the same from anywhere); returning None forgets the
  key's failures.
- The queue is named after the controller, so the upstream workqueue_*
  metrics carry `name=<controller>`.
- A controller that sets `event_sender` to its EventRecorder has `run()`
  run the recorder's sender beside the workers and, once they stop, give the
  pending events EVENT_FLUSH_TIMEOUT seconds to go out (best effort, as events
  are).
- `stop()` shuts the queue down: workers finish the key in hand and the keys
  already queued, then `run()` returns (graceful drain). Cancelling `run()`
  stops at once. `process_next()` runs one key: tests drive controllers with it.

`InformerFactory` shares one informer per (resource, full or metadata-only)
among all controllers of a process. `run()` starts every informer requested so
far and any requested later; `wait_for_cache_sync()` waits for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from pocketkube.client.events import EventRecorder
from pocketkube.client.indexer import IndexFunc
from pocketkube.client.informer import Informer, key_of, wait_for_cache_sync
from pocketkube.client.rest import ResourceRef, RESTClient
from pocketkube.client.workqueue import ShutDown, WorkQueue

log = logging.getLogger("pocketkube.controllers")

EVENT_FLUSH_TIMEOUT = 2.0


class InformerFactory:
    def __init__(self, client: RESTClient, *, resync_period: float = 0.0) -> None:
        self.client = client
        self.resync_period = resync_period
        self.informers: dict[ResourceRef, Informer] = {}
        self.metadata_informers: dict[ResourceRef, Informer] = {}
        self._added = asyncio.Event()

    def informer(self, ref: ResourceRef, *, metadata_only: bool = False,
                 indexers: Mapping[str, IndexFunc] | None = None) -> Informer:
        """The shared informer of `ref` (created on first request), with `indexers` added."""
        table = self.metadata_informers if metadata_only else self.informers
        inf = table.get(ref)
        if inf is None:
            inf = table[ref] = Informer(self.client, ref, metadata_only=metadata_only,
                                        resync_period=self.resync_period)
            self._added.set()
        if indexers:
            inf.add_indexers(indexers)
        return inf

    def all(self) -> list[Informer]:
        return [*self.informers.values(), *self.metadata_informers.values()]

    async def wait_for_cache_sync(self, timeout: float | None = None) -> bool:
        return await wait_for_cache_sync(*self.all(), timeout=timeout)

    async def run(self) -> None:
        started: set[int] = set()
        async with asyncio.TaskGroup() as tg:
            while True:
                self._added.clear()
                for inf in self.all():
                    if id(inf) not in started:
                        started.add(id(inf))
                        suffix = "-metadata" if inf.metadata_only else ""
                        tg.create_task(inf.run(), name=f"informer-{inf.ref.plural}{suffix}")
                await self._added.wait()


class Controller:
    name = "controller"
    workers = 2
    max_retries: int | None = None
    event_sender: EventRecorder | None = None  # run() runs and flushes it

    def __init__(self, client: RESTClient, factory: InformerFactory) -> None:
        self.client = client
        self.factory = factory
        self.queue = WorkQueue(name=self.name)
        self.watched: list[Informer] = []

    def watch(self, ref: ResourceRef, *, metadata_only: bool = False,
              indexers: Mapping[str, IndexFunc] | None = None) -> Informer:
        """The shared informer of `ref`; run() waits for it to sync before starting workers."""
        inf = self.factory.informer(ref, metadata_only=metadata_only, indexers=indexers)
        self.watched.append(inf)
        return inf

    # ------------------------------------------------------------------ enqueueing
    def enqueue(self, obj: dict[str, Any] | str) -> None:
        """Queue an object's key (or a key)."""
        self.queue.add(obj if isinstance(obj, str) else key_of(obj))

    def requeue_after(self, obj: dict[str, Any] | str, delay: float) -> None:
        self.queue.add_after(obj if isinstance(obj, str) else key_of(obj), delay)

    enqueue_after = requeue_after

    # ------------------------------------------------------------------ running
    async def sync(self, key: str) -> float | None:
        raise NotImplementedError

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        return await wait_for_cache_sync(*self.watched, timeout=timeout)

    async def run(self) -> None:
        recorder = self.event_sender
        if recorder is None:
            await self._run_workers()
            return
        async with asyncio.TaskGroup() as tg:
            events = tg.create_task(recorder.run(), name=f"{self.name}-events")
            await self._run_workers()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(recorder.flush(), EVENT_FLUSH_TIMEOUT)
            events.cancel()

    async def _run_workers(self) -> None:
        await self.wait_for_sync()
        log.info("%s: caches synced, starting %d workers", self.name, self.workers)
        async with asyncio.TaskGroup() as tg:
            for i in range(self.workers):
                tg.create_task(self._worker(), name=f"{self.name}-worker-{i}")
        log.info("%s: stopped", self.name)

    def stop(self) -> None:
        """Graceful stop: no new keys; queued and in-flight keys finish, then run() returns."""
        self.queue.shutdown()

    async def _worker(self) -> None:
        while await self.process_next():
            pass

    async def process_next(self) -> bool:
        """Take one key from the queue and sync it; False once the queue is shut down and empty."""
        try:
            key = await self.queue.get()
        except ShutDown:
            return False
        try:
            after = await self.sync(key)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._handle_error(key, e)
        else:
            self.queue.forget(key)
            if after:
                self.queue.add_after(key, after)
        finally:
            self.queue.done(key)
        return True

    def _handle_error(self, key: str, err: Exception) -> None:
        retries = self.queue.retries(key)
        if self.max_retries is not None and retries >= self.max_retries:
            log.warning("%s: dropping %s out of the queue after %d retries: %s", self.name, key, retries, err)
            self.queue.forget(key)
            return
        log.warning("%s: sync %s failed (retry %d): %s", self.name, key, retries, err)
        self.queue.add_rate_limited(key)
