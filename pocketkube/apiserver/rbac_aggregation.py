"""ClusterRole aggregation: keep each aggregated ClusterRole's stored rules equal to the union it selects.

Theory of operation (upstream's clusterrole-aggregation controller, run here
inside the apiserver because it only reads the watch cache and writes through
the store): the task watches the ClusterRole cache; after every batch of
changes it recomputes, for each ClusterRole with an aggregationRule, the union
of the rules of the ClusterRoles its selectors match (rbac.aggregated_rules:
by name order, duplicates dropped, nested aggregations followed) and writes it
when the stored rules differ. Its own writes come back as changes and settle
at once (nothing differs any more). Authorization never waits for this: the
authorizer computes the same union on the fly, so this only makes `kubectl get
clusterrole admin -o yaml` show what the role grants.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.rbac import CLUSTER_ROLES, GROUP, CacheSource, aggregated_rules
from pocketkube.apiserver.watchcache import Entry, ResourceCache, Watcher
from pocketkube.machinery import errors

if TYPE_CHECKING:
    from pocketkube.apiserver.server import APIServer

Obj = dict[str, Any]
log = logging.getLogger("pocketkube.apiserver.rbac_aggregation")
MANAGER = "clusterrole-aggregation-controller"


def pending(source: CacheSource) -> list[tuple[str, list[dict[str, Any]]]]:
    """(name, rules) of every aggregated ClusterRole whose stored rules are not its union."""
    out = []
    for role in source.cluster_roles():
        if role.get("aggregationRule"):
            want = aggregated_rules(source, role)
            if (role.get("rules") or []) != want:
                out.append((role["metadata"]["name"], want))
    return out


async def reconcile(server: APIServer) -> None:
    resource = server.scheme.get(GROUP, "v1", "clusterroles")
    assert resource is not None
    store = server.store_for(resource)
    source = CacheSource(server.cache)
    for name, _ in pending(source):
        ctx = RequestContext(field_manager=MANAGER, trusted=True)

        async def transform(current: Entry | None, name: str = name) -> Obj:
            assert current is not None
            obj = current.copy()
            if obj.get("aggregationRule"):
                obj["rules"] = aggregated_rules(source, obj)
            return obj

        try:
            await store.guaranteed_update("", name, transform, ctx)
        except errors.StatusError as e:
            if e.code != 404:
                log.warning("aggregating clusterrole %s failed: %s", name, e)


def _everything(cache: ResourceCache) -> list[Entry]:
    return list(cache.entries.values())


async def _follow(server: APIServer, watcher: Watcher) -> None:
    """Reconcile after each batch of changes; return when the watch is closed (relist)."""
    while await watcher.queue.get() is not None:
        open_ = True
        while open_ and not watcher.queue.empty():
            open_ = watcher.queue.get_nowait() is not None
        await reconcile(server)
        if not open_:
            return


async def run(server: APIServer) -> None:
    """Reconcile now and after every change to a ClusterRole, until cancelled."""
    cache = server.cache
    while True:
        watcher, _ = cache.start_watch(CLUSTER_ROLES, lambda e: True, None, _everything)
        try:
            await reconcile(server)
            await _follow(server, watcher)
        except Exception:
            log.exception("clusterrole aggregation failed; restarting")
            await asyncio.sleep(1.0)
        finally:
            cache.stop_watch(CLUSTER_ROLES, watcher)
