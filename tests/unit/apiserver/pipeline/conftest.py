"""An in-process API server over a memory store, without HTTP, for the store-pipeline tests.

`api` is a `Harness`: the APIServer with its watch cache running and the bootstrap objects
written, plus small helpers. Writes reach the cache through the storage watch, so tests call
`await api.settle()` when they need the cache to have seen a write before the next step (the
HTTP path gets this for free from the round trip between requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pocketkube.api.scheme import SCHEME
from pocketkube.apiserver import bootstrap
from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.server import APIServer, ServerConfig
from pocketkube.apiserver.store import ResourceStore
from pocketkube.machinery import errors
from pocketkube.storage import open_store

Obj = dict[str, Any]


class Harness:
    def __init__(self, server: APIServer) -> None:
        self.server = server

    def store(self, plural: str, group: str = "", version: str = "") -> ResourceStore:
        versions = SCHEME.groups()[group]
        resource = SCHEME.get(group, version or versions[0], plural)
        assert resource is not None, (group, plural)
        return self.server.store_for(resource)

    @staticmethod
    def ctx(**kw: Any) -> RequestContext:
        return RequestContext(**kw)

    async def settle(self) -> None:
        """Let the watch cache catch up with storage."""
        await self.server.cache.wait_fresh()

    async def revision(self) -> int:
        return await self.server.store.current_revision()

    async def create(self, plural: str, obj: Obj, namespace: str = "default", group: str = "",
                     **ctx: Any) -> Obj:
        out = await self.store(plural, group).create(namespace, obj, RequestContext(**ctx))
        await self.settle()
        return out

    async def get(self, plural: str, name: str, namespace: str = "default", group: str = "") -> Obj:
        return (await self.store(plural, group).get(namespace, name)).copy()

    async def exists(self, plural: str, name: str, namespace: str = "default", group: str = "") -> bool:
        try:
            await self.store(plural, group).get(namespace, name)
        except errors.StatusError as e:
            assert e.code == 404
            return False
        return True

    async def namespace(self, name: str) -> Obj:
        return await self.create("namespaces", {"metadata": {"name": name}}, namespace="")

    async def service_account(self, namespace: str = "default", name: str = "default", **extra: Any) -> Obj:
        return await self.create("serviceaccounts", {"metadata": {"name": name}, **extra}, namespace)


def pristine_priority_classes() -> tuple[Obj, ...]:
    """Fresh copies of bootstrap's PriorityClass bodies.

    bootstrap.run hands its module-level SYSTEM_PRIORITY_CLASSES dicts to store.create, which fills
    in their metadata (see test_bootstrap_twice_in_one_process), so every test server gets its own.
    """
    out = []
    for pc in bootstrap.SYSTEM_PRIORITY_CLASSES:
        pc = copy.deepcopy(pc)
        pc["metadata"] = {"name": pc["metadata"]["name"]}
        out.append(pc)
    return tuple(out)


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    monkeypatch.setattr(bootstrap, "SYSTEM_PRIORITY_CLASSES", pristine_priority_classes())
    store = await open_store("memory://")
    server = APIServer(ServerConfig(), store)
    task = asyncio.create_task(server.cache.run(), name="test-watch-cache")
    try:
        await asyncio.wait_for(server.cache.ready.wait(), 5)
        await bootstrap.run(server, "127.0.0.1", 6443)
        await server.cache.wait_fresh()
        yield Harness(server)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
