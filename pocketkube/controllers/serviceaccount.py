"""ServiceAccounts controller: every active namespace has a `default` service account."""

from __future__ import annotations

from typing import Any

from pocketkube.client.informer import Handlers
from pocketkube.client.rest import ApiError, RESTClient
from pocketkube.controllers import refs
from pocketkube.controllers.base import Controller, InformerFactory

DEFAULT = "default"


class ServiceAccountController(Controller):
    name = "serviceaccount"

    def __init__(self, client: RESTClient, factory: InformerFactory) -> None:
        super().__init__(client, factory)
        self.namespaces = self.watch(refs.NAMESPACES)
        self.accounts = self.watch(refs.SERVICEACCOUNTS)
        self.namespaces.add_handlers(Handlers(on_add=self._ns, on_update=lambda old, new: self._ns(new)))
        self.accounts.add_handlers(Handlers(on_delete=self._sa_deleted))

    def _ns(self, ns: dict[str, Any]) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _sa_deleted(self, sa: dict[str, Any]) -> None:
        if sa["metadata"]["name"] == DEFAULT:
            self.queue.add(sa["metadata"]["namespace"])

    async def sync(self, key: str) -> float | None:
        ns = self.namespaces.get(key)
        if ns is None or ns.get("status", {}).get("phase") == "Terminating" or \
                ns["metadata"].get("deletionTimestamp"):
            return None
        if self.accounts.get(f"{key}/{DEFAULT}") is not None:
            return None
        try:
            await self.client.create(refs.SERVICEACCOUNTS, {
                "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DEFAULT, "namespace": key}},
                namespace=key, field_manager="kube-controller-manager")
        except ApiError as e:
            if e.code not in (409, 403, 404):  # exists, or the namespace is going away
                raise
        return None
