"""Parse a request path + method into what it addresses (upstream RequestInfoFactory).

Theory of operation: resource URLs have the shapes

    /api/v1/<plural>[/<name>[/<subresource>...]]
    /api/v1/namespaces/<ns>/<plural>[/<name>[/<subresource>...]]
    /apis/<group>/<version>/... (same tails)

and the verb follows from the method plus whether a name is present and whether
a watch was asked: a GET without a name is a watch when `watch` is anything but
`0`/`false` (any case), as upstream's query bool conversion reads it; the legacy
`/api/v1/watch/...` prefix makes any request a watch. `/api/v1/namespaces/<ns>`
addresses the namespace object itself. Everything else (/version, /healthz, /openapi/...) is a non-resource
request. The result feeds routing, authorization and metrics labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_VERB_BY_METHOD = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete", "GET": "get",
                   "HEAD": "get"}


@dataclass(frozen=True, slots=True)
class RequestInfo:
    is_resource: bool
    path: str
    verb: str
    api_prefix: str = ""  # "api" or "apis"
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""
    parts: tuple[str, ...] = ()  # trailing path parts after the subresource (proxy paths)


def parse(method: str, path: str, query: dict[str, str]) -> RequestInfo:
    parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
    base_verb = _VERB_BY_METHOD.get(method.upper(), method.lower())
    non_resource = RequestInfo(False, path, base_verb)
    if not parts or parts[0] not in ("api", "apis"):
        return non_resource
    prefix = parts[0]
    if prefix == "api":
        if len(parts) < 3:
            return non_resource
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 4:
            return non_resource
        group, version, rest = parts[1], parts[2], parts[3:]
    watch_prefix = rest[0] == "watch"
    if watch_prefix:
        if len(rest) < 2:
            return non_resource
        rest = rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        # /api/v1/namespaces/<name>[/status|/finalize] addresses the namespace object itself.
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    tail = tuple(rest[3:])
    verb = "watch" if watch_prefix else base_verb
    if verb == "get" and not name:
        verb = "watch" if _query_bool(query.get("watch")) else "list"
    if verb == "delete" and not name:
        verb = "deletecollection"
    return RequestInfo(True, path, verb, prefix, group, version, namespace, resource, name, subresource, tail)


def _query_bool(value: str | None) -> bool:
    """metav1's []string -> bool conversion: absent is false, "0" and "false" (any case) are false, all else true."""
    return value is not None and value != "0" and value.lower() != "false"
