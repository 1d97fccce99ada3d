"""The garbage collector: deletes objects whose owners are gone, orphans or deletes dependents on request.

Theory of operation (upstream GarbageCollector + GraphBuilder):
- Monitors. Discovery lists every resource that supports delete, list and
  watch (events excepted); each gets an informer whose events feed the
  `Graph`. A full informer another controller already requested is reused,
  otherwise a metadata-only one (PartialObjectMetadata) is started, so even
  10,000 pods cost the collector only their metadata. Discovery is repeated
  every `discovery_period` (30 s) to pick up new CRDs. Workers start once the
  monitors have synced (or after `sync_timeout`: lookups are live, so a late
  monitor only delays work).
- attemptToDelete (queue of uids). A worker reads the live object: absent or
  another uid -> a virtual delete event for the graph. An owner in foreground
  deletion (`foregroundDeletion` finalizer) loses its finalizer once no
  dependent with blockOwnerDeletion remains, otherwise those dependents are
  queued. Any other object has its ownerReferences classified by live reads
  (an LRU cache remembers absent owners): if one owner is solid, only the
  dangling or foreground-waiting references are removed; if an owner waits for
  its dependents and this object has dependents, it is deleted in foreground
  (its references made non-blocking first when a dependent is itself in
  foreground deletion, to break cycles); otherwise it is deleted with the
  policy its own finalizers ask for (orphan, foreground, else background).
  Deletes carry a uid precondition.
- attemptToOrphan. An owner deleted with the `orphan` finalizer has its uid
  removed from every dependent's ownerReferences, then loses the finalizer.
- Failures are retried with the queue's per-item exponential backoff; a
  virtual (not yet observed) node is re-checked until an informer reports it.
Invalid references (a namespaced owner in another namespace) produce the
upstream Warning event OwnerRefInvalidNamespace on the dependent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pocketkube.client.events import WARNING, EventRecorder
from pocketkube.client.informer import Handlers, Informer, wait_for_cache_sync
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient
from pocketkube.client.workqueue import ShutDown, WorkQueue
from pocketkube.controllers.base import Controller, InformerFactory
from pocketkube.controllers.garbagecollector import graph as g
from pocketkube.controllers.garbagecollector.operations import (
    NamespacedOwnerOfClusterScopedObject,
    Operations,
)
from pocketkube.controllers.garbagecollector.restmapper import (
    DEFAULT_IGNORED,
    APIResource,
    RESTMapper,
    RestMappingError,
    discover,
)

log = logging.getLogger("pocketkube.controllers.garbagecollector")

Obj = dict[str, Any]
ORPHAN_CONCURRENCY = 50


@dataclass
class GarbageCollectorSettings:
    workers: int = 20  # --concurrent-gc-syncs
    discovery_period: float = 30.0
    sync_timeout: float = 30.0
    ignored: frozenset[tuple[str, str]] = DEFAULT_IGNORED


@dataclass
class Monitor:
    resource: APIResource
    informer: Informer
    handlers: Handlers


class GarbageCollector(Controller):
    name = "garbage-collector"

    def __init__(self, client: RESTClient, factory: InformerFactory,
                 settings: GarbageCollectorSettings | None = None, *, recorder: EventRecorder | None = None) -> None:
        super().__init__(client, factory)
        self.settings = settings or GarbageCollectorSettings()
        self.workers = self.settings.workers
        self.queue = WorkQueue(name="garbage_collector_attempt_to_delete")
        self.orphan_queue = WorkQueue(name="garbage_collector_attempt_to_orphan")
        self.graph = g.Graph(self)
        self.mapper = RESTMapper([])
        self.ops = Operations(client, lambda: self.mapper)
        self.monitors: dict[ResourceRef, Monitor] = {}
        self.recorder = recorder or EventRecorder(client, "garbage-collector-controller")
        self._runs_recorder = recorder is None

    # ------------------------------------------------------------------ graph sink
    def attempt_to_delete(self, uid: str) -> None:
        self.queue.add(uid)

    def attempt_to_orphan(self, uid: str) -> None:
        self.orphan_queue.add(uid)

    def invalid_namespace_owner_ref(self, dependent: g.Identity, owner: g.Identity) -> None:
        obj = {"apiVersion": dependent.api_version, "kind": dependent.kind,
               "metadata": {"name": dependent.name, "namespace": dependent.namespace, "uid": dependent.uid}}
        self.recorder.event(obj, WARNING, "OwnerRefInvalidNamespace",
                            f'ownerRef {owner} does not exist in namespace "{dependent.namespace}"')

    # ------------------------------------------------------------------ monitors
    async def sync_monitors(self) -> list[Informer]:
        """Discover the deletable resources and monitor them; returns the informers added."""
        self.mapper = await discover(self.client)
        wanted = {r.ref: r for r in self.mapper.deletable(self.settings.ignored)}
        added = []
        for ref, res in wanted.items():
            if ref not in self.monitors:
                self.monitors[ref] = self._monitor(res)
                added.append(self.monitors[ref].informer)
        for ref in [r for r in self.monitors if r not in wanted]:
            gone = self.monitors.pop(ref)
            gone.informer.remove_handlers(gone.handlers)
            log.info("garbage collector: stopped monitoring %s", ref.path())
        return added

    def _monitor(self, res: APIResource) -> Monitor:
        inf = self.factory.informers.get(res.ref) or self.factory.informer(res.ref, metadata_only=True)
        version, kind = res.ref.api_version, res.kind

        def observe(event: str, obj: Obj, old: Obj | None) -> None:
            self.graph.observe(event, version, kind, obj.get("metadata") or {},
                               (old.get("metadata") or {}) if old is not None else None)
        handlers = Handlers(on_add=lambda o: observe(g.ADD, o, None),
                            on_update=lambda old, new: observe(g.UPDATE, new, old),
                            on_delete=lambda o: observe(g.DELETE, o, None))
        inf.add_handlers(handlers)
        return Monitor(res, inf, handlers)

    def synced(self) -> bool:
        return all(m.informer.has_synced() for m in self.monitors.values())

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            if self._runs_recorder:
                tg.create_task(self.recorder.run(), name="garbage-collector-events")
            await self._first_sync()
            log.info("garbage collector: %d monitors synced, starting %d workers", len(self.monitors),
                     self.workers)
            for i in range(self.workers):
                tg.create_task(self._loop(self.process_next_delete), name=f"gc-attempt-to-delete-{i}")
                tg.create_task(self._loop(self.process_next_orphan), name=f"gc-attempt-to-orphan-{i}")
            tg.create_task(self._rediscover(), name="gc-resync")

    async def _first_sync(self) -> None:
        delay = 1.0
        while True:
            try:
                added = await self.sync_monitors()
                break
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("garbage collector: discovery failed, retrying in %.0fs: %s", delay, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        await self._wait_synced(added)

    async def _wait_synced(self, informers: list[Informer]) -> None:
        if not await wait_for_cache_sync(*informers, timeout=self.settings.sync_timeout):
            late = [i.ref.path() for i in informers if not i.has_synced()]
            log.warning("garbage collector: monitors not synced after %.0fs, going on: %s",
                        self.settings.sync_timeout, ", ".join(late))

    async def _rediscover(self) -> None:
        while True:
            await asyncio.sleep(self.settings.discovery_period)
            try:
                added = await self.sync_monitors()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("garbage collector: re-discovery failed: %s", e)
                continue
            if added:
                log.info("garbage collector: monitoring %d new resources", len(added))
                await self._wait_synced(added)

    def stop(self) -> None:
        self.queue.shutdown()
        self.orphan_queue.shutdown()

    @staticmethod
    async def _loop(step: Callable[[], Awaitable[bool]]) -> None:
        while await step():
            pass

    async def process_next_delete(self) -> bool:
        return await self._process(self.queue, self.attempt_to_delete_worker)

    async def process_next_orphan(self) -> bool:
        return await self._process(self.orphan_queue, self.attempt_to_orphan_worker)

    @staticmethod
    async def _process(queue: WorkQueue, work: Callable[[str], Awaitable[bool]]) -> bool:
        """One key of `queue`: `work` says whether to retry it (with backoff)."""
        try:
            uid = await queue.get()
        except ShutDown:
            return False
        try:
            retry = await work(uid)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # transport trouble and the like: retry with backoff
            log.warning("garbage collector: processing %s failed: %s: %s", uid, type(e).__name__, e)
            retry = True
        finally:
            queue.done(uid)
        if retry:
            queue.add_rate_limited(uid)
        else:
            queue.forget(uid)
        return True

    # ------------------------------------------------------------------ attemptToDelete
    async def attempt_to_delete_worker(self, uid: str) -> bool:
        node = self.graph.get(uid)
        if node is None:
            return False
        try:
            await self.attempt_to_delete_item(node)
        except NamespacedOwnerOfClusterScopedObject:
            log.info("garbage collector: %s is cluster-scoped but names a namespaced owner", node.identity)
            return False
        except RestMappingError as e:
            log.debug("garbage collector: %s: %s", node.identity, e)
            return True
        except ApiError as e:
            log.info("garbage collector: error syncing %s: %s", node.identity, e)
            return True
        current = self.graph.get(uid)
        return current is not None and current.virtual

    async def attempt_to_delete_item(self, node: g.Node) -> None:
        if node.being_deleted and not node.deleting_dependents:
            return  # deletion is one-way: wait for the object to go, then look at its dependents
        try:
            latest = (await self.ops.get(node.identity)).get("metadata") or {}
        except ApiError as e:
            if not e.not_found:
                raise
            self.graph.virtual_delete(node.identity)
            return
        if latest.get("uid") != node.identity.uid:
            self.graph.virtual_delete(node.identity)
            return
        if node.deleting_dependents:
            await self._process_deleting_dependents(node)
            return
        refs = g.owner_refs(latest)
        if refs:
            await self._collect(node, latest, refs)

    async def _collect(self, node: g.Node, latest: Obj, refs: tuple[g.OwnerRef, ...]) -> None:
        solid, dangling, waiting = await self._classify(node, refs)
        if solid:
            if dangling or waiting:
                log.debug("garbage collector: removing dangling/waiting references from %s", node.identity)
                await self.ops.delete_owner_refs(node, [r.uid for r in (*dangling, *waiting)])
            return
        if waiting and node.dependents:
            if any(dep.deleting_dependents for dep in self.graph.dependents(node)):
                await self.ops.unblock_owner_refs(node)
            log.debug("garbage collector: deleting %s in foreground (an owner waits for it)", node.identity)
            await self.ops.delete(node.identity, "Foreground")
            return
        if g.has_finalizer(latest, g.ORPHAN_FINALIZER):
            policy = "Orphan"
        elif g.has_finalizer(latest, g.FOREGROUND_FINALIZER):
            policy = "Foreground"
        else:
            policy = "Background"
        log.debug("garbage collector: deleting %s (propagationPolicy=%s)", node.identity, policy)
        await self.ops.delete(node.identity, policy)

    async def _classify(self, node: g.Node, refs: tuple[g.OwnerRef, ...]) -> tuple[
            list[g.OwnerRef], list[g.OwnerRef], list[g.OwnerRef]]:
        """(solid, dangling, waitingForDependentsDeletion) references, from live reads."""
        solid, dangling, waiting = [], [], []
        for ref in refs:
            owner = await self._live_owner(ref, node)
            if owner is None:
                dangling.append(ref)
            elif g.being_deleted(owner) and g.has_finalizer(owner, g.FOREGROUND_FINALIZER):
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    async def _live_owner(self, ref: g.OwnerRef, node: g.Node) -> Obj | None:
        """The owner's live metadata, or None when it is absent (isDangling)."""
        cluster_key, ns_key = ref.identity(""), ref.identity(node.identity.namespace)
        if cluster_key in self.graph.absent or ns_key in self.graph.absent:
            return None
        res = self.mapper.mapping(ref.api_version, ref.kind).ref
        if res.namespaced and not node.identity.namespace:
            raise NamespacedOwnerOfClusterScopedObject()
        key = ns_key if res.namespaced else cluster_key
        try:
            doc = await self.ops.get_at(res, ref.name, node.identity.namespace if res.namespaced else "")
        except ApiError as e:
            if not e.not_found:
                raise
            self.graph.absent.add(key)
            return None
        meta: Obj = doc.get("metadata") or {}
        if meta.get("uid") != ref.uid:
            self.graph.absent.add(key)
            return None
        return meta

    async def _process_deleting_dependents(self, node: g.Node) -> None:
        blocking = self.graph.blocking_dependents(node)
        if not blocking:
            log.debug("garbage collector: removing the foregroundDeletion finalizer of %s", node.identity)
            await self.ops.remove_finalizer(node.identity, g.FOREGROUND_FINALIZER)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.queue.add(dep.identity.uid)

    # ------------------------------------------------------------------ attemptToOrphan
    async def attempt_to_orphan_worker(self, uid: str) -> bool:
        owner = self.graph.get(uid)
        if owner is None:
            return False
        gate = asyncio.Semaphore(ORPHAN_CONCURRENCY)

        async def orphan(dep: g.Node) -> None:
            async with gate:
                try:
                    await self.ops.delete_owner_refs(dep, [uid])
                except ApiError as e:
                    if not e.not_found:
                        raise
        results = await asyncio.gather(*(orphan(d) for d in self.graph.dependents(owner)), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        for err in failed:
            if isinstance(err, asyncio.CancelledError):
                raise err
        if failed:
            log.warning("garbage collector: orphaning dependents of %s failed: %s", owner.identity, failed[0])
            return True
        try:
            await self.ops.remove_finalizer(owner.identity, g.ORPHAN_FINALIZER)
        except (ApiError, RestMappingError) as e:
            log.warning("garbage collector: removing the orphan finalizer of %s failed: %s", owner.identity, e)
            return True
        return False
