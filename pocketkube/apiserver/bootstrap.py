"""Objects every cluster has from its first start (upstream's bootstrap controllers).

Theory of operation: after the watch cache is ready, the apiserver makes sure the
system namespaces exist and that the `kubernetes` service in `default` (ClusterIP
10.96.0.1, 443/TCP) points at this apiserver through its Endpoints and
EndpointSlice. Each object is created only if absent and the endpoints are
reconciled to the current address, so restarts are idempotent.
"""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any

from pocketkube.apiserver import bootstrap_policy
from pocketkube.apiserver.context import RequestContext
from pocketkube.machinery import errors

if TYPE_CHECKING:
    from pocketkube.apiserver.server import APIServer

log = logging.getLogger("pocketkube.apiserver.bootstrap")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
KUBERNETES_SERVICE_IP = "10.96.0.1"
MANAGER = "kube-apiserver"


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}}


def _service() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "kubernetes", "namespace": "default",
        "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": KUBERNETES_SERVICE_IP, "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}}


def _endpoints(ip: str, port: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {
        "name": "kubernetes", "namespace": "default",
        "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]}


def _endpoint_slice(ip: str, port: int) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {
        "name": "kubernetes", "namespace": "default",
        "labels": {"kubernetes.io/service-name": "kubernetes",
                   "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}


async def _ensure(server: APIServer, group: str, plural: str, obj: dict[str, Any], *,
                  reconcile: bool = False) -> None:
    resource = server.scheme.get(group, "v1", plural)
    assert resource is not None
    store = server.store_for(resource)
    obj = copy.deepcopy(obj)  # the store fills in metadata; module-level templates must stay pristine
    ns = obj["metadata"].get("namespace", "")
    ctx = RequestContext(field_manager=MANAGER, field_validation="Strict", trusted=True)
    try:
        existing = await store.get(ns, obj["metadata"]["name"])
    except errors.StatusError as e:
        if e.code != 404:
            raise
        await store.create(ns, obj, ctx)
        return
    if reconcile:
        body = existing.copy()
        for key in ("subsets", "endpoints", "ports", "addressType"):
            if key in obj:
                body[key] = obj[key]
        await store.update(ns, obj["metadata"]["name"], body, ctx)


def _priority_class(name: str, value: int, description: str) -> dict[str, Any]:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value, "description": description, "preemptionPolicy": "PreemptLowerPriority"}


SYSTEM_PRIORITY_CLASSES = (
    _priority_class("system-node-critical", 2000001000,
                    "Used for system critical pods that must not be moved from their current node."),
    _priority_class("system-cluster-critical", 2000000000,
                    "Used for system critical pods that must run in the cluster, but can be moved to another "
                    "node if necessary."),
)


async def run(server: APIServer, address: str, port: int) -> None:
    for name in SYSTEM_NAMESPACES:
        await _ensure(server, "", "namespaces", _namespace(name))
    for pc in SYSTEM_PRIORITY_CLASSES:
        await _ensure(server, "scheduling.k8s.io", "priorityclasses", pc)
    await _ensure(server, "", "services", _service())
    await _ensure(server, "", "endpoints", _endpoints(address, port), reconcile=True)
    await _ensure(server, "discovery.k8s.io", "endpointslices", _endpoint_slice(address, port), reconcile=True)
    await bootstrap_policy.run(server)  # default RBAC roles and bindings (needs kube-system to exist)
    log.info("bootstrap objects in place")
