"""A fake API for controller unit tests (client-go's fake clientset): RESTClient's verbs in memory.

Theory of operation: `FakeClient` is a `RESTClient` whose verbs never touch the
network. Each call is first recorded as an `Action` (verb, resource,
namespace, name, subresource, body, patch type), then offered to the reactors
(`prepend_reactor`; a reactor may answer, raise an ApiError, or pass), and
finally served by the `ObjectTracker` (fakestore), which keeps objects,
resourceVersions and watch streams. Informers run against it unchanged, so a
controller test seeds objects (`add`), runs or syncs the controller and
asserts on `actions` / `mutations()`, or on the resulting objects.

Patches: merge patch, JSON patch and strategic merge patch (guided by the
v1.32 schema for built-in kinds, as the apiserver does) are applied with
pocketkube.machinery; apply patches (server-side apply) are approximated by a
merge patch. `request()` understands resource paths (routed to the verbs,
including subresources: status, finalize, pods/binding and the bindings
collection) and answers discovery (/api, /apis, /api/v1, /apis/g/v) from the
scheme. Watches end at timeoutSeconds (loop time), on `end_watches()`, or with
410 after `compact()` or `expire_watches()`.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pocketkube.api.schema import get_schema
from pocketkube.api.scheme import SCHEME
from pocketkube.client import fakeroutes, rest
from pocketkube.client.clock import WallClock, rfc3339, wall
from pocketkube.client.fakestore import ObjectTracker, Predicate, api_error
from pocketkube.client.rest import ApiError, ClientConfig, ResourceRef, RESTClient
from pocketkube.machinery import errors, jsonpatch, mergepatch, strategicpatch

Obj = dict[str, Any]
READ_VERBS = ("get", "list", "watch")


@dataclass(frozen=True)
class Action:
    verb: str
    resource: ResourceRef
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    body: Any = None
    patch_type: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def resource_name(self) -> str:
        """"pods" or "pods/status"."""
        return f"{self.resource.plural}/{self.subresource}" if self.subresource else self.resource.plural

    def matches(self, verb: str, resource: str) -> bool:
        """verb and resource ("pods", "pods/status" or "*") match this action."""
        return (verb in ("*", self.verb)) and resource in ("*", self.resource.plural, self.resource_name)


Reactor = Callable[[Action], tuple[bool, Any]]


class FakeClient(RESTClient):
    def __init__(self, *, now: WallClock = wall) -> None:
        super().__init__(ClientConfig(server="fake://"))
        self.tracker = ObjectTracker(now)
        self.actions: builtins.list[Action] = []
        self.reactors: builtins.list[tuple[str, str, Reactor]] = []

    # ------------------------------------------------------------------ test helpers
    def add(self, ref: ResourceRef, obj: Obj) -> Obj:
        """Seed an object (not recorded as an action)."""
        return self.tracker.put(ref, obj)

    def object(self, ref: ResourceRef, name: str, namespace: str = "") -> Obj | None:
        try:
            return self.tracker.get(ref, namespace, name)
        except ApiError:
            return None

    def objects(self, ref: ResourceRef, namespace: str = "") -> builtins.list[Obj]:
        return self.tracker.list(ref, Predicate(namespace))[0]

    def clear_actions(self) -> None:
        self.actions.clear()

    def mutations(self) -> builtins.list[Action]:
        """Recorded actions other than get/list/watch (what a controller test usually asserts on)."""
        return [a for a in self.actions if a.verb not in READ_VERBS]

    def prepend_reactor(self, verb: str, resource: str, reactor: Reactor) -> None:
        """Answer matching calls first: reactor(action) -> (handled, result) or raise ApiError."""
        self.reactors.insert(0, (verb, resource, reactor))

    def end_watches(self) -> None:
        self.tracker.end_watches()

    def expire_watches(self) -> None:
        """End every open watch with 410 Expired (the informer must relist)."""
        self.tracker.compact()
        self.tracker.end_watches(lambda: api_error(errors.expired("too old resource version")))

    def compact(self) -> None:
        self.tracker.compact()

    async def close(self) -> None:
        return None

    # ------------------------------------------------------------------ plumbing
    def _act(self, action: Action) -> tuple[bool, Any]:
        if action.body is not None:  # record what was sent, not what the caller changes later
            action = dataclasses.replace(action, body=orjson.loads(orjson.dumps(action.body)))
        self.actions.append(action)
        for verb, resource, reactor in self.reactors:
            if action.matches(verb, resource):
                handled, result = reactor(action)
                if handled:
                    return True, result
        return False, None

    # ------------------------------------------------------------------ verbs
    async def get(self, ref: ResourceRef, name: str, namespace: str = "") -> dict[str, Any]:
        handled, result = self._act(Action("get", ref, namespace, name))
        if handled:
            return dict(result)
        return self.tracker.get(ref, namespace, name)

    async def list(self, ref: ResourceRef, namespace: str = "", *, accept: str = "",
                   **params: str) -> dict[str, Any]:
        handled, result = self._act(Action("list", ref, namespace, params=dict(params)))
        if handled:
            return dict(result)
        pred = Predicate(namespace if ref.namespaced else "", params.get("labelSelector", ""),
                         params.get("fieldSelector", ""))
        items, rv = self.tracker.list(ref, pred)
        res = SCHEME.get(ref.group, ref.version, ref.plural)
        kind = res.kind if res else ""
        if "as=PartialObjectMetadata" in accept:
            return {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                    "metadata": {"resourceVersion": rv}, "items": [_partial(o) for o in items]}
        return {"kind": f"{kind}List", "apiVersion": ref.api_version, "metadata": {"resourceVersion": rv},
                "items": items}

    async def create(self, ref: ResourceRef, obj: dict[str, Any], namespace: str = "",
                     field_manager: str = "", *, name: str = "", subresource: str = "") -> dict[str, Any]:
        namespace = namespace or (obj.get("metadata") or {}).get("namespace", "")
        handled, result = self._act(Action("create", ref, namespace, name or (obj.get("metadata") or {}).get(
            "name", ""), subresource, obj))
        if handled:
            return dict(result)
        if subresource == "binding" or (ref.group, ref.plural) == ("", "bindings"):
            return self._bind(namespace, name or obj["metadata"]["name"], obj)
        if subresource:
            raise api_error(errors.method_not_supported(f"{ref.plural}/{subresource}", ref.group, "create"))
        return self.tracker.create(ref, namespace, obj)

    def _bind(self, namespace: str, name: str, binding: Obj) -> Obj:
        """pods/binding: set spec.nodeName and the PodScheduled condition in one write (as the apiserver)."""
        pods = ResourceRef("", "v1", "pods")
        pod = self.tracker.get(pods, namespace, name)
        if (pod.get("spec") or {}).get("nodeName"):
            raise api_error(errors.conflict("pods/binding", "", name,
                                            f'pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"'))
        pod.setdefault("spec", {})["nodeName"] = (binding.get("target") or {}).get("name", "")
        status = pod.setdefault("status", {})
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        status["conditions"] = [*conds, {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                         "lastTransitionTime": rfc3339(self.tracker.now())}]
        self.tracker.update(pods, pod, raw=True)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    async def update(self, ref: ResourceRef, obj: dict[str, Any], subresource: str = "") -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        handled, result = self._act(Action("update", ref, meta.get("namespace", ""), meta.get("name", ""),
                                           subresource, obj))
        if handled:
            return dict(result)
        return self.tracker.update(ref, obj, subresource)

    async def patch(self, ref: ResourceRef, name: str, patch: Any, namespace: str = "", *,
                    patch_type: str = rest.MERGE_PATCH, subresource: str = "") -> dict[str, Any]:
        handled, result = self._act(Action("patch", ref, namespace, name, subresource, patch, patch_type))
        if handled:
            return dict(result)
        current = self.tracker.get(ref, namespace, name)
        patched = self._apply_patch(ref, current, patch, patch_type)
        patched.setdefault("metadata", {}).setdefault("resourceVersion", current["metadata"]["resourceVersion"])
        patched["metadata"].update({"name": name, "namespace": current["metadata"].get("namespace", "")})
        if not ref.namespaced:
            patched["metadata"].pop("namespace", None)
        return self.tracker.update(ref, patched, subresource)

    def _apply_patch(self, ref: ResourceRef, current: Obj, patch: Any, patch_type: str) -> Obj:
        try:
            if patch_type == rest.JSON_PATCH:
                result: Obj = jsonpatch.apply_json_patch(current, patch)
            elif patch_type == rest.STRATEGIC_MERGE_PATCH:
                result = strategicpatch.apply_strategic_merge_patch(current, patch, _schema_node(ref, current))
            elif patch_type in (rest.MERGE_PATCH, rest.APPLY_PATCH):
                result = mergepatch.apply_merge_patch(current, patch)
            else:
                raise api_error(errors.unsupported_patch_type(patch_type))
        except jsonpatch.PatchError as e:
            raise api_error(e.status_error()) from e
        return result

    async def delete(self, ref: ResourceRef, name: str, namespace: str = "",
                     options: dict[str, Any] | None = None) -> Any:
        handled, result = self._act(Action("delete", ref, namespace, name, body=options))
        if handled:
            return result
        return self.tracker.delete(ref, namespace, name, options)

    async def delete_collection(self, ref: ResourceRef, namespace: str = "",
                                options: dict[str, Any] | None = None, **params: str) -> Any:
        handled, result = self._act(Action("deletecollection", ref, namespace, body=options, params=dict(params)))
        if handled:
            return result
        pred = Predicate(namespace, params.get("labelSelector", ""), params.get("fieldSelector", ""))
        for obj in self.tracker.list(ref, pred)[0]:
            self.tracker.delete(ref, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], options)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}

    async def watch(self, ref: ResourceRef, namespace: str = "", *, accept: str = "",
                    **params: str) -> AsyncIterator[dict[str, Any]]:
        self._act(Action("watch", ref, namespace, params=dict(params)))
        pred = Predicate(namespace if ref.namespaced else "", params.get("labelSelector", ""),
                         params.get("fieldSelector", ""))
        w = self.tracker.watch(ref, pred, params.get("resourceVersion", ""),
                               params.get("allowWatchBookmarks") == "true")
        timeout = float(params.get("timeoutSeconds") or 0) or None
        partial = "as=PartialObjectMetadata" in accept
        try:
            async with asyncio.timeout(timeout):
                while True:
                    item = await w.queue.get()
                    if item is None:
                        return
                    if isinstance(item, ApiError):
                        raise item
                    kind, obj = item
                    yield {"type": kind, "object": _partial(obj) if partial and kind != "BOOKMARK" else obj}
        except TimeoutError:
            return
        finally:
            self.tracker.stop_watch(w)

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      body: Any = None, content_type: str = "application/json", accept: str = "") -> Any:
        return await fakeroutes.route(self, method, path, params or {}, body, content_type)


def _partial(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def _schema_node(ref: ResourceRef, obj: Obj) -> Any:
    res = SCHEME.get(ref.group, ref.version, ref.plural)
    kind = res.kind if res else str(obj.get("kind", ""))
    schema = get_schema()
    name = schema.name_for_gvk(ref.group, ref.version, kind)
    return schema.root(name) if name else None
