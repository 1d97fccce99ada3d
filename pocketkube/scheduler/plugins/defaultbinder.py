"""DefaultBinder: binds through the API server's pods/NAME/binding subresource.

The API server sets spec.nodeName and PodScheduled=True atomically and answers
409 Conflict when the pod is already bound or being deleted; such failures
come back as an Error status, and the scheduler forgets the assumption.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.handle import Handle
from pocketkube.scheduler.podinfo import PodInfo

NAME = "DefaultBinder"


def binding_body(pod: PodInfo, node_name: str) -> dict[str, Any]:
    """The v1 Binding object the binder posts (upstream shape)."""
    return {"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
            "target": {"kind": "Node", "name": node_name}}


class DefaultBinder:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle

    async def bind(self, state: fw.CycleState, pod: PodInfo, node_name: str) -> fw.Status | None:
        try:
            await self.handle.api.bind(pod.pod, node_name)
        except Exception as e:
            return fw.Status(fw.Code.ERROR, (getattr(e, "message", "") or str(e),), NAME, e)
        return None
