"""The garbage collector's API calls: read metadata, delete with a uid precondition, patch references.

Theory of operation (upstream operations.go and patch.go): every write names
the object's uid, so the collector never touches a newer object that reuses
the name. Reads ask for PartialObjectMetadata (the collector only needs
metadata). Owner references are removed or unblocked with a strategic merge
patch (`$patch: delete` by uid), which needs no read; resources without
strategic merge support (custom resources answer 415) get a JSON merge patch
built from a fresh read and guarded by its resourceVersion. Finalizers are
removed with a merge patch carrying the resourceVersion, re-read and retried
on conflict (client-go's retry.DefaultBackoff: 4 tries, 10 ms x5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pocketkube.client import rest
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient
from pocketkube.controllers.garbagecollector.graph import Identity, Node
from pocketkube.controllers.garbagecollector.restmapper import RESTMapper

Obj = dict[str, Any]
CONFLICT_RETRIES = 4
CONFLICT_DELAY = 0.01


class NamespacedOwnerOfClusterScopedObject(Exception):
    """A cluster-scoped object names a namespaced owner: retrying cannot help."""

    def __init__(self) -> None:
        super().__init__("cluster-scoped objects cannot refer to namespaced owners")


class Operations:
    def __init__(self, client: RESTClient, mapper: Callable[[], RESTMapper]) -> None:
        self.client = client
        self.mapper = mapper

    def resource(self, api_version: str, kind: str) -> ResourceRef:
        return self.mapper().mapping(api_version, kind).ref

    def _where(self, identity: Identity) -> tuple[ResourceRef, str]:
        ref = self.resource(identity.api_version, identity.kind)
        if ref.namespaced and not identity.namespace:
            raise NamespacedOwnerOfClusterScopedObject()
        return ref, identity.namespace if ref.namespaced else ""

    async def get(self, identity: Identity) -> Obj:
        """The object's metadata document (ApiError 404 when absent)."""
        ref, ns = self._where(identity)
        return await self.get_at(ref, identity.name, ns)

    async def get_at(self, ref: ResourceRef, name: str, namespace: str) -> Obj:
        found: Obj = await self.client.request("GET", ref.path(namespace, name),
                                               accept=rest.PARTIAL_OBJECT_METADATA)
        return found

    async def delete(self, identity: Identity, policy: str) -> None:
        ref, ns = self._where(identity)
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": identity.uid},
                   "propagationPolicy": policy}
        await self.client.delete(ref, identity.name, ns, options)

    async def _patch(self, identity: Identity, body: Any, patch_type: str) -> Obj:
        ref, ns = self._where(identity)
        return await self.client.patch(ref, identity.name, body, ns, patch_type=patch_type)

    async def delete_owner_refs(self, node: Node, owner_uids: list[str]) -> None:
        """Remove the references to `owner_uids` from `node` (no error if they are already gone)."""
        smp = {"metadata": {"uid": node.identity.uid,
                            "ownerReferences": [{"$patch": "delete", "uid": u} for u in owner_uids]}}

        def keep(refs: list[Obj]) -> list[Obj]:
            return [r for r in refs if r.get("uid") not in owner_uids]
        await self._patch_refs(node, smp, keep)

    async def unblock_owner_refs(self, node: Node) -> None:
        """Set blockOwnerDeletion=false on every blocking reference of `node`."""
        blocking = [o.to_json(blockOwnerDeletion=False) for o in node.owners if o.blocking]
        smp = {"metadata": {"uid": node.identity.uid, "ownerReferences": blocking}}

        def unblock(refs: list[Obj]) -> list[Obj]:
            return [{**r, "blockOwnerDeletion": False} if r.get("blockOwnerDeletion") else r for r in refs]
        await self._patch_refs(node, smp, unblock)

    async def _patch_refs(self, node: Node, smp: Obj, change: Callable[[list[Obj]], list[Obj]]) -> None:
        try:
            await self._patch(node.identity, smp, rest.STRATEGIC_MERGE_PATCH)
            return
        except ApiError as e:
            if e.code != 415:
                raise
        meta = (await self.get(node.identity)).get("metadata") or {}
        refs = change(list(meta.get("ownerReferences") or []))
        body = {"metadata": {"resourceVersion": meta.get("resourceVersion", ""), "ownerReferences": refs or None}}
        await self._patch(node.identity, body, rest.MERGE_PATCH)

    async def remove_finalizer(self, identity: Identity, finalizer: str) -> None:
        """Drop `finalizer` from the live object (gone or already without it: nothing to do)."""
        delay = CONFLICT_DELAY
        for attempt in range(CONFLICT_RETRIES):
            try:
                meta = (await self.get(identity)).get("metadata") or {}
            except ApiError as e:
                if e.not_found:
                    return
                raise
            finalizers = list(meta.get("finalizers") or [])
            if finalizer not in finalizers:
                return
            rest_ = [f for f in finalizers if f != finalizer]
            body = {"metadata": {"resourceVersion": meta.get("resourceVersion", ""), "finalizers": rest_ or None}}
            try:
                await self._patch(identity, body, rest.MERGE_PATCH)
                return
            except ApiError as e:
                if not e.conflict or attempt == CONFLICT_RETRIES - 1:
                    raise
            await asyncio.sleep(delay)
            delay *= 5
