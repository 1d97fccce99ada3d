"""The REST operations of each served group-version, in a dialect-neutral model.

Theory of operation: kube-apiserver publishes one OpenAPI operation per
(path, method) its handlers install. They follow a fixed pattern per resource,
which this module reproduces from the resource table (`api.scheme`):

    <prefix>/<plural>                                  list (all namespaces, namespaced kinds)
    <prefix>[/namespaces/{namespace}]/<plural>         list, create, deletecollection
    <prefix>[/namespaces/{namespace}]/<plural>/{name}  read, replace, patch, delete
    <prefix>/watch[/namespaces/{namespace}]/<plural>[/{name}]   deprecated watch paths
    .../{name}/<subresource>                           read/replace/patch/create/connect

with operation ids like `patchAppsV1NamespacedDeployment`, tags like
`apps_v1`, and on every operation `x-kubernetes-action` and
`x-kubernetes-group-version-kind`. Each verb a resource lists in the scheme
produces its operation; nothing else does. Write operations declare
`dryRun`, `fieldManager` and `fieldValidation` (kubectl looks for the last
one on the PATCH operation of a GVK to choose server-side validation), and
PATCH declares the four patch media types it consumes.

`gv_paths()` returns `PathItem`s; `openapi_v3` and `openapi_v2` render them.
Schemas are named by definition (`io.k8s.api.apps.v1.Deployment`); a schema
of None means a plain string (logs, connect streams).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pocketkube.api.schema import get_schema
from pocketkube.api.scheme import Resource, Scheme, Subresource
from pocketkube.apiserver import openapi_params as P
from pocketkube.apiserver.openapi_params import Param

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
STATUS = META + "Status"
DELETE_OPTIONS = META + "DeleteOptions"
WATCH_EVENT = META + "WatchEvent"
PATCH_BODY = META + "Patch"

MEDIA = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
MEDIA_STREAM = ("application/json", "application/json;stream=watch", "application/vnd.kubernetes.protobuf",
                "application/vnd.kubernetes.protobuf;stream=watch", "application/yaml")
MEDIA_LOG = ("text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
MEDIA_ANY = ("*/*",)
PATCH_MEDIA = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")

_OK = (("200", "OK"),)
_CREATED = (("200", "OK"), ("201", "Created"))
_ACCEPTED = (("200", "OK"), ("201", "Created"), ("202", "Accepted"))
_DELETED = (("200", "OK"), ("202", "Accepted"))

_CONNECT_METHODS = {"get": "get", "create": "post", "update": "put", "patch": "patch", "delete": "delete"}


@dataclass(slots=True)
class Operation:
    method: str  # get, put, post, patch, delete
    operation_id: str
    description: str
    tag: str
    action: str = ""  # x-kubernetes-action; "" for discovery operations
    gvk: dict[str, str] | None = None
    params: tuple[Param, ...] = ()
    body: str | None = None  # request body definition
    body_media: tuple[str, ...] = MEDIA_ANY
    body_required: bool = True
    response: str | None = None  # response definition; None = string
    codes: tuple[tuple[str, str], ...] = _OK
    produces: tuple[str, ...] = MEDIA


@dataclass(slots=True)
class PathItem:
    path: str
    params: tuple[Param, ...] = ()
    ops: list[Operation] = field(default_factory=list)


def group_words(group: str) -> list[str]:
    """"rbac.authorization.k8s.io" -> ["rbac", "authorization"]; "" -> ["core"]."""
    if not group:
        return ["core"]
    trimmed = group[: -len(".k8s.io")] if group.endswith(".k8s.io") else group
    return [w for w in trimmed.split(".") if w]


def group_camel(group: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in group_words(group))


def group_tag(group: str) -> str:
    camel = group_camel(group)
    return camel[:1].lower() + camel[1:]


def gv_prefix(group: str, version: str) -> str:
    return f"/apis/{group}/{version}" if group else f"/api/{version}"


@dataclass(frozen=True, slots=True)
class _Ctx:
    """Naming context of one resource (or subresource) in one group-version."""

    gv: str  # "AppsV1"
    tag: str  # "apps_v1"
    prefix: str  # "/apis/apps/v1"
    kind: str
    scope: str  # "Namespaced" or ""
    gvk: dict[str, str]


def _ctx(r: Resource) -> _Ctx:
    version = r.version[:1].upper() + r.version[1:]
    return _Ctx(gv=group_camel(r.group) + version, tag=f"{group_tag(r.group)}_{r.version}",
                prefix=gv_prefix(r.group, r.version), kind=r.kind, scope="Namespaced" if r.namespaced else "",
                gvk={"group": r.group, "version": r.version, "kind": r.kind})


def _def(group: str, version: str, kind: str) -> str | None:
    return get_schema().name_for_gvk(group, version, kind)


def _collection_ops(c: _Ctx, r: Resource, obj: str | None, lst: str | None) -> list[Operation]:
    name = f"{c.gv}{c.scope}{c.kind}"
    ops: list[Operation] = []
    if "list" in r.verbs and lst:
        ops.append(Operation("get", f"list{name}", f"list or watch objects of kind {c.kind}", c.tag, "list",
                             c.gvk, P.LIST, response=lst, produces=MEDIA_STREAM))
    if "create" in r.verbs and obj:
        ops.append(Operation("post", f"create{name}", f"create {_article(c.kind)} {c.kind}", c.tag, "post",
                             c.gvk, P.WRITE, body=obj, response=obj, codes=_ACCEPTED))
    if "deletecollection" in r.verbs:
        ops.append(Operation("delete", f"delete{c.gv}Collection{c.scope}{c.kind}",
                             f"delete collection of {c.kind}", c.tag, "deletecollection", c.gvk,
                             P.DELETE_COLLECTION, body=DELETE_OPTIONS, body_required=False, response=STATUS))
    return ops


def _item_ops(c: _Ctx, r: Resource, obj: str) -> list[Operation]:
    name = f"{c.gv}{c.scope}{c.kind}"
    ops: list[Operation] = []
    if "get" in r.verbs:
        ops.append(Operation("get", f"read{name}", f"read the specified {c.kind}", c.tag, "get", c.gvk,
                             response=obj))
    if "update" in r.verbs:
        ops.append(Operation("put", f"replace{name}", f"replace the specified {c.kind}", c.tag, "put", c.gvk,
                             P.WRITE, body=obj, response=obj, codes=_CREATED))
    if "patch" in r.verbs:
        ops.append(_patch_op(c, f"patch{name}", f"partially update the specified {c.kind}", obj))
    if "delete" in r.verbs:
        ops.append(Operation("delete", f"delete{name}", f"delete {_article(c.kind)} {c.kind}", c.tag, "delete",
                             c.gvk, P.DELETE, body=DELETE_OPTIONS, body_required=False, response=STATUS,
                             codes=_DELETED))
    return ops


def _patch_op(c: _Ctx, op_id: str, description: str, obj: str) -> Operation:
    return Operation("patch", op_id, description, c.tag, "patch", c.gvk, P.PATCH, body=PATCH_BODY,
                     body_media=PATCH_MEDIA, response=obj, codes=_CREATED)


def _article(word: str) -> str:
    return "an" if word[:1] in "AEIOU" else "a"


def _watch_paths(c: _Ctx, r: Resource) -> list[PathItem]:
    ns = "/namespaces/{namespace}" if r.namespaced else ""
    base = f"{c.prefix}/watch{ns}/{r.plural}"
    scope_params = (P.NAMESPACE,) if r.namespaced else ()
    name_param = P.path_param("name", f"name of the {c.kind}")
    list_op = Operation("get", f"watch{c.gv}{c.scope}{c.kind}List",
                        f"watch individual changes to a list of {c.kind}. deprecated: use the 'watch' parameter "
                        "with a list operation instead.", c.tag, "watchlist", c.gvk, response=WATCH_EVENT,
                        produces=MEDIA_STREAM)
    item_op = Operation("get", f"watch{c.gv}{c.scope}{c.kind}",
                        f"watch changes to an object of kind {c.kind}. deprecated: use the 'watch' parameter "
                        "with a list operation instead, filtered to a single item with the 'fieldSelector' "
                        "parameter.", c.tag, "watch", c.gvk, response=WATCH_EVENT, produces=MEDIA_STREAM)
    items = [PathItem(base, _sorted(P.LIST + scope_params + (P.PRETTY,)), [list_op]),
             PathItem(f"{base}/{{name}}", _sorted(P.LIST + scope_params + (name_param, P.PRETTY)), [item_op])]
    if r.namespaced:
        all_op = Operation("get", f"watch{c.gv}{c.kind}ListForAllNamespaces", list_op.description, c.tag,
                           "watchlist", c.gvk, response=WATCH_EVENT, produces=MEDIA_STREAM)
        items.append(PathItem(f"{c.prefix}/watch/{r.plural}", _sorted(P.LIST + (P.PRETTY,)), [all_op]))
    return items


def _sorted(ps: tuple[Param, ...]) -> tuple[Param, ...]:
    return tuple(sorted(ps, key=lambda p: p.name))


def _resource_paths(r: Resource) -> list[PathItem]:
    c = _ctx(r)
    obj = _def(r.group, r.version, r.kind)
    if obj is None:
        return []
    lst = _def(r.group, r.version, r.list_kind)
    ns = "/namespaces/{namespace}" if r.namespaced else ""
    scope_params = (P.NAMESPACE,) if r.namespaced else ()
    collection = f"{c.prefix}{ns}/{r.plural}"
    name_param = P.path_param("name", f"name of the {r.kind}")
    items = [PathItem(collection, scope_params + (P.PRETTY,), _collection_ops(c, r, obj, lst)),
             PathItem(f"{collection}/{{name}}", (name_param, *scope_params, P.PRETTY), _item_ops(c, r, obj))]
    if r.namespaced and "list" in r.verbs and lst:
        op = Operation("get", f"list{c.gv}{c.kind}ForAllNamespaces", f"list or watch objects of kind {r.kind}",
                       c.tag, "list", c.gvk, response=lst, produces=MEDIA_STREAM)
        items.append(PathItem(f"{c.prefix}/{r.plural}", _sorted(P.LIST + (P.PRETTY,)), [op]))
    if "watch" in r.verbs:
        items.extend(_watch_paths(c, r))
    for sub in r.subresources:
        items.extend(_subresource_paths(c, r, sub, f"{collection}/{{name}}/{sub.name}"))
    return [item for item in items if item.ops]


def _subresource_paths(c: _Ctx, r: Resource, sub: Subresource, path: str) -> list[PathItem]:
    group = r.group if sub.group is None else sub.group
    version = sub.version or r.version
    sc = _Ctx(c.gv, c.tag, c.prefix, r.kind, c.scope, {"group": group, "version": version, "kind": sub.kind})
    scope_params = (P.NAMESPACE,) if r.namespaced else ()
    name_param = P.path_param("name", f"name of the {sub.kind}")
    suffix = sub.name[:1].upper() + sub.name[1:]
    if sub.kind.endswith("Options"):  # exec, attach, portforward, proxy: streaming "connect" operations
        return _connect_paths(sc, sub, path, suffix, (name_param, *scope_params))
    if sub.name == "log":
        op = Operation("get", f"read{c.gv}{c.scope}{r.kind}Log", f"read log of the specified {r.kind}", c.tag,
                       "get", sc.gvk, response=None, produces=MEDIA_LOG)
        return [PathItem(path, _sorted(P.LOG + (name_param, *scope_params, P.PRETTY)), [op])]
    obj = _def(group, version, sub.kind)
    if obj is None:
        return []
    return [PathItem(path, (name_param, *scope_params, P.PRETTY), _subresource_ops(sc, sub, obj, suffix))]


def _subresource_ops(c: _Ctx, sub: Subresource, obj: str, suffix: str) -> list[Operation]:
    name = f"{c.gv}{c.scope}{c.kind}{suffix}"
    what = f"{sub.name} of the specified {c.kind}"
    ops: list[Operation] = []
    if "get" in sub.verbs:
        ops.append(Operation("get", f"read{name}", f"read {what}", c.tag, "get", c.gvk, response=obj))
    if "update" in sub.verbs:
        ops.append(Operation("put", f"replace{name}", f"replace {what}", c.tag, "put", c.gvk, P.WRITE, body=obj,
                             response=obj, codes=_CREATED))
    if "patch" in sub.verbs:
        ops.append(_patch_op(c, f"patch{name}", f"partially update {what}", obj))
    if "create" in sub.verbs:
        ops.append(Operation("post", f"create{name}", f"create {sub.name} of {_article(c.kind)} {c.kind}",
                             c.tag, "post", c.gvk, P.WRITE, body=obj, response=obj, codes=_ACCEPTED))
    return ops


def _connect_paths(c: _Ctx, sub: Subresource, path: str, suffix: str,
                   path_params: tuple[Param, ...]) -> list[PathItem]:
    def ops(with_path: bool) -> list[Operation]:
        out = []
        for verb, method in _CONNECT_METHODS.items():
            if verb not in sub.verbs:
                continue
            m = method[:1].upper() + method[1:]
            extra = "WithPath" if with_path else ""
            out.append(Operation(method, f"connect{c.gv}{m}{c.scope}{c.kind}{suffix}{extra}",
                                 f"connect {m.upper()} requests to {sub.name} of {c.kind}", c.tag, "connect",
                                 c.gvk, response=None, produces=MEDIA_ANY))
        return out

    query = P.CONNECT.get(sub.name, ())
    items = [PathItem(path, _sorted(query + path_params), ops(False))]
    if sub.name == "proxy":
        items.append(PathItem(f"{path}/{{path}}", _sorted((P.PROXY_PATH, *path_params)), ops(True)))
    return items


def gv_paths(scheme: Scheme, group: str, version: str) -> list[PathItem]:
    """All operations of one served group-version, discovery root first."""
    prefix = gv_prefix(group, version)
    v = version[:1].upper() + version[1:]
    root = Operation("get", f"get{group_camel(group)}{v}APIResources", "get available resources",
                     f"{group_tag(group)}_{version}", response=META + "APIResourceList")
    items = [PathItem(prefix + "/", (), [root])]
    for r in scheme.in_group_version(group, version):
        items.extend(_resource_paths(r))
    return _merge(items)


def _merge(items: list[PathItem]) -> list[PathItem]:
    """Join items that share a path (several resources never do; kept for safety)."""
    by_path: dict[str, PathItem] = {}
    for item in items:
        existing = by_path.get(item.path)
        if existing is None:
            by_path[item.path] = item
        else:
            existing.ops.extend(item.ops)
    return list(by_path.values())


def discovery_paths(kind: str, group: str = "") -> list[PathItem]:
    """The small documents beside the group-versions: "api", "apis", "apis/<group>", "version"."""
    if kind == "api":
        op = Operation("get", "getCoreAPIVersions", "get available API versions", "core",
                       response=META + "APIVersions")
        return [PathItem("/api/", (), [op])]
    if kind == "apis":
        op = Operation("get", "getAPIVersions", "get available API versions", "apis",
                       response=META + "APIGroupList")
        return [PathItem("/apis/", (), [op])]
    if kind == "group":
        op = Operation("get", f"get{group_camel(group)}APIGroup", "get information of a group", group_tag(group),
                       response=META + "APIGroup")
        return [PathItem(f"/apis/{group}/", (), [op])]
    op = Operation("get", "getCodeVersion", "get the version information for this server", "version",
                   response="io.k8s.apimachinery.pkg.version.Info", produces=("application/json",))
    return [PathItem("/version/", (), [op])]


def response_definitions(items: list[PathItem]) -> set[str]:
    """Every definition the operations name as body or response."""
    names: set[str] = set()
    for item in items:
        for op in item.ops:
            names.update(n for n in (op.body, op.response) if n)
    return names
