"""Admission: the ordered plugin chain every write passes before it is persisted.

Theory of operation: `Admission.admit(op, resource, obj, old, ctx)` runs each
plugin; a plugin may mutate `obj`, reject with a StatusError, or take resources
(service IPs, node ports) that must be given back if the write does not happen.
For that, admit returns one `release(committed)` callback that the store calls
after the storage write succeeded (committed=True) or failed / was a dry run.
Plugins read other objects only through the watch cache.

Plugins here: NamespaceLifecycle (the namespace must exist and not be
terminating for creates), ServiceAllocation (ClusterIP and NodePort).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pocketkube.api.scheme import Resource
from pocketkube.apiserver.allocators import ServiceAllocator
from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.watchcache import Entry, WatchCache
from pocketkube.machinery import errors

Obj = dict[str, Any]
Release = Callable[[bool], Awaitable[None]]


async def _noop(committed: bool) -> None:
    return None


async def lookup(cache: WatchCache, prefix: str, key: str) -> Entry | None:
    """An object from the watch cache; on a miss, catch up with storage first (it may be brand new)."""
    entry = cache.cache(prefix).entries.get(key)
    if entry is None:
        await cache.wait_fresh()
        entry = cache.cache(prefix).entries.get(key)
    return entry


class Plugin(Protocol):
    async def admit(self, op: str, resource: Resource, obj: Obj | None, old: Obj | None,
                    ctx: RequestContext) -> Release | None:
        ...


# Namespaced kinds that may be created even while their namespace is terminating.
_LIFECYCLE_EXEMPT = frozenset({("", "events"), ("events.k8s.io", "events"),
                               ("authorization.k8s.io", "localsubjectaccessreviews")})


class NamespaceLifecycle:
    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache

    async def admit(self, op: str, resource: Resource, obj: Obj | None, old: Obj | None,
                    ctx: RequestContext) -> Release | None:
        if op != "CREATE" or not resource.namespaced or obj is None:
            return None
        ns = obj["metadata"].get("namespace", "")
        entry = await lookup(self.cache, "/registry/core/namespaces/", f"/registry/core/namespaces/{ns}")
        if entry is None:
            raise errors.not_found_error("namespaces", "", ns)
        if entry.obj.get("status", {}).get("phase") == "Terminating" and \
                (resource.group, resource.plural) not in _LIFECYCLE_EXEMPT:
            raise errors.forbidden_error(
                resource.plural, resource.group, obj["metadata"].get("name", ""),
                f"unable to create new content in namespace {ns} because it is being terminated")
        return None


class ServiceAllocation:
    def __init__(self, cache: WatchCache, allocator: ServiceAllocator) -> None:
        self.cache = cache
        self.allocator = allocator

    async def admit(self, op: str, resource: Resource, obj: Obj | None, old: Obj | None,
                    ctx: RequestContext) -> Release | None:
        if resource.group != "" or resource.plural != "services":
            return None
        if not self.allocator.loaded:
            self.allocator.load(e.obj for e in self.cache.cache(resource.key_prefix).entries.values())
        alloc = self.allocator
        if op == "DELETE":
            assert old is not None
            held = alloc.held_by(old)

            async def release_deleted(committed: bool) -> None:
                if committed:
                    alloc.release(*held)
            return release_deleted
        assert obj is not None
        taken = alloc.assign(obj, old)
        freed: tuple[set[str], set[int]] = (set(), set())
        if old is not None:
            old_ips, old_ports = alloc.held_by(old)
            new_ips, new_ports = alloc.held_by(obj)
            freed = (old_ips - new_ips, old_ports - new_ports)

        async def release(committed: bool) -> None:
            if committed:
                alloc.release(*freed)
            else:
                alloc.release(*taken)
        return release


class Admission:
    def __init__(self, plugins: list[Plugin]) -> None:
        self.plugins = plugins

    async def admit(self, op: str, resource: Resource, obj: Obj | None, old: Obj | None,
                    ctx: RequestContext) -> Release:
        releases: list[Release] = []
        try:
            for p in self.plugins:
                r = await p.admit(op, resource, obj, old, ctx)
                if r is not None:
                    releases.append(r)
        except BaseException:
            for r in releases:
                await r(False)
            raise
        if not releases:
            return _noop

        async def release_all(committed: bool) -> None:
            for r in releases:
                await r(committed)
        return release_all
