"""Informer list diffing and watch-event application, against a small scripted REST client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from pocketkube.client import virtualtime
from pocketkube.client.informer import Handlers, Informer, key_of
from pocketkube.client.rest import ApiError, ResourceRef

CM = ResourceRef("", "v1", "configmaps")
NODES = ResourceRef("", "v1", "nodes", namespaced=False)
Obj = dict[str, Any]


def cm(name: str, rv: str, ns: str = "default", **data: str) -> Obj:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": rv}, "data": dict(data)}


class ScriptedClient:
    """Answers list() from a queue of pages and watch() from a queue of event scripts."""

    def __init__(self) -> None:
        self.pages: list[Obj] = []
        self.streams: list[list[Obj | Exception]] = []
        self.list_calls: list[dict[str, str]] = []
        self.watch_calls: list[dict[str, str]] = []
        self.listed = asyncio.Event()

    def page(self, items: list[Obj], rv: str, cont: str = "") -> None:
        meta = {"resourceVersion": rv, **({"continue": cont} if cont else {})}
        self.pages.append({"kind": "ConfigMapList", "apiVersion": "v1", "metadata": meta, "items": items})

    async def list(self, ref: ResourceRef, namespace: str = "", **params: str) -> Obj:
        self.list_calls.append({"namespace": namespace, **params})
        self.listed.set()
        if not self.pages:
            await asyncio.Event().wait()  # park: the test ends the informer
        return self.pages.pop(0)

    async def watch(self, ref: ResourceRef, namespace: str = "", **params: str) -> AsyncIterator[Obj]:
        self.watch_calls.append({"namespace": namespace, **params})
        script = self.streams.pop(0) if self.streams else []
        for item in script:
            if isinstance(item, Exception):
                raise item
            yield item
        if not self.streams:
            await asyncio.Event().wait()


class Recorder:
    def __init__(self, informer: Informer) -> None:
        self.events: list[tuple[str, ...]] = []
        informer.add_handlers(Handlers(
            on_add=lambda o: self.events.append(("add", key_of(o), o["metadata"]["resourceVersion"])),
            on_update=lambda old, new: self.events.append(
                ("update", key_of(new), old["metadata"]["resourceVersion"], new["metadata"]["resourceVersion"])),
            on_delete=lambda o: self.events.append(("delete", key_of(o), o["metadata"]["resourceVersion"]))))


def informer(client: ScriptedClient, **kw: Any) -> tuple[Informer, Recorder]:
    inf = Informer(client, CM, **kw)  # type: ignore[arg-type]
    return inf, Recorder(inf)


async def test_first_list_adds_everything_and_syncs() -> None:
    client = ScriptedClient()
    client.page([cm("a", "5"), cm("b", "6")], "10")
    inf, seen = informer(client, label_selector="app=web", field_selector="metadata.name!=x")
    await inf._list()
    assert seen.events == [("add", "default/a", "5"), ("add", "default/b", "6")]
    assert inf.synced.is_set()
    assert inf.resource_version == "10"
    assert client.list_calls[0]["labelSelector"] == "app=web"
    assert client.list_calls[0]["fieldSelector"] == "metadata.name!=x"
    assert inf.get("default/a") is not None and inf.get("default/a")["kind"] == "ConfigMap"  # type: ignore[index]
    assert inf.get("default/a")["apiVersion"] == "v1"  # type: ignore[index]


async def test_relist_emits_the_difference() -> None:
    client = ScriptedClient()
    client.page([cm("keep", "1"), cm("change", "2"), cm("gone", "3")], "3")
    client.page([cm("keep", "1"), cm("change", "7"), cm("new", "8")], "9")
    inf, seen = informer(client)
    await inf._list()
    seen.events.clear()
    await inf._list()
    assert seen.events == [("update", "default/change", "2", "7"), ("add", "default/new", "8"),
                           ("delete", "default/gone", "3")]
    assert sorted(inf.cache) == ["default/change", "default/keep", "default/new"]
    assert inf.resource_version == "9"
    assert client.list_calls[1]["resourceVersion"] == "3"  # relist from the last version seen


async def test_apply_watch_events() -> None:
    client = ScriptedClient()
    client.page([cm("a", "1")], "1")
    inf, seen = informer(client)
    await inf._list()
    seen.events.clear()
    inf._apply({"type": "ADDED", "object": cm("b", "2")})
    inf._apply({"type": "MODIFIED", "object": cm("a", "3", v="x")})
    inf._apply({"type": "MODIFIED", "object": cm("c", "4")})  # unknown key: an add
    inf._apply({"type": "ADDED", "object": cm("b", "5")})  # known key: an update
    inf._apply({"type": "DELETED", "object": cm("a", "6", v="final")})
    assert seen.events == [("add", "default/b", "2"), ("update", "default/a", "1", "3"), ("add", "default/c", "4"),
                           ("update", "default/b", "2", "5"), ("delete", "default/a", "6")]
    assert sorted(inf.cache) == ["default/b", "default/c"]
    assert inf.resource_version == "6"


async def test_bookmark_only_moves_the_resource_version() -> None:
    client = ScriptedClient()
    client.page([cm("a", "1")], "1")
    inf, seen = informer(client)
    await inf._list()
    seen.events.clear()
    before = dict(inf.cache)
    inf._apply({"type": "BOOKMARK", "object": {"kind": "ConfigMap", "apiVersion": "v1",
                                               "metadata": {"resourceVersion": "42"}}})
    assert seen.events == []
    assert inf.cache == before
    assert inf.resource_version == "42"


async def test_deleted_event_for_an_unknown_object_still_notifies() -> None:
    client = ScriptedClient()
    client.page([], "1")
    inf, seen = informer(client)
    await inf._list()
    inf._apply({"type": "DELETED", "object": cm("ghost", "2")})
    assert seen.events == [("delete", "default/ghost", "2")]
    assert inf.cache == {}


async def test_unexpected_event_types_are_ignored() -> None:
    client = ScriptedClient()
    client.page([cm("a", "1")], "1")
    inf, seen = informer(client)
    await inf._list()
    seen.events.clear()
    inf._apply({"type": "ERROR", "object": {"kind": "Status", "code": 500}})
    assert seen.events == []
    assert list(inf.cache) == ["default/a"]


async def test_a_failing_handler_does_not_stop_the_others() -> None:
    client = ScriptedClient()
    client.page([], "1")
    inf = Informer(client, CM)  # type: ignore[arg-type]

    def boom(obj: Obj) -> None:
        raise RuntimeError("handler bug")

    got: list[str] = []
    inf.add_handlers(Handlers(on_add=boom))
    inf.add_handlers(Handlers(on_add=lambda o: got.append(key_of(o))))
    await inf._list()
    inf._apply({"type": "ADDED", "object": cm("a", "2")})
    assert got == ["default/a"]


def test_key_of() -> None:
    assert key_of(cm("a", "1", ns="team")) == "team/a"
    assert key_of({"metadata": {"name": "node-1"}}) == "node-1"
    assert key_of({}) == ""


def test_list_then_watch_then_relist_on_410() -> None:
    async def main() -> None:
        client = ScriptedClient()
        client.page([cm("a", "1")], "1")
        client.page([cm("b", "9")], "9")
        client.streams.append([{"type": "ADDED", "object": cm("c", "2")},
                               {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "5"}}},
                               ApiError(410, {"reason": "Expired", "message": "too old resource version"})])
        client.streams.append([])
        inf, seen = informer(client, watch_timeout=300.0)
        task = asyncio.create_task(inf.run())
        try:
            async with asyncio.timeout(3600):  # virtual seconds
                while len(client.watch_calls) < 2:
                    await asyncio.sleep(0.1)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert client.list_calls[0]["resourceVersion"] == "0"  # first list from the watch cache
        watch = client.watch_calls[0]
        assert (watch["resourceVersion"], watch["allowWatchBookmarks"]) == ("1", "true")
        assert 300 <= int(watch["timeoutSeconds"]) < 600
        assert client.list_calls[1]["resourceVersion"] == "5"  # relist from the bookmark's version
        assert seen.events == [("add", "default/a", "1"), ("add", "default/c", "2"), ("add", "default/b", "9"),
                               ("delete", "default/a", "1"), ("delete", "default/c", "2")]
        assert client.watch_calls[1]["resourceVersion"] == "9"
    virtualtime.run(main())
