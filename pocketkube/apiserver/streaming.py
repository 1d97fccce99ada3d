"""Streaming subresources (log, exec, attach, portforward, proxy): proxied to the node agent.

Theory of operation: these requests are answered by the kubelet of the pod's
node; the apiserver only checks that the pod exists and is assigned, then
proxies. Until a node agent serves them, a pod without a node gets upstream's
400 and an assigned pod a 503 naming the missing node agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from pocketkube.api.scheme import Resource
from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.requestinfo import RequestInfo
from pocketkube.machinery import errors

if TYPE_CHECKING:
    from pocketkube.apiserver.server import APIServer


class Streaming:
    def __init__(self, server: APIServer) -> None:
        self.server = server

    async def handle(self, request: web.Request, info: RequestInfo, resource: Resource, query: dict[str, str],
                     ctx: RequestContext) -> web.StreamResponse:
        store = self.server.store_for(resource)
        entry = await store.get(info.namespace if resource.namespaced else "", info.name)
        if resource.plural == "pods":
            node = (entry.obj.get("spec") or {}).get("nodeName")
            if not node:
                raise errors.bad_request(f"pod {info.name} does not have a host assigned")
            raise errors.StatusError(503, "ServiceUnavailable",
                                     f'no node agent is serving node "{node}" for {info.subresource}')
        raise errors.StatusError(503, "ServiceUnavailable",
                                 f"{resource.plural}/{info.subresource} is not available yet")
