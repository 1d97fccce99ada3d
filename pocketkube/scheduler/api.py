"""The scheduler's writes to the cluster over the REST client (handle.SchedulerAPI).

Theory of operation: binding posts a v1 Binding to pods/NAME/binding (the API
server sets spec.nodeName and PodScheduled=True, 409 if already bound);
status changes (PodScheduled=False, nominatedNodeName, DisruptionTarget) are
strategic merge patches of pods/NAME/status, so a condition is merged by type
and other writers' conditions are left alone; victims are deleted with their
uid as a precondition (never a newer pod of the same name); events go through
the client's EventRecorder (asynchronous, aggregated, best effort).
`RecordingAPI` is the in-memory variant the unit tests and the benchmark use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pocketkube.client import rest
from pocketkube.client.events import EventRecorder
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient
from pocketkube.scheduler.plugins.defaultbinder import binding_body
from pocketkube.scheduler.podinfo import PodInfo

PODS = ResourceRef("", "v1", "pods")
Obj = dict[str, Any]


def _meta(pod: Obj) -> Obj:
    meta: Obj = pod.get("metadata") or {}
    return meta


class RestSchedulerAPI:
    def __init__(self, client: RESTClient, recorder: EventRecorder) -> None:
        self.client = client
        self.recorder = recorder

    async def bind(self, pod: Obj, node_name: str) -> None:
        meta = _meta(pod)
        await self.client.create(PODS, binding_body(PodInfo.of(pod), node_name), meta.get("namespace", ""),
                                 name=meta.get("name", ""), subresource="binding")

    async def patch_pod_status(self, pod: Obj, patch: Obj) -> None:
        meta = _meta(pod)
        await self.client.patch(PODS, meta.get("name", ""), patch, meta.get("namespace", ""),
                                patch_type=rest.STRATEGIC_MERGE_PATCH, subresource="status")

    async def delete_pod(self, pod: Obj) -> None:
        meta = _meta(pod)
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": meta.get("uid")}}
        try:
            await self.client.delete(PODS, meta.get("name", ""), meta.get("namespace", ""), options)
        except ApiError as e:
            if e.code != 404:
                raise

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.recorder.event(obj, type_, reason, message)


@dataclass
class RecordingAPI:
    """An in-memory SchedulerAPI: records every call; `fail_bind` makes binds raise."""

    bindings: list[tuple[str, str]] = field(default_factory=list)
    status_patches: list[tuple[str, Obj]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    events: list[tuple[str, str, str, str]] = field(default_factory=list)
    fail_bind: dict[str, Exception] = field(default_factory=dict)

    async def bind(self, pod: Obj, node_name: str) -> None:
        key = f"{_meta(pod).get('namespace', '')}/{_meta(pod).get('name', '')}"
        err = self.fail_bind.get(key)
        if err is not None:
            raise err
        self.bindings.append((key, node_name))

    async def patch_pod_status(self, pod: Obj, patch: Obj) -> None:
        self.status_patches.append((f"{_meta(pod).get('namespace', '')}/{_meta(pod).get('name', '')}", patch))

    async def delete_pod(self, pod: Obj) -> None:
        self.deleted.append(f"{_meta(pod).get('namespace', '')}/{_meta(pod).get('name', '')}")

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append((f"{_meta(obj).get('namespace', '')}/{_meta(obj).get('name', '')}", type_, reason,
                            message))
