"""One streaming server for every pod the agent hosts: route each request to its pod's backend.

Theory of operation: a node agent may host the real node (CRI streaming over containerd), any
number of simulated nodes (the simulated backend) and the control plane's mirror pods (served
from the components' logs). `RoutingStreaming` implements `StreamingBackend` by asking
`route(namespace, pod)` for the backend of that pod (the agent decides from its informer: a
mirror pod, the real node's pod, or anything else) and delegating the call unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from pocketkube.kubelet.streaming_backend import (
    ExecSession,
    LogTarget,
    Obj,
    PortConnection,
    StreamingBackend,
    StreamOptions,
)

Route = Callable[[str, str], StreamingBackend]


class RoutingStreaming:
    def __init__(self, route: Route) -> None:
        self.route = route

    async def pod_status(self, namespace: str, pod: str) -> Obj | None:
        return await self.route(namespace, pod).pod_status(namespace, pod)

    async def log_path(self, namespace: str, pod: str, container: str, previous: bool) -> LogTarget:
        return await self.route(namespace, pod).log_path(namespace, pod, container, previous)

    async def exec(self, namespace: str, pod: str, container: str, command: list[str],
                   opts: StreamOptions) -> ExecSession:
        return await self.route(namespace, pod).exec(namespace, pod, container, command, opts)

    async def attach(self, namespace: str, pod: str, container: str, opts: StreamOptions) -> ExecSession:
        return await self.route(namespace, pod).attach(namespace, pod, container, opts)

    async def port_forward(self, namespace: str, pod: str, port: int) -> PortConnection:
        return await self.route(namespace, pod).port_forward(namespace, pod, port)
