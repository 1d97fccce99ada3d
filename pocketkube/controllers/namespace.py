"""Namespace controller: empties a terminating namespace, then finalizes it.

Theory of operation (upstream NamespacedResourcesDeleter): for a namespace with
a deletionTimestamp and the `kubernetes` finalizer, discover every namespaced
resource that can be listed and deleted, delete its objects in that namespace
(deletecollection where served), and count what remains. While content remains
(objects held by finalizers or graceful deletion) the namespace's status
conditions say so and the key is re-queued; once empty, the `kubernetes`
finalizer is removed through /finalize and the apiserver deletes the namespace.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from pocketkube.client.informer import Handlers
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient
from pocketkube.controllers import refs
from pocketkube.controllers.base import Controller, InformerFactory

log = logging.getLogger("pocketkube.controllers.namespace")

FINALIZER = "kubernetes"
DISCOVERY_TTL = 30.0


class NamespaceController(Controller):
    name = "namespace"
    workers = 4

    def __init__(self, client: RESTClient, factory: InformerFactory) -> None:
        super().__init__(client, factory)
        self.namespaces = self.watch(refs.NAMESPACES)
        self.namespaces.add_handlers(Handlers(on_add=self._enqueue, on_update=lambda old, new: self._enqueue(new)))
        self._resources: list[tuple[ResourceRef, bool]] = []
        self._discovered_at = 0.0

    def _enqueue(self, ns: dict[str, Any]) -> None:
        if ns["metadata"].get("deletionTimestamp"):
            self.queue.add(ns["metadata"]["name"])

    async def deletable_resources(self) -> list[tuple[ResourceRef, bool]]:
        """(resource, supports deletecollection) for every namespaced, deletable resource."""
        if self._resources and time.monotonic() - self._discovered_at < DISCOVERY_TTL:
            return self._resources
        found: list[tuple[ResourceRef, bool]] = []
        seen: set[tuple[str, str]] = set()
        gvs = [("", "v1")]
        groups = await self.client.request("GET", "/apis")
        for g in groups.get("groups") or []:
            gvs.append((g["name"], g["preferredVersion"]["version"]))
        for group, version in gvs:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            doc = await self.client.request("GET", path)
            for r in doc.get("resources") or []:
                verbs = set(r.get("verbs") or [])
                if "/" in r["name"] or not r.get("namespaced") or not {"list", "delete"} <= verbs:
                    continue
                if (r["kind"], r["name"]) in seen and group == "events.k8s.io":
                    continue
                seen.add((r["kind"], r["name"]))
                found.append((ResourceRef(group, version, r["name"]), "deletecollection" in verbs))
        self._resources, self._discovered_at = found, time.monotonic()
        return found

    async def sync(self, key: str) -> float | None:
        ns = self.namespaces.get(key)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return None
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return None
        remaining: dict[str, int] = {}
        for ref, collection in await self.deletable_resources():
            left = await self._empty(ref, collection, key)
            if left:
                remaining[ref.plural if not ref.group else f"{ref.plural}.{ref.group}"] = left
        if remaining:
            await self._report(ns, remaining)
            return 1.0
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": key},
                "spec": {"finalizers": [f for f in ns["spec"]["finalizers"] if f != FINALIZER]}}
        try:
            await self.client.request("PUT", f"/api/v1/namespaces/{key}/finalize", body=body)
        except ApiError as e:
            if e.code != 404:
                raise
        return None

    async def _empty(self, ref: ResourceRef, collection: bool, namespace: str) -> int:
        opts = {"propagationPolicy": "Background"}
        try:
            if collection:
                await self.client.request("DELETE", ref.path(namespace), body=opts)
            else:
                for item in (await self.client.list(ref, namespace)).get("items") or []:
                    try:
                        await self.client.delete(ref, item["metadata"]["name"], namespace, opts)
                    except ApiError as e:
                        if e.code != 404:
                            raise
            left = await self.client.list(ref, namespace)
        except ApiError as e:
            if e.code in (404, 405):
                return 0
            raise
        return len(left.get("items") or [])

    async def _report(self, ns: dict[str, Any], remaining: dict[str, int]) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        summary = ", ".join(f"{k} has {v} resource instances" for k, v in sorted(remaining.items()))
        conditions = [{"type": "NamespaceContentRemaining", "status": "True", "lastTransitionTime": now,
                       "reason": "SomeResourcesRemain", "message": f"Some resources are remaining: {summary}"}]
        status = {"phase": "Terminating", "conditions": conditions}
        if (ns.get("status") or {}).get("conditions") == conditions:
            return
        try:
            await self.client.patch(refs.NAMESPACES, ns["metadata"]["name"], {"status": status},
                                    subresource="status")
        except ApiError as e:
            log.debug("namespace status update failed: %s", e)
