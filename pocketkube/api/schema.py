"""The Kubernetes 1.32 type schemas, compiled once into a small node model.

Theory of operation: the `kubernetes-validate` package ships the upstream v1.32
OpenAPI definitions (converted to JSON-schema form, with the `x-kubernetes-*`
extensions kept). Everything in pocketkube that needs to know the *shape* of an
API object reads it from here: structural decoding (unknown fields, types),
defaulting, strategic merge patch (merge keys, patch strategies), server-side
apply (list types and map keys), and the /openapi documents.

A `Node` describes one value position: its kind (object, array, map, scalar or
one of the special string types), the definition it refers to for objects, the
element node for arrays and maps, and the list/patch extensions declared at that
position. A `Definition` is a named object type with its property nodes.
Definitions are compiled lazily and cached; the module holds no I/O after the
first load.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

SCHEMA_VERSION = "v1.32.0-local"

# Node kinds. Scalars mirror JSON types; the special ones are string-shaped types
# whose JSON form is checked by a parser (quantity, time) or that accept two shapes.
OBJECT = "object"
ARRAY = "array"
MAP = "map"
STRING = "string"
INTEGER = "integer"
NUMBER = "number"
BOOLEAN = "boolean"
INT_OR_STRING = "int-or-string"
QUANTITY = "quantity"
TIME = "time"
MICROTIME = "microtime"
ANY = "any"  # free-form JSON: RawExtension, FieldsV1, apiextensions JSON

_SPECIAL_DEFINITIONS = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": INT_OR_STRING,
    "io.k8s.apimachinery.pkg.api.resource.Quantity": QUANTITY,
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": TIME,
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": MICROTIME,
    "io.k8s.apimachinery.pkg.runtime.RawExtension": ANY,
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": ANY,
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch": ANY,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": ANY,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray": ANY,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool": ANY,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray": ANY,
}


@dataclass(frozen=True, slots=True)
class Node:
    """One value position in an object tree."""

    kind: str
    ref: str = ""  # definition name when kind == OBJECT
    items: Node | None = None  # element node for ARRAY and MAP
    format: str = ""  # int32, int64, byte, date-time, ...
    enum: tuple[str, ...] = ()
    patch_strategy: str = ""  # "", "merge", "retainKeys", "merge,retainKeys", "replace"
    patch_merge_key: str = ""
    list_type: str = ""  # "", "atomic", "set", "map"
    list_map_keys: tuple[str, ...] = ()
    map_type: str = ""  # "", "atomic", "granular"
    description: str = ""

    @property
    def definition(self) -> Definition:
        return get_schema().definition(self.ref)


@dataclass(frozen=True, slots=True)
class GVK:
    group: str
    version: str
    kind: str


@dataclass(slots=True)
class Definition:
    """A named object type: its properties and the extensions declared on it."""

    name: str
    properties: dict[str, Node]
    required: frozenset[str]
    gvks: tuple[GVK, ...]
    map_type: str
    description: str
    preserve_unknown: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


def _schema_dir() -> Path:
    override = os.environ.get("POCKETKUBE_SCHEMA_DIR")
    if override:
        return Path(override)
    import kubernetes_validate

    return Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / SCHEMA_VERSION


def _type_of(raw: dict[str, Any]) -> str:
    t = raw.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    return t or ""


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


class Schema:
    """All definitions of one Kubernetes version; nodes are compiled on demand."""

    def __init__(self, raw_defs: dict[str, dict[str, Any]]) -> None:
        self.raw = raw_defs
        self._defs: dict[str, Definition] = {}
        self._by_gvk: dict[tuple[str, str, str], str] = {}
        for name, raw in raw_defs.items():
            for g in raw.get("x-kubernetes-group-version-kind", ()):
                key = (g["group"], g["version"], g["kind"])
                # DeleteOptions and WatchEvent are registered in every group; keep the meta one.
                self._by_gvk.setdefault(key, name)

    def definition(self, name: str) -> Definition:
        d = self._defs.get(name)
        if d is None:
            d = self._compile_definition(name)
        return d

    def has(self, name: str) -> bool:
        return name in self.raw

    def name_for_gvk(self, group: str, version: str, kind: str) -> str | None:
        return self._by_gvk.get((group, version, kind))

    def for_gvk(self, group: str, version: str, kind: str) -> Definition | None:
        name = self._by_gvk.get((group, version, kind))
        return self.definition(name) if name else None

    def root(self, name: str) -> Node:
        """The node for a whole object of the named definition."""
        return Node(kind=OBJECT, ref=name)

    def _compile_definition(self, name: str) -> Definition:
        raw = self.raw[name]
        props: dict[str, Node] = {}
        d = Definition(
            name=name,
            properties=props,
            required=frozenset(raw.get("required", ())),
            gvks=tuple(GVK(g["group"], g["version"], g["kind"])
                       for g in raw.get("x-kubernetes-group-version-kind", ())),
            map_type=raw.get("x-kubernetes-map-type", ""),
            description=raw.get("description", ""),
            preserve_unknown=bool(raw.get("x-kubernetes-preserve-unknown-fields")),
            raw=raw,
        )
        self._defs[name] = d  # before compiling properties: definitions are recursive
        for prop, sub in raw.get("properties", {}).items():
            props[prop] = self.compile_node(sub)
        return d

    def compile_node(self, raw: dict[str, Any]) -> Node:
        """Compile one property/items schema into a Node."""
        ext = {
            "patch_strategy": raw.get("x-kubernetes-patch-strategy", ""),
            "patch_merge_key": raw.get("x-kubernetes-patch-merge-key", ""),
            "list_type": raw.get("x-kubernetes-list-type", ""),
            "list_map_keys": tuple(raw.get("x-kubernetes-list-map-keys", ())),
            "map_type": raw.get("x-kubernetes-map-type", ""),
            "description": raw.get("description", ""),
        }
        ref = raw.get("$ref")
        if ref:
            target = _ref_name(ref)
            special = _SPECIAL_DEFINITIONS.get(target)
            if special:
                return Node(kind=special, ref=target, **ext)
            return Node(kind=OBJECT, ref=target, **ext)
        t = _type_of(raw)
        if t == "array":
            return Node(kind=ARRAY, items=self.compile_node(raw.get("items", {})), **ext)
        if t == "object":
            ap = raw.get("additionalProperties")
            if isinstance(ap, dict):
                return Node(kind=MAP, items=self.compile_node(ap), **ext)
            return Node(kind=ANY, **ext)
        if t in (STRING, INTEGER, NUMBER, BOOLEAN):
            return Node(kind=t, format=raw.get("format", ""),
                        enum=tuple(str(e) for e in raw.get("enum", ()) if e is not None), **ext)
        return Node(kind=ANY, **ext)


@functools.cache
def get_schema() -> Schema:
    """Load the v1.32 definitions once per process."""
    data = orjson.loads((_schema_dir() / "_definitions.json").read_bytes())
    return Schema(data["$defs"])


def walk_path(node: Node, path: list[str | int]) -> Node | None:
    """Return the node reached by following a JSON path from `node`, or None."""
    current: Node | None = node
    for part in path:
        if current is None:
            return None
        if current.kind == OBJECT:
            current = current.definition.properties.get(str(part))
        elif current.kind in (ARRAY, MAP):
            current = current.items
        else:
            return None
    return current
