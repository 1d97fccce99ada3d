"""Root CA publisher: every namespace gets the `kube-root-ca.crt` ConfigMap (upstream's
root-ca-cert-publisher), which service-account token volumes project as ca.crt."""

from __future__ import annotations

from typing import Any

from pocketkube.client.informer import Handlers
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient
from pocketkube.controllers import refs
from pocketkube.controllers.base import Controller, InformerFactory

CONFIGMAPS = ResourceRef("", "v1", "configmaps")
NAME = "kube-root-ca.crt"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
               "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
               "guaranteed across distributions of Kubernetes clusters.")


class RootCACertPublisher(Controller):
    name = "root-ca-cert-publisher"

    def __init__(self, client: RESTClient, factory: InformerFactory, ca_pem: str) -> None:
        super().__init__(client, factory)
        self.ca_pem = ca_pem
        self.namespaces = self.watch(refs.NAMESPACES)
        self.configmaps = self.watch(CONFIGMAPS)
        self.namespaces.add_handlers(Handlers(on_add=self._ns, on_update=lambda old, new: self._ns(new)))
        self.configmaps.add_handlers(Handlers(on_update=lambda old, new: self._cm(new), on_delete=self._cm))

    def _ns(self, ns: dict[str, Any]) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _cm(self, cm: dict[str, Any]) -> None:
        if cm["metadata"]["name"] == NAME:
            self.queue.add(cm["metadata"]["namespace"])

    async def sync(self, key: str) -> float | None:
        ns = self.namespaces.get(key)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return None
        cm = self.configmaps.get(f"{key}/{NAME}")
        want = {"ca.crt": self.ca_pem}
        try:
            if cm is None:
                await self.client.create(CONFIGMAPS, {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": NAME, "namespace": key, "annotations": {"kubernetes.io/description":
                                                                                 DESCRIPTION}},
                    "data": want}, namespace=key, field_manager="kube-controller-manager")
            elif cm.get("data") != want:
                await self.client.patch(CONFIGMAPS, NAME, {"data": want}, key)
        except ApiError as e:
            if e.code not in (409, 403, 404):
                raise
        return None
