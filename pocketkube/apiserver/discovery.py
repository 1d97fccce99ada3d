"""API discovery documents, legacy and aggregated (apidiscovery.k8s.io/v2), from the scheme.

Theory of operation: every document is derived from `api/scheme.py` once and
cached as bytes with an ETag. kubectl asks for aggregated discovery first and
recognises it only by the exact response Content-Type; the legacy per-group
documents serve older clients (and the Python client) and commands that bypass
the cache (`auth can-i`, `drain`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any

import orjson

from pocketkube.api.scheme import SCHEME, Resource, Scheme, Subresource

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_BETA_CT = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str | None) -> str:
    """The aggregated Content-Type to answer with, or "" for legacy discovery."""
    for entry in (accept or "").split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in entry.split(";")[1:])}
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") == "v2":
                return AGGREGATED_CT
            if params.get("v") == "v2beta1":
                return AGGREGATED_BETA_CT
        if entry.split(";")[0].strip() in ("application/json", "*/*") and "as=" not in entry:
            return ""
    return ""


def storage_version_hash(r: Resource, scheme: Scheme | None = None) -> str:
    """discovery.StorageVersionHash of the version `r` is *stored* as (events.k8s.io/v1 Events hash as
    core/v1, autoscaling/v1 HPAs as v2): base64 of the first 8 bytes of sha256("group/version/kind")."""
    stored = (scheme or SCHEME).storage_version(r)
    h = hashlib.sha256(f"{stored.group}/{stored.version}/{stored.kind}".encode()).digest()
    return base64.b64encode(h[:8]).decode()


def _sub_group_version(parent: Resource, s: Subresource) -> tuple[str, str]:
    return (s.group if s.group is not None else parent.group, s.version or parent.version)


def legacy_resource_list(scheme: Scheme, group: str, version: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for r in scheme.in_group_version(group, version):
        entry: dict[str, Any] = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                                 "kind": r.kind, "verbs": list(r.verbs)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        if r.stored:
            entry["storageVersionHash"] = storage_version_hash(r, scheme)
        resources.append(entry)
        for s in r.subresources:
            sg, sv = _sub_group_version(r, s)
            sub: dict[str, Any] = {"name": f"{r.plural}/{s.name}", "singularName": "", "namespaced": r.namespaced,
                                   "kind": s.kind, "verbs": list(s.verbs)}
            if (sg, sv) != (r.group, r.version):
                sub["group"], sub["version"] = sg, sv
            resources.append(sub)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def legacy_api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def legacy_group_list(scheme: Scheme) -> dict[str, Any]:
    groups = [_group_entry(g, vs) for g, vs in scheme.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def legacy_group(scheme: Scheme, group: str) -> dict[str, Any] | None:
    versions = scheme.groups().get(group)
    if not versions or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


def _aggregated_resource(r: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": r.plural, "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster", "singularResource": r.singular,
        "verbs": list(r.verbs)}
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    subs = []
    for s in r.subresources:
        sg, sv = _sub_group_version(r, s)
        subs.append({"subresource": s.name, "responseKind": {"group": sg, "version": sv, "kind": s.kind},
                     "verbs": list(s.verbs)})
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(scheme: Scheme, core: bool, api_version: str = "apidiscovery.k8s.io/v2") -> dict[str, Any]:
    items = []
    for group, versions in scheme.groups().items():
        if (group == "") != core:
            continue
        item_versions = [{"version": v, "resources": [_aggregated_resource(r) for r in
                                                      scheme.in_group_version(group, v)],
                          "freshness": "Current"} for v in versions]
        meta: dict[str, Any] = {"name": group} if group else {}
        items.append({"metadata": meta, "versions": item_versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items}


@functools.cache
def cached(kind: str, scheme_id: int, *args: Any) -> tuple[bytes, str]:
    """(body, etag) of a discovery document; keyed by the scheme's id()."""
    from pocketkube.api.scheme import SCHEME

    scheme = SCHEME
    if kind == "aggregated":
        doc: Any = aggregated(scheme, args[0], args[1])
    elif kind == "resources":
        doc = legacy_resource_list(scheme, args[0], args[1])
    elif kind == "groups":
        doc = legacy_group_list(scheme)
    elif kind == "group":
        doc = legacy_group(scheme, args[0])
    else:
        raise KeyError(kind)
    body = orjson.dumps(doc)
    return body, '"' + hashlib.sha512(body).hexdigest()[:32].upper() + '"'
