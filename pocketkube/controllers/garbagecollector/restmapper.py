"""Discovery for the garbage collector: which resources to monitor and where an owner kind lives.

Theory of operation: `discover(client)` reads /api, /apis and the
APIResourceList of every served group-version (as the GC's deferred discovery
REST mapper does) and returns a `RESTMapper`:
- `mapping(apiVersion, kind)` finds the resource (plural, scope) an
  ownerReference points at. Only the exact group-version is searched, like
  upstream's mapper: an unknown kind or version raises `RestMappingError`, which
  the collector retries (a CRD may simply not be discovered yet).
- `deletable(ignored)` lists the resources to monitor: the preferred version of
  each group, top-level resources that support delete, list and watch, minus
  the ignored ones (events in both groups, upstream's DefaultIgnoredResources).
Group-versions whose discovery fails (an aggregated API that is down) are
skipped; the periodic re-discovery picks them up later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pocketkube.client.rest import ApiError, ResourceRef, RESTClient

log = logging.getLogger("pocketkube.controllers.garbagecollector")

DEFAULT_IGNORED: frozenset[tuple[str, str]] = frozenset({("", "events"), ("events.k8s.io", "events")})
MONITOR_VERBS = frozenset({"delete", "list", "watch"})


class RestMappingError(Exception):
    """An ownerReference names an apiVersion/kind the server does not serve (yet)."""


@dataclass(frozen=True)
class APIResource:
    ref: ResourceRef
    kind: str
    verbs: frozenset[str]
    preferred: bool = True


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class RESTMapper:
    def __init__(self, resources: list[APIResource]) -> None:
        self.resources = resources
        self._by_kind = {(r.ref.group, r.ref.version, r.kind): r for r in resources}

    def mapping(self, api_version: str, kind: str) -> APIResource:
        group, version = split_api_version(api_version)
        found = self._by_kind.get((group, version, kind))
        if found is None:
            raise RestMappingError(f"unable to get REST mapping for {api_version}/{kind}")
        return found

    def deletable(self, ignored: frozenset[tuple[str, str]] = DEFAULT_IGNORED) -> list[APIResource]:
        return [r for r in self.resources if r.preferred and r.verbs >= MONITOR_VERBS
                and (r.ref.group, r.ref.plural) not in ignored]


async def discover(client: RESTClient) -> RESTMapper:
    versions: list[tuple[str, str, bool]] = [("", v, i == 0) for i, v in enumerate(
        (await client.request("GET", "/api")).get("versions") or ["v1"])]
    groups = await client.request("GET", "/apis")
    for g in groups.get("groups") or []:
        preferred = (g.get("preferredVersion") or {}).get("version", "")
        for v in g.get("versions") or []:
            versions.append((g["name"], v["version"], v["version"] == preferred))
    resources: list[APIResource] = []
    for group, version, preferred in versions:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            doc = await client.request("GET", path)
        except ApiError as e:
            log.info("garbage collector: discovery of %s failed: %s", path, e)
            continue
        resources.extend(_resources(doc, group, version, preferred))
    return RESTMapper(resources)


def _resources(doc: dict[str, Any], group: str, version: str, preferred: bool) -> list[APIResource]:
    out = []
    for r in doc.get("resources") or []:
        name = str(r.get("name", ""))
        if not name or "/" in name:
            continue
        ref = ResourceRef(group, version, name, namespaced=bool(r.get("namespaced")))
        out.append(APIResource(ref, str(r.get("kind", "")), frozenset(r.get("verbs") or []), preferred))
    return out
