"""Raw-path requests for the fake API: resource URLs routed to FakeClient's verbs, plus discovery.

Theory of operation: controllers that call `client.request(method, path)`
(discovery, deletecollection, namespaces/finalize) get the same answers from
the fake as from the apiserver. A path is split into group/version and the
rest; `namespaces/<ns>/<plural>[/<name>[/<sub>]]` addresses a namespaced
resource unless it is one of the namespace's own subresources (status,
finalize). Discovery documents are built from the scheme: /api, /apis and one
APIResourceList per group-version with names, kinds, scope, verbs and
subresources.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketkube.api.scheme import SCHEME
from pocketkube.client.fakestore import api_error
from pocketkube.client.rest import ResourceRef
from pocketkube.machinery import errors

if TYPE_CHECKING:
    from pocketkube.client.fake import FakeClient

_NAMESPACE_SUBRESOURCES = ("status", "finalize")


def _discovery(path: str) -> Any:
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        groups = []
        for group, versions in SCHEME.groups().items():
            if not group:
                continue
            gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            groups.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    parts = path.strip("/").split("/")
    group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
    resources = []
    for r in SCHEME.in_group_version(group, version):
        resources.append({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                          "kind": r.kind, "verbs": list(r.verbs), "shortNames": list(r.short_names)})
        for sub in r.subresources:
            resources.append({"name": f"{r.plural}/{sub.name}", "singularName": "", "namespaced": r.namespaced,
                              "kind": sub.kind, "verbs": list(sub.verbs)})
    if not resources:
        raise api_error(errors.not_found_error("", "", ""))
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


def parse(path: str) -> tuple[ResourceRef, str, str, str] | None:
    """(resource, namespace, name, subresource) of a resource path; None for discovery paths."""
    parts = [p for p in path.split("?")[0].strip("/").split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespaced = (len(rest) >= 3 and rest[0] == "namespaces"
                  and not (group == "" and rest[2] in _NAMESPACE_SUBRESOURCES))
    if namespaced:
        ns, plural, tail = rest[1], rest[2], rest[3:]
    else:
        ns, plural, tail = "", rest[0], rest[1:]
    name = tail[0] if tail else ""
    sub = "/".join(tail[1:])
    return ResourceRef(group, version, plural, namespaced=namespaced or _namespaced(group, version, plural)), \
        ns, name, sub


def _namespaced(group: str, version: str, plural: str) -> bool:
    res = SCHEME.get(group, version, plural)
    return bool(res and res.namespaced)


async def route(client: FakeClient, method: str, path: str, params: dict[str, str], body: Any,
                content_type: str) -> Any:
    parsed = parse(path)
    if parsed is None:
        if method != "GET":
            raise api_error(errors.method_not_supported("", "", method.lower()))
        return _discovery(path.split("?")[0].rstrip("/") or "/")
    ref, ns, name, sub = parsed
    if method == "GET":
        return await client.get(ref, name, ns) if name else await client.list(ref, ns, **params)
    if method == "POST":
        return await client.create(ref, body, ns, name=name, subresource=sub)
    if method == "PUT":
        return await client.update(ref, body, sub)
    if method == "PATCH":
        return await client.patch(ref, name, body, ns, patch_type=content_type, subresource=sub)
    if method == "DELETE":
        if name:
            return await client.delete(ref, name, ns, body)
        return await client.delete_collection(ref, ns, body, **params)
    raise api_error(errors.method_not_supported(ref.plural, ref.group, method.lower()))
