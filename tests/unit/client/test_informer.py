"""Informers against the fake API, in virtual time: list/watch, resume, relist on 410, handlers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pocketkube.client import virtualtime
from pocketkube.client.fake import Action, FakeClient
from pocketkube.client.fakestore import api_error
from pocketkube.client.indexer import NODE_NAME_INDEX, index_by_node_name
from pocketkube.client.informer import Handlers, Informer, wait_for_cache_sync
from pocketkube.client.rest import ResourceRef
from pocketkube.machinery import errors

CM = ResourceRef("", "v1", "configmaps")
PODS = ResourceRef("", "v1", "pods")


def cm(name: str, ns: str = "ns", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels}, "data": {}}


class Seen:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.updates: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def handlers(self) -> Handlers:
        return Handlers(on_add=lambda o: self.events.append(("add", o["metadata"]["name"])),
                        on_update=self._update,
                        on_delete=lambda o: self.events.append(("delete", o["metadata"]["name"])))

    def _update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.events.append(("update", new["metadata"]["name"]))
        self.updates.append((old, new))


async def until(cond: Callable[[], bool], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(*informers: Informer) -> AsyncIterator[None]:
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(inf.run()) for inf in informers]
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()


def calls(fake: FakeClient, verb: str) -> list[Action]:
    return [a for a in fake.actions if a.verb == verb]


def test_lists_from_cache_then_watches_with_bookmarks() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(CM, cm("a"))
        inf = Informer(fake, CM)
        seen = Seen()
        inf.add_handlers(seen.handlers())
        async with running(inf):
            assert await inf.wait_synced(timeout=5)
            await until(lambda: bool(calls(fake, "watch")))
            await fake.create(CM, cm("b"), "ns")
            await fake.patch(CM, "a", {"data": {"k": "v"}}, "ns")
            await fake.delete(CM, "b", "ns")
            await until(lambda: len(seen.events) == 4)
        assert seen.events == [("add", "a"), ("add", "b"), ("update", "a"), ("delete", "b")]
        old, new = seen.updates[0]
        assert old["data"] == {} and new["data"] == {"k": "v"}
        assert list(inf.cache) == ["ns/a"] and inf.get("ns/a") is not None
        assert calls(fake, "list")[0].params["resourceVersion"] == "0"
        watch = calls(fake, "watch")[0].params
        assert watch["allowWatchBookmarks"] == "true" and watch["resourceVersion"] == "2"
        assert 300 <= int(watch["timeoutSeconds"]) < 600
        assert inf.list("ns")[0]["kind"] == "ConfigMap" and inf.list("other") == []
    virtualtime.run(main())


def test_resumes_from_last_resource_version_when_the_stream_ends() -> None:
    async def main() -> None:
        fake = FakeClient()
        inf = Informer(fake, CM)
        seen = Seen()
        inf.add_handlers(seen.handlers())
        async with running(inf):
            await inf.wait_synced()
            await fake.create(CM, cm("a"), "ns")
            await until(lambda: len(seen.events) == 1)
            fake.end_watches()
            fake.tracker.put(CM, cm("b"))  # written while no watch is open
            await until(lambda: len(seen.events) == 2)
            fake.tracker.bookmark()
            await asyncio.sleep(1)
        assert seen.events == [("add", "a"), ("add", "b")]
        assert [a.params["resourceVersion"] for a in calls(fake, "watch")][:2] == ["1", "2"]
        assert len(calls(fake, "list")) == 1  # resumed, not relisted
        assert inf.resource_version == "3"
    virtualtime.run(main())


def test_transport_error_retries_the_watch_without_relisting() -> None:
    async def main() -> None:
        fake = FakeClient()
        failures = [ConnectionResetError("peer went away")]

        def broken(action: Action) -> tuple[bool, Any]:
            if failures:
                raise failures.pop()
            return False, None
        fake.prepend_reactor("watch", "configmaps", broken)
        inf = Informer(fake, CM)
        async with running(inf):
            await inf.wait_synced()
            await fake.create(CM, cm("a"), "ns")
            await until(lambda: "ns/a" in inf.cache)
        assert len(calls(fake, "list")) == 1 and len(calls(fake, "watch")) == 2
    virtualtime.run(main())


def test_expired_watch_relists_and_emits_the_difference() -> None:
    async def main() -> None:
        fake = FakeClient()
        for name in ("keep", "change", "gone"):
            fake.add(CM, cm(name))
        inf = Informer(fake, CM)
        seen = Seen()
        inf.add_handlers(seen.handlers())
        async with running(inf):
            await inf.wait_synced()
            await until(lambda: bool(calls(fake, "watch")))
            fake.expire_watches()
            fake.tracker.delete(CM, "ns", "gone")
            fake.tracker.put(CM, {**cm("change"), "data": {"x": "1"}})
            fake.tracker.put(CM, cm("new"))
            await until(lambda: len(seen.events) == 6)
        assert seen.events[3:] == [("update", "change"), ("add", "new"), ("delete", "gone")]
        assert inf.stats.expired == 1 and inf.stats.lists == 2
        assert calls(fake, "list")[1].params["resourceVersion"] == "4"  # at least as fresh as last seen
        assert sorted(inf.cache) == ["ns/change", "ns/keep", "ns/new"]
    virtualtime.run(main())


def test_relist_falls_back_to_a_consistent_paged_list() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(CM, cm("a"))

        def too_old(action: Action) -> tuple[bool, Any]:
            if action.params.get("resourceVersion") not in ("", "0"):
                raise api_error(errors.expired("too old resource version"))
            return False, None
        fake.prepend_reactor("list", "configmaps", too_old)
        inf = Informer(fake, CM)
        async with running(inf):
            await inf.wait_synced()
            await until(lambda: bool(calls(fake, "watch")))
            fake.expire_watches()
            await until(lambda: len(calls(fake, "list")) == 3)
            await until(lambda: len(calls(fake, "watch")) == 2)
        rvs = [(a.params["resourceVersion"], a.params.get("limit")) for a in calls(fake, "list")]
        assert rvs == [("0", None), ("2", None), ("", "500")]
    virtualtime.run(main())


def test_expired_continue_token_restarts_with_one_full_list() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(CM, cm("a"))
        pages = iter([{"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {"continue": "t1"},
                       "items": [cm("x")]}])

        def paged(action: Action) -> tuple[bool, Any]:
            if "continue" in action.params:
                raise api_error(errors.expired("continue expired"))
            if action.params.get("limit"):
                return True, next(pages)
            return False, None
        fake.prepend_reactor("list", "configmaps", paged)
        inf = Informer(fake, CM)
        inf._rv_unavailable = True  # start with a consistent list
        async with running(inf):
            await inf.wait_synced()
        assert list(inf.cache) == ["ns/a"]
        assert [sorted(a.params) for a in calls(fake, "list")] == [
            ["limit", "resourceVersion"], ["continue", "limit", "resourceVersion"], ["resourceVersion"]]
    virtualtime.run(main())


def test_late_handlers_replay_adds_and_removal() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(CM, cm("a"))
        fake.add(CM, cm("b"))
        inf = Informer(fake, CM)
        async with running(inf):
            await inf.wait_synced()
            seen = Seen()
            h = inf.add_handlers(seen.handlers())
            assert sorted(seen.events) == [("add", "a"), ("add", "b")]
            inf.remove_handlers(h)
            await fake.create(CM, cm("c"), "ns")
            await until(lambda: "ns/c" in inf.cache)
        assert len(seen.events) == 2
    virtualtime.run(main())


def test_resync_redelivers_every_object_as_update() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(CM, cm("a"))
        inf = Informer(fake, CM, resync_period=30)
        seen = Seen()
        inf.add_handlers(seen.handlers())
        async with running(inf):
            await inf.wait_synced()
            await asyncio.sleep(65)
        assert seen.events == [("add", "a"), ("update", "a"), ("update", "a")]
        assert all(old is new for old, new in seen.updates)
    virtualtime.run(main())


def test_label_selector_turns_relabel_into_delete_and_handler_errors_are_contained() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(CM, cm("a", app="web"))
        fake.add(CM, cm("b", app="db"))
        inf = Informer(fake, CM, label_selector="app=web")
        seen = Seen()
        def failing(obj: dict[str, Any]) -> None:
            raise ZeroDivisionError
        inf.add_handlers(Handlers(on_add=failing))  # a failing handler does not stop others
        inf.add_handlers(seen.handlers())
        async with running(inf):
            await inf.wait_synced()
            await until(lambda: bool(calls(fake, "watch")))
            await fake.patch(CM, "a", {"metadata": {"labels": {"app": "db"}}}, "ns")
            await until(lambda: len(seen.events) == 2)
        assert seen.events == [("add", "a"), ("delete", "a")]
        assert calls(fake, "list")[0].params["labelSelector"] == "app=web"
    virtualtime.run(main())


def test_metadata_only_informer_and_indexes() -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(PODS, {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}})
        full = Informer(fake, PODS, indexers={NODE_NAME_INDEX: index_by_node_name})
        meta = Informer(fake, PODS, metadata_only=True)
        async with running(full, meta):
            assert await wait_for_cache_sync(full, meta, timeout=5)
            await fake.create(PODS, {"metadata": {"name": "q"}, "spec": {"nodeName": "n1"}}, "ns")
            await until(lambda: len(meta.cache) == 2 and len(full.cache) == 2)
        assert {o["kind"] for o in meta.list()} == {"PartialObjectMetadata"}
        assert all("spec" not in o for o in meta.list())
        assert [p["metadata"]["name"] for p in full.by_index(NODE_NAME_INDEX, "n1")] == ["p", "q"]
        copy = full.get_copy("ns/p")
        assert copy is not None and copy is not full.get("ns/p")
    virtualtime.run(main())


def test_wait_for_cache_sync_times_out_while_lists_fail() -> None:
    async def main() -> None:
        fake = FakeClient()

        def down(action: Action) -> tuple[bool, Any]:
            raise api_error(errors.internal_error("etcd is down"))
        fake.prepend_reactor("list", "*", down)
        inf = Informer(fake, CM)
        async with running(inf):
            assert not await wait_for_cache_sync(inf, timeout=10)
        assert len(calls(fake, "list")) >= 3  # retried with backoff
        assert not inf.has_synced()
    virtualtime.run(main())


@pytest.mark.parametrize("detect", [True])
def test_mutating_a_cached_object_is_detected(detect: bool) -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(CM, cm("a"))
        inf = Informer(fake, CM, detect_mutation=detect)
        async with running(inf):
            await inf.wait_synced()
            obj = inf.get("ns/a")
            assert obj is not None
            inf.check_mutations()
            obj["data"]["x"] = "changed in place"
            with pytest.raises(AssertionError):
                inf.check_mutations()
    virtualtime.run(main())
