"""Field sets: the ownership tries behind server-side apply and metadata.managedFields.

Theory of operation (the model is sigs.k8s.io/structured-merge-diff v4, as used by
Kubernetes 1.32). A field set is a trie of path elements. It is kept in exactly the
wire form `FieldsV1` uses, so a stored managedFields entry *is* a trie and nothing is
converted on the hot path:

    {"f:spec": {"f:replicas": {}},                       # .spec.replicas is a member
     "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}  # labels itself and labels.app

A key is `f:<field>`, `k:<json of the key fields>` (list-map element), `v:<json>`
(set element) or `i:<index>`. A node is a member of the set when it is `{}` or holds
"."; otherwise it only leads to members. Tries are immutable by convention: every
operation builds new dicts and may share untouched subtrees with its inputs.

The schema walks live here too, because they all map values to path elements:
  * `fieldset_of`: the set a value owns (upstream ToFieldSet): scalars, atomic
    lists/maps/structs and list elements are members; map entries that are null,
    `{}` or not declared fields (labels.app) are members too.
  * `compare_objects`: what changed between two objects (upstream Compare): leaves
    that were added or modified, plus "." for every container that appeared; and
    what was removed. Creation compares against `zero_object`, an approximation of
    the Go zero value the real server starts from (which is why `f:spec` has no ".").
  * `ensure_named_members`: upstream EnsureNamedFieldsAreMembers (used to prune).
Lists are typed from x-kubernetes-list-type, else from a `merge` patch strategy (keyed
by the patch merge key, or a set without one), else they are atomic. An ANY node is
atomic; `DEDUCED` (ANY with map_type "granular") is the free-form shape used for
custom resources: maps granular, lists atomic; `CUSTOM_RESOURCE` is DEDUCED with a typed
metadata, the root to use for a custom resource without a schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from pocketkube.api.labels import go_quote
from pocketkube.api.schema import (
    ANY,
    ARRAY,
    INTEGER,
    MAP,
    NUMBER,
    OBJECT,
    STRING,
    Definition,
    Node,
    get_schema,
)

Tree = dict[str, Any]

DEDUCED = Node(kind=ANY, map_type="granular")
CUSTOM_RESOURCE = Node(kind=ANY, map_type="granular", format="custom-resource")  # DEDUCED, typed metadata
_OBJECT_META = Node(kind=OBJECT, ref="io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
LEAF, STRUCT, GRANULAR, LIST = 0, 1, 2, 3

_DOT = "."
_MEMBER: Tree = {_DOT: {}}
_KEY_DEFAULTS = {"protocol": "TCP"}  # list-map key defaults upstream's schema carries
_HTML = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                       "\u2028": "\\u2028", "\u2029": "\\u2029"})


class FieldPathError(ValueError):
    """A value that cannot be typed (bad list key, duplicate key); message as upstream."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.path = ""
        self.message = message

    def prefixed(self, pe: str) -> FieldPathError:
        self.path = render_element(pe) + self.path
        return self

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


# ---------------------------------------------------------------- path elements

def json_value(v: Any) -> str:
    """JSON text of a key value, escaped as Go's encoding/json does."""
    if isinstance(v, str):
        s = orjson.dumps(v).decode()
        return s.translate(_HTML) if ("<" in s or ">" in s or "&" in s or "\u2028" in s or "\u2029" in s) else s
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()


def _to_string(v: Any) -> str:
    """value.ToString: how a key value prints inside a rendered path."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e21:
            return str(int(v))
        return repr(v)
    if isinstance(v, list):
        return "[" + ",".join(_to_string(x) for x in v) + "]"
    if isinstance(v, dict):
        return "".join(f"{k}={_to_string(x)}" for k, x in v.items())
    return str(v)


def render_element(pe: str) -> str:
    """`f:a` -> `.a`, `k:{"name":"x"}` -> `[name="x"]`, `v:"x"` -> `[="x"]`, `i:3` -> `[3]`."""
    kind, body = pe[:2], pe[2:]
    if kind == "f:":
        return "." + body
    if kind == "k:":
        fields = orjson.loads(body)
        return "[" + ",".join(f"{n}={_to_string(fields[n])}" for n in sorted(fields)) + "]"
    if kind == "v:":
        return "[=" + _to_string(orjson.loads(body)) + "]"
    if kind == "i:":
        return "[" + body + "]"
    return "{{invalid path element}}"


def _value_rank(v: Any) -> tuple[Any, ...]:
    # value.Compare: numbers < strings < booleans < lists < maps < null.
    if v is None:
        return (5,)
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, int | float):
        return (0, v)
    if isinstance(v, str):
        return (1, v)
    if isinstance(v, list):
        return (3, tuple(_value_rank(x) for x in v))
    return (4, tuple((k, _value_rank(v[k])) for k in sorted(v)))


def _pe_rank(pe: str) -> tuple[Any, ...]:
    # PathElement.Compare: "." first, then field names < keys < values < indexes.
    kind = pe[:2]
    if kind == "f:":
        return (0, pe[2:])
    if kind == "k:":
        fields = orjson.loads(pe[2:])
        return (1, tuple((n, _value_rank(fields[n])) for n in sorted(fields)))
    if kind == "v:":
        return (2, _value_rank(orjson.loads(pe[2:])))
    if kind == "i:":
        return (3, int(pe[2:]))
    return (-1,) if pe == _DOT else (4, pe)


_RANKS: dict[str, tuple[Any, ...]] = {}


def _cached_rank(pe: str) -> tuple[Any, ...]:
    r = _RANKS.get(pe)
    if r is None:
        if len(_RANKS) > 50_000:
            _RANKS.clear()
        r = _RANKS[pe] = _pe_rank(pe)
    return r


def sort_elements(keys: Iterable[str]) -> list[str]:
    """Path elements in upstream order (the order FieldsV1 is serialized in)."""
    ks = list(keys)
    if all(k[0] == "f" or k == _DOT for k in ks):
        return sorted(ks)
    return sorted(ks, key=_cached_rank)


# ---------------------------------------------------------------- schema shapes

_DEFS: dict[str, Definition] = {}


def definition(ref: str) -> Definition:
    d = _DEFS.get(ref)
    if d is None:
        d = _DEFS[ref] = get_schema().definition(ref)
    return d


def list_keys(node: Node) -> tuple[str, ...] | None:
    """Key fields of an associative list: () for a set, None for an atomic list."""
    lt = node.list_type
    if lt == "map":
        return tuple(sorted(node.list_map_keys))
    if lt == "set":
        return ()
    if lt == "" and node.patch_strategy == "merge":
        return (node.patch_merge_key,) if node.patch_merge_key else ()
    return None


def shape(node: Node) -> int:
    """LEAF, STRUCT, GRANULAR (map) or LIST for a node; atomic containers are LEAF."""
    kind = node.kind
    if kind == OBJECT:
        if node.map_type == "atomic" or (node.map_type != "granular" and definition(node.ref).map_type == "atomic"):
            return LEAF
        return STRUCT
    if kind == MAP:
        return LEAF if node.map_type == "atomic" else GRANULAR
    if kind == ARRAY:
        return LEAF if list_keys(node) is None else LIST
    if kind == ANY and node.map_type == "granular":
        return GRANULAR
    return LEAF


def field_node(node: Node, name: str) -> Node:
    """The node of a map entry or struct field (undeclared fields are DEDUCED)."""
    if node.kind == OBJECT:
        return definition(node.ref).properties.get(name) or DEDUCED
    if node is CUSTOM_RESOURCE and name == "metadata":
        return _OBJECT_META
    return node.items or DEDUCED


def element_key(elem: Any, node: Node, keys: tuple[str, ...]) -> str:
    """The path element of a list element (`k:` for list-maps, `v:` for sets)."""
    if keys:
        if elem is None:
            raise FieldPathError("associative list with keys may not have a null element")
        if not isinstance(elem, dict):
            raise FieldPathError("associative list with keys may not have non-map elements")
        parts = []
        for k in keys:
            v = elem.get(k, _KEY_DEFAULTS.get(k))
            if v is None:
                raise FieldPathError(f"associative list with keys has an element that omits key field "
                                     f"{go_quote(k)} (and doesn't have default value)")
            parts.append(json_value(k) + ":" + json_value(v))
        return "k:{" + ",".join(parts) + "}"
    if isinstance(elem, dict):
        raise FieldPathError("associative list without keys has an element that's a map type")
    if isinstance(elem, list):
        raise FieldPathError("not supported: associative list with lists as elements")
    if elem is None:
        raise FieldPathError("associative list without keys has an element that's an explicit null")
    return "v:" + json_value(elem)


def list_elements(items: list[Any], node: Node, keys: tuple[str, ...]) -> list[str]:
    """Path elements of every list element, with upstream's `element N:` error prefix."""
    out = []
    for i, elem in enumerate(items):
        try:
            out.append(element_key(elem, node, keys))
        except FieldPathError as e:
            e.message = f"element {i}: {e.message}"
            raise
    return out


# ---------------------------------------------------------------- trie operations

def _norm(node: Tree) -> Tree:
    return node if node else _MEMBER


def _pack(children: Tree) -> Tree:
    return {} if len(children) == 1 and _DOT in children else children


def _union(a: Tree, b: Tree) -> Tree:
    if not a or a is b:
        return b
    if not b:
        return a
    out = dict(a)
    added = False
    for k, bn in b.items():
        an = out.get(k)
        if an is None:
            out[k] = bn
            added = True
        elif k != _DOT and an is not bn:
            out[k] = _pack(_union(_norm(an), _norm(bn)))
    return {k: out[k] for k in sort_elements(out)} if added else out


def _difference(a: Tree, b: Tree) -> Tree:
    if not a or not b:
        return a
    out: Tree = {}
    touched = False
    for k, an in a.items():
        bn = b.get(k)
        if bn is None:
            out[k] = an
            continue
        touched = True
        if k != _DOT:
            d = _difference(_norm(an), _norm(bn))
            if d:
                out[k] = _pack(d)
    return out if touched else a


def _intersection(a: Tree, b: Tree) -> Tree:
    out: Tree = {}
    if len(b) < len(a):
        a, b = b, a
    for k, an in a.items():
        bn = b.get(k)
        if bn is None:
            continue
        if k == _DOT:
            out[k] = {}
            continue
        i = _intersection(_norm(an), _norm(bn))
        if i:
            out[k] = _pack(i)
    return out


def _recursive_difference(a: Tree, b: Tree) -> Tree:
    if not a or not b:
        return a
    out: Tree = {}
    for k, an in a.items():
        bn = b.get(k)
        if bn is None:
            out[k] = an
        elif k != _DOT and bn and _DOT not in bn:
            d = _recursive_difference(_norm(an), bn)
            if d:
                out[k] = _pack(d)
    return out


def _canonical(t: Tree) -> Tree:
    return {k: _canonical(t[k]) if t[k] else {} for k in sort_elements(t)}


def _check(t: Any) -> Tree:
    """Validate a FieldsV1 tree; element types this version does not know are dropped."""
    if not isinstance(t, dict):
        raise FieldPathError("FieldsV1 must be a JSON object")
    out: Tree = {}
    for k, v in t.items():
        if k != _DOT and (len(k) < 2 or k[1] != ":"):
            raise FieldPathError(f"parsing key as path element: {k}")
        if k[:2] in ("k:", "v:"):
            try:
                orjson.loads(k[2:])
            except orjson.JSONDecodeError as e:
                raise FieldPathError(f"parsing key as path element: {e}") from None
        elif k[:2] == "i:" and not k[2:].lstrip("-").isdigit():
            raise FieldPathError(f"parsing key as path element: {k}")
        elif k != _DOT and k[:2] not in ("f:", "k:", "v:", "i:"):
            continue
        out[k] = _check(v)
    return out


class FieldSet:
    """An immutable set of field paths, stored as a FieldsV1 trie."""

    __slots__ = ("_canon", "tree")

    def __init__(self, tree: Tree | None = None, *, canonical: bool = False) -> None:
        self.tree: Tree = tree if tree is not None else {}
        self._canon = canonical or not self.tree

    @classmethod
    def from_fields_v1(cls, fields: Any, *, validate: bool = True) -> FieldSet:
        if fields is None:
            return cls()
        return cls(_check(fields) if validate else fields)

    @classmethod
    def from_paths(cls, paths: Iterable[Sequence[str]]) -> FieldSet:
        """A set of plain field-name paths, e.g. [("spec", "replicas"), ("status",)]."""
        out: Tree = {}
        for path in paths:
            node: Tree = {}
            for name in reversed(path):
                node = {"f:" + name: node}
            out = _union(out, node)
        return cls(out)

    def to_fields_v1(self) -> Tree:
        """The FieldsV1 JSON object, keys in upstream order."""
        if not self._canon:
            self.tree, self._canon = _canonical(self.tree), True
        return self.tree

    def empty(self) -> bool:
        return not self.tree

    def __bool__(self) -> bool:
        return bool(self.tree)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self.tree == other.tree

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FieldSet({self.paths()!r})"

    # Results keep upstream key order whenever the inputs had it (union re-sorts the
    # levels it adds to), so encoding rarely has to sort.
    def union(self, other: FieldSet) -> FieldSet:
        t = _union(self.tree, other.tree)
        if t is self.tree or t is other.tree:
            return self if t is self.tree else other
        return FieldSet(t, canonical=self._canon and other._canon)

    def difference(self, other: FieldSet) -> FieldSet:
        t = _difference(self.tree, other.tree)
        return self if t is self.tree else FieldSet(t, canonical=self._canon)

    def intersection(self, other: FieldSet) -> FieldSet:
        return FieldSet(_intersection(self.tree, other.tree), canonical=self._canon and other._canon)

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Difference that also drops everything below a member of `other`."""
        t = _recursive_difference(self.tree, other.tree)
        return self if t is self.tree else FieldSet(t, canonical=self._canon)

    def has(self, path: Sequence[str]) -> bool:
        """Whether the path (a sequence of encoded elements, e.g. "f:spec") is a member."""
        node: Tree | None = self.tree
        for pe in path:
            if not node:
                return False
            node = node.get(pe)
            if node is None:
                return False
        return node is not None and (not node or _DOT in node)

    def paths(self) -> list[str]:
        """Members rendered upstream style (`.spec.replicas`), in upstream iteration order."""
        out: list[str] = []
        _render(self.tree, "", out)
        return out


def _render(t: Tree, prefix: str, out: list[str]) -> None:
    keys = [k for k in sort_elements(t) if k != _DOT]
    out.extend(prefix + render_element(k) for k in keys if not t[k] or _DOT in t[k])
    for k in keys:
        if t[k]:
            _render(t[k], prefix + render_element(k), out)


# ---------------------------------------------------------------- ToFieldSet

def fieldset_of(obj: Any, node: Node, *, strict: bool = False) -> FieldSet:
    """The fields `obj` sets (upstream ToFieldSet); strict rejects duplicate list keys."""
    return FieldSet(_owned(obj, node, strict), canonical=True)


def _owned(v: Any, node: Node, strict: bool) -> Tree:
    """The members below a value (the value's own membership is decided by its parent)."""
    sh = shape(node)
    if sh == LIST and isinstance(v, list):
        return _owned_list(v, node, strict)
    if sh in (LEAF, LIST) or not isinstance(v, dict):
        return {}
    out: Tree = {}
    props = definition(node.ref).properties if sh == STRUCT else None
    for k in sorted(v):
        child = v[k]
        if not isinstance(child, dict | list):  # scalars and null are members
            out["f:" + k] = {}
            continue
        cnode = field_node(node, k)
        try:
            sub = _owned(child, cnode, strict)
        except FieldPathError as e:
            raise e.prefixed("f:" + k) from None
        if props is None or k not in props or child == {} or shape(cnode) == LEAF:
            out["f:" + k] = {_DOT: {}, **sub} if sub else {}
        elif sub:
            out["f:" + k] = sub
    return out


def _owned_list(v: list[Any], node: Node, strict: bool) -> Tree:
    keys = list_keys(node) or ()
    item = node.items or DEDUCED
    pes = list_elements(v, item, keys)
    seen: dict[str, Any] = {}
    dups: set[str] = set()
    for pe, elem in zip(pes, v, strict=True):
        if pe in seen:
            if strict:
                raise FieldPathError(f"duplicate entries for key {render_element(pe)}")
            dups.add(pe)
        seen[pe] = elem
    out: Tree = {}
    for pe in sort_elements(seen):
        if pe in dups:
            out[pe] = {}
            continue
        try:
            sub = _owned(seen[pe], item, strict)
        except FieldPathError as e:
            raise e.prefixed(pe) from None
        out[pe] = {_DOT: {}, **sub} if sub else {}
    return out


# ---------------------------------------------------------------- Compare

class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
_ROOT_SKIP = frozenset({"apiVersion", "kind"})
_META_SKIP = frozenset({"name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
                        "generation", "managedFields", "resourceVersion"})


def compare_objects(old: Any, new: Any, node: Node) -> tuple[FieldSet, FieldSet]:
    """(added or modified, removed) between two objects (upstream Compare).

    apiVersion, kind and the metadata fields managedFields never track are skipped.
    Raises FieldPathError when a list element has no usable key.
    """
    ch: Tree = {}
    rm: Tree = {}
    _cmp_fields(old if isinstance(old, dict) else {}, new if isinstance(new, dict) else {}, node, ch, rm,
                root=True)
    return FieldSet(ch, canonical=True), FieldSet(rm, canonical=True)


def _by_value(node: Node, top: bool) -> bool:
    """Whether Go embeds this struct by value, so it exists wherever its parent does."""
    if node.kind != OBJECT:
        return False
    if top or node.ref.rsplit(".", 1)[-1] in _VALUE_STRUCTS:
        return shape(node) == STRUCT
    return False


def _cmp_fields(lc: dict[str, Any] | None, rc: dict[str, Any] | None, node: Node, ch: Tree, rm: Tree, *,
                root: bool = False) -> None:
    lm, rmap = lc or {}, rc or {}
    for k in sorted(lm.keys() | rmap.keys()):
        if root and k in _ROOT_SKIP:
            continue
        cnode = field_node(node, k)
        lv, rv = lm.get(k, ABSENT), rmap.get(k, ABSENT)
        if ((lv is ABSENT and lc is not None) or (rv is ABSENT and rc is not None)) \
                and _by_value(cnode, root and k in ("spec", "status")):
            lv = {} if lv is ABSENT and lc is not None else lv
            rv = {} if rv is ABSENT and rc is not None else rv
        if root and k == "metadata" and isinstance(lv, dict) and isinstance(rv, dict):
            lmeta = {a: b for a, b in lv.items() if a not in _META_SKIP}
            rmeta = {a: b for a, b in rv.items() if a not in _META_SKIP}
            if lmeta == rmeta:  # the usual case: only bookkeeping fields differ
                continue
            mch: Tree = {}
            mrm: Tree = {}
            _cmp_fields(lmeta, rmeta, cnode, mch, mrm)
            if mch:
                ch["f:metadata"] = mch
            if mrm:
                rm["f:metadata"] = mrm
        else:
            _cmp(lv, rv, cnode, "f:" + k, ch, rm)


def _same(a: Any, b: Any) -> bool:
    return bool(a == b) and (a.__class__ is bool) == (b.__class__ is bool)


def _container(v: Any, kind: type) -> Any:
    """The container, None for null/absent, or ABSENT when the value is of another type."""
    if isinstance(v, kind):
        return v
    return None if v is None or v is ABSENT else ABSENT


def _cmp(lv: Any, rv: Any, node: Node, key: str, ch: Tree, rm: Tree) -> None:
    if lv is rv:
        return
    sh = shape(node)
    kind = list if sh == LIST else dict if sh != LEAF else None
    lc = _container(lv, kind) if kind else ABSENT
    rc = _container(rv, kind) if kind else ABSENT
    if lc is ABSENT or rc is ABSENT or (not lc and not rc):  # leaf, atomic, or both empty
        if lv is ABSENT:
            ch[key] = {}
        elif rv is ABSENT:
            rm[key] = {}
        elif not _same(lv, rv):
            ch[key] = {}
        return
    if lv is not ABSENT and rv is not ABSENT and lv == rv:
        return
    sub_ch: Tree = {_DOT: {}} if lv is ABSENT else {}
    sub_rm: Tree = {_DOT: {}} if rv is ABSENT else {}
    try:
        if kind is list:
            _cmp_list(lc or [], rc or [], node, sub_ch, sub_rm)
        else:
            _cmp_fields(lc, rc, node, sub_ch, sub_rm)
    except FieldPathError as e:
        raise e.prefixed(key) from None
    if sub_ch:
        ch[key] = _pack(sub_ch)
    if sub_rm:
        rm[key] = _pack(sub_rm)


def _group(items: list[Any], node: Node, keys: tuple[str, ...]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for pe, elem in zip(list_elements(items, node, keys), items, strict=True):
        out.setdefault(pe, []).append(elem)
    return out


def _add_member(t: Tree, pe: str) -> None:
    t[pe] = {_DOT: {}, **t[pe]} if t.get(pe) and _DOT not in t[pe] else t.get(pe, {})


def _cmp_list(ll: list[Any], rl: list[Any], node: Node, ch: Tree, rm: Tree) -> None:
    keys = list_keys(node) or ()
    item = node.items or DEDUCED
    lg, rg = _group(ll, item, keys), _group(rl, item, keys)
    for pe in sort_elements(lg.keys() | rg.keys()):
        lv, rv = lg.get(pe, ()), rg.get(pe, ())
        if len(lv) <= 1 and len(rv) <= 1:
            _cmp(lv[0] if lv else ABSENT, rv[0] if rv else ABSENT, item, pe, ch, rm)
        elif len(lv) >= 2 and len(rv) >= 2:
            if lv != rv:
                ch[pe] = {}
        elif len(lv) >= 2:  # duplicates resolved
            if rv:
                _cmp(ABSENT, rv[0], item, pe, ch, rm)
            _add_member(rm, pe)
        else:  # duplicates introduced
            if lv:
                _cmp(lv[0], ABSENT, item, pe, ch, rm)
            _add_member(ch, pe)


# ---------------------------------------------------------------- the Go zero value

# Struct types Go embeds by value (not pointer): they exist, empty, in a zero object, so
# an Update that fills them does not own the struct itself (no ".").
_VALUE_STRUCTS = frozenset({
    "ObjectMeta", "PodTemplateSpec", "PodSpec", "JobTemplateSpec", "JobSpec", "PersistentVolumeClaimSpec",
    "DeploymentStrategy", "DaemonSetUpdateStrategy", "StatefulSetUpdateStrategy", "ResourceRequirements",
    "VolumeResourceRequirements", "LoadBalancerStatus", "NodeDaemonEndpoints", "DaemonEndpoint",
    "NodeSystemInfo", "EventSource", "ContainerState",
})
_ZERO_SCALARS: dict[str, Any] = {STRING: "", INTEGER: 0, NUMBER: 0, "boolean": False}
_ZEROS: dict[str, Tree] = {}


def zero_object(node: Node) -> Tree:
    """An approximation of the object a Go server creates from `New()` (for creates)."""
    if node.kind != OBJECT:
        return {}
    z = _ZEROS.get(node.ref)
    if z is None:
        z = _zero_struct(node.ref)
        for name in ("metadata", "spec", "status"):
            p = definition(node.ref).properties.get(name)
            if p is not None and p.kind == OBJECT and shape(p) == STRUCT:
                z[name] = _zero_struct(p.ref)
        _ZEROS[node.ref] = z
    return z


def _zero_struct(ref: str) -> Tree:
    d = definition(ref)
    out: Tree = {}
    for name, p in d.properties.items():
        if p.kind == OBJECT and p.ref.rsplit(".", 1)[-1] in _VALUE_STRUCTS:
            out[name] = _zero_struct(p.ref)
        elif name in d.required:
            out[name] = _ZERO_SCALARS.get(p.kind)
    if d.short_name == "ObjectMeta":
        out["creationTimestamp"] = None
    return out


# ---------------------------------------------------------------- named fields

def ensure_named_members(fs: FieldSet, node: Node) -> FieldSet:
    """Also make members of struct fields that lead to members (EnsureNamedFieldsAreMembers)."""
    return FieldSet(_ensure_named(fs.tree, node))


def _ensure_named(t: Tree, node: Node | None) -> Tree:
    sh = shape(node) if node is not None else LEAF
    props = definition(node.ref).properties if node is not None and sh == STRUCT else None
    out: Tree = {}
    for k, sub in t.items():
        if not sub:
            out[k] = sub
            continue
        child: Node | None = None
        named = False
        if k[:2] == "f:" and node is not None and sh in (STRUCT, GRANULAR):
            child = field_node(node, k[2:])
            named = props is not None and k[2:] in props
        elif k[:2] == "k:" and node is not None and sh == LIST:
            child = node.items or DEDUCED
        nsub = _ensure_named(sub, child)
        out[k] = {_DOT: {}, **nsub} if named and _DOT not in nsub else nsub
    return out
