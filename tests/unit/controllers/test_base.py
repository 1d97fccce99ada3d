"""The controller skeleton (workers, retries, requeue, graceful stop), the informer factory and expectations."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import controller_harness as harness

from pocketkube.client import virtualtime
from pocketkube.client.fake import FakeClient
from pocketkube.client.indexer import index_by_label
from pocketkube.client.informer import Handlers
from pocketkube.client.rest import ResourceRef
from pocketkube.controllers.base import Controller, InformerFactory
from pocketkube.controllers.expectations import ControllerExpectations, UIDTrackingExpectations

CM = ResourceRef("", "v1", "configmaps")


class Stamper(Controller):
    """Labels every ConfigMap `stamped=yes`; keys in `fail` raise; keys in `again` ask for a resync."""

    name = "stamper"

    def __init__(self, client: FakeClient, factory: InformerFactory) -> None:
        super().__init__(client, factory)
        self.configmaps = self.watch(CM)
        self.configmaps.add_handlers(Handlers(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new)))
        self.fail: set[str] = set()
        self.again: dict[str, float] = {}
        self.synced: list[tuple[str, float]] = []
        self.busy: set[str] = set()
        self.work = 0.0

    async def sync(self, key: str) -> float | None:
        assert key not in self.busy, "two workers on one key"
        self.busy.add(key)
        try:
            self.synced.append((key, asyncio.get_running_loop().time()))
            if self.work:
                await asyncio.sleep(self.work)
            if key in self.fail:
                raise RuntimeError("boom")
            cm = self.configmaps.get(key)
            if cm is not None and (cm["metadata"].get("labels") or {}).get("stamped") != "yes":
                ns, name = key.split("/")
                await self.client.patch(CM, name, {"metadata": {"labels": {"stamped": "yes"}}}, ns)
            return self.again.get(key)
        finally:
            self.busy.discard(key)


def started(factory: InformerFactory, *controllers: Controller) -> contextlib.AbstractAsyncContextManager[None]:
    return harness.running(factory, *(c.run() for c in controllers))


async def until(cond: Callable[[], bool], timeout: float = 60.0) -> None:
    await harness.until(cond, timeout, poll=0.01)


def cm(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns"}}


def test_level_triggered_sync_through_informers() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(CM, cm("a"))
        factory = InformerFactory(fake)
        ctrl = Stamper(fake, factory)
        async with started(factory, ctrl):
            await fake.create(CM, cm("b"), "ns")
            await until(lambda: all((o["metadata"].get("labels") or {}).get("stamped") == "yes"
                                    for o in fake.objects(CM, "ns")) and len(fake.objects(CM)) == 2)
        patches = [(a.verb, a.name) for a in fake.mutations() if a.verb == "patch"]
        assert sorted(patches) == [("patch", "a"), ("patch", "b")]
    virtualtime.run(main())


def test_errors_retry_with_backoff_then_drop_after_max_retries() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(CM, cm("bad"))
        factory = InformerFactory(fake)
        ctrl = Stamper(fake, factory)
        ctrl.max_retries = 5
        ctrl.fail.add("ns/bad")
        async with started(factory, ctrl):
            await until(lambda: len(ctrl.synced) == 6)
            await asyncio.sleep(100)
        times = [t for _, t in ctrl.synced]
        gaps = [round(b - a, 4) for a, b in itertools.pairwise(times)]
        assert gaps == [0.005, 0.01, 0.02, 0.04, 0.08]
        assert len(ctrl.synced) == 6 and ctrl.queue.retries("ns/bad") == 0  # dropped and forgotten
    virtualtime.run(main())


def test_returned_delay_requeues_and_requeue_after() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(CM, cm("a"))
        factory = InformerFactory(fake)
        ctrl = Stamper(fake, factory)
        ctrl.again["ns/a"] = 30.0
        async with started(factory, ctrl):
            await until(lambda: len(ctrl.synced) >= 3)
            ctrl.again.clear()
            ctrl.requeue_after("ns/zzz", 5)
            await until(lambda: any(k == "ns/zzz" for k, _ in ctrl.synced))
        a_times = [t for k, t in ctrl.synced if k == "ns/a"]
        assert round(a_times[2] - a_times[1], 3) == 30.0
    virtualtime.run(main())


def test_workers_run_in_parallel_but_never_on_one_key() -> None:
    async def main() -> None:
        fake = FakeClient()
        for i in range(4):
            fake.add(CM, cm(f"c{i}"))
        factory = InformerFactory(fake)
        ctrl = Stamper(fake, factory)
        ctrl.workers, ctrl.work = 4, 1.0
        async with started(factory, ctrl):
            await factory.wait_for_cache_sync()
            start = asyncio.get_running_loop().time()
            await until(lambda: len(ctrl.synced) >= 4 and not ctrl.busy)
            elapsed = asyncio.get_running_loop().time() - start
            for _ in range(5):
                ctrl.enqueue("ns/c0")  # hammering one key while it syncs
                await asyncio.sleep(0.3)
            await until(lambda: not ctrl.busy and not len(ctrl.queue))
        assert elapsed <= 1.5  # four keys, four workers, one second each
    virtualtime.run(main())


def test_stop_drains_the_queue_and_run_returns() -> None:
    async def main() -> None:
        fake = FakeClient()
        factory = InformerFactory(fake)
        ctrl = Stamper(fake, factory)
        ctrl.work = 1.0
        async with asyncio.TaskGroup() as tg:
            informers = tg.create_task(factory.run())
            run = tg.create_task(ctrl.run())
            await factory.wait_for_cache_sync()
            for i in range(3):
                ctrl.enqueue(f"ns/k{i}")
            await asyncio.sleep(0.5)
            ctrl.stop()
            ctrl.enqueue("ns/late")  # refused after stop
            await run
            informers.cancel()
        assert sorted(k for k, _ in ctrl.synced) == ["ns/k0", "ns/k1", "ns/k2"]
    virtualtime.run(main())


def test_process_next_drives_one_key() -> None:
    async def main() -> None:
        fake = FakeClient()
        ctrl = Stamper(fake, InformerFactory(fake))
        ctrl.enqueue({"metadata": {"name": "x", "namespace": "ns"}})
        assert await ctrl.process_next()
        assert ctrl.synced[0][0] == "ns/x"
        ctrl.stop()
        assert not await ctrl.process_next()
    virtualtime.run(main())


def test_factory_shares_informers_and_starts_late_ones() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(CM, cm("a"))
        factory = InformerFactory(fake)
        full = factory.informer(CM)
        assert factory.informer(CM, indexers={"app": index_by_label("app")}) is full
        assert "app" in full.store.index_funcs
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(factory.run())
            assert await factory.wait_for_cache_sync(timeout=5)
            late = factory.informer(CM, metadata_only=True)
            assert late is not full and late.metadata_only
            assert await late.wait_synced(timeout=5)
            assert late.get("ns/a") is not None
            task.cancel()
    virtualtime.run(main())


def test_expectations_count_down_and_expire() -> None:
    now = [0.0]
    exp = ControllerExpectations(clock=lambda: now[0])
    assert exp.satisfied("ns/rs")  # nothing recorded
    exp.expect_creations("ns/rs", 2)
    assert not exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")
    assert not exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")
    assert exp.satisfied("ns/rs")
    exp.expect_deletions("ns/rs", 1)
    exp.raise_("ns/rs", 1, 0)
    record = exp.get("ns/rs")
    assert record is not None and (record.add, record.delete) == (1, 1)
    exp.lower("ns/rs", 1, 0)  # a create that failed will never be observed
    assert not exp.satisfied("ns/rs")
    now[0] = 301.0  # five-minute TTL
    assert exp.satisfied("ns/rs")
    exp.delete("ns/rs")
    assert exp.get("ns/rs") is None
    exp.creation_observed("ns/unknown")  # no record: ignored


def test_uid_tracking_counts_each_expected_deletion_once() -> None:
    exp = UIDTrackingExpectations()
    exp.expect_deletions("ns/rs", ["ns/p1", "ns/p2"])
    assert exp.uids("ns/rs") == {"ns/p1", "ns/p2"}
    exp.deletion_observed("ns/rs", "ns/p1")
    exp.deletion_observed("ns/rs", "ns/p1")  # seen twice (deletionTimestamp update, then DELETED)
    exp.deletion_observed("ns/rs", "ns/other")
    assert not exp.satisfied("ns/rs")
    exp.deletion_observed("ns/rs", "ns/p2")
    assert exp.satisfied("ns/rs")
    exp.expect_deletions("ns/rs", 3)
    assert not exp.satisfied("ns/rs")
    exp.forget("ns/rs")
    assert exp.satisfied("ns/rs") and exp.uids("ns/rs") == set()
