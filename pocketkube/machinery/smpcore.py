"""Shared ground of strategic merge patch: directives, schema metadata, element identity and order.

Theory of operation: `strategicpatch` (apply) and `smpdiff` (create) both need to
  * read patch metadata from the schema `Node` of a field (strategy, merge key, element node);
  * compare JSON values the way Go compares decoded interface{} values: same type and same value,
    so 1, 1.0 and true are three different things (`scalar_key` gives a hashable identity);
  * clean values taken from a patch (drop null members and anything carrying a directive);
  * order a merged list as upstream's normalizeElementOrder does: sort the patched elements by
    the patch (or $setElementOrder) order, sort the others by their live order, then interleave
    the two runs by live position (`set_order`);
  * word errors exactly as apimachinery's mergepatch errors, with Go's %v formatting of values.
The ordering sort reproduces Go's sort.SliceStable with upstream's comparator, which treats an
element missing from the order list as "less" than anything: when every element is found this is
a plain stable sort by position; otherwise it is replayed as Go's insertion sort (exact for lists
of up to 20 elements, the size Go sorts by insertion).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pocketkube.api.schema import ARRAY, MAP, OBJECT, Node
from pocketkube.machinery.jsonpatch import PatchError

DIRECTIVE = "$patch"
RETAIN = "$retainKeys"
ORDER = "$setElementOrder"
DELETE_LIST = "$deleteFromPrimitiveList"
DROP: Any = object()  # "leave this value out" marker returned by `clean`


# ---- Go-style formatting and errors -------------------------------------------------------------

def _go_float(f: float) -> str:
    if f == int(f) and abs(f) < 1e21:
        return str(int(f))
    return repr(f)


def go_v(v: Any) -> str:
    """Format a decoded JSON value as Go's %v does."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_v(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(go_v(x) for x in v) + "]"
    return str(v)


def go_type(v: Any) -> str:
    """Go's reflect type name of a decoded JSON value."""
    if v is None:
        return "<nil>"
    return {dict: "map[string]interface {}", list: "[]interface {}", str: "string", bool: "bool",
            int: "int64", float: "float64"}.get(type(v), type(v).__name__)


def bad_arg_type(expected: str, actual: Any) -> PatchError:
    received = "%!s(<nil>)" if actual is None else go_type(actual)  # Go's %s of a nil reflect.Type
    return PatchError(f"expected a {expected}, but received a {received}", 500)


def no_merge_key(m: Any, key: str) -> PatchError:
    return PatchError(f"map: {go_v(m)} does not contain declared merge key: {key}", 500)


def bad_patch_type(directive: Any, m: Any) -> PatchError:
    shown = directive if isinstance(directive, str) else f"%!s({go_type(directive)}={go_v(directive)})"
    return PatchError(f"unknown patch type: {shown} in map: {go_v(m)}", 500)


# ---- schema metadata ----------------------------------------------------------------------------

def child_node(node: Node | None, key: str) -> Node | None:
    """The node of member `key` of a map or object node (None when unknown or free-form)."""
    if node is None:
        return None
    if node.kind == OBJECT:
        return node.definition.properties.get(key)
    if node.kind == MAP:
        return node.items
    return None


def split_strategy(node: Node | None) -> tuple[bool, str]:
    """(has retainKeys, the other strategy) of a field, as extractRetainKeysPatchStrategy."""
    if node is None or not node.patch_strategy:
        return False, ""
    parts = node.patch_strategy.split(",")
    others = [p for p in parts if p != "retainKeys"]
    return len(others) < len(parts), (others[0] if others else "")


def list_meta(node: Node | None) -> tuple[str, str, Node | None]:
    """(strategy, merge key, element node) of a list field; no metadata unless it is an array."""
    if node is None or node.kind != ARRAY:
        return "", "", None
    return split_strategy(node)[1], node.patch_merge_key, node.items


def go_name(node: Node | None) -> str:
    """What upstream's schema.Name() says for an element type (its Go kind)."""
    if node is None:
        return "interface"
    return {OBJECT: "struct", MAP: "map", ARRAY: "slice"}.get(node.kind, node.kind)


# ---- values -------------------------------------------------------------------------------------

def scalar_key(v: Any) -> tuple[Any, Any]:
    """A hashable identity equal only for values Go's == finds equal (containers never match)."""
    if isinstance(v, dict | list):
        return type(v), id(v)
    return type(v), v


def is_directive_key(key: str) -> bool:
    return key in (DIRECTIVE, RETAIN) or key.startswith((ORDER + "/", DELETE_LIST + "/"))


def clean(value: Any, drop_nulls: bool) -> Any:
    """A fresh copy of a patch value without directives (and null map members if asked);
    DROP when `value` itself carries "$patch"."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return DROP
        out = {}
        for k, v in value.items():
            if (v is None and drop_nulls) or is_directive_key(k):
                continue
            c = clean(v, drop_nulls)
            if c is not DROP:
                out[k] = c
        return out
    if isinstance(value, list):
        return [c for c in (clean(v, drop_nulls) for v in value) if c is not DROP]
    return value


def dedup(values: list[Any]) -> list[Any]:
    """The values without repeats (first occurrence kept)."""
    seen: set[Any] = set()
    out = []
    for v in values:
        k = scalar_key(v)
        if k not in seen:
            seen.add(k)
            out.append(v)
    return out


def element_type(*lists: list[Any]) -> type:
    """The one element type of the lists (upstream sliceElementType)."""
    first: type | None = None
    for values in lists:
        for v in values:
            if first is None:
                if isinstance(v, list):
                    raise PatchError("lists of lists are not supported", 422)
                first = type(v)
            elif type(v) is not first:
                raise PatchError(f"list element types are not identical: {go_v(list(lists))}", 500)
    if first is None:
        raise PatchError("no elements in any of the given slices", 500)
    return first


# ---- element order ------------------------------------------------------------------------------

def _identity(merge_key: str, kind: type) -> Callable[[Any], tuple[Any, Any]]:
    if kind is dict:
        return lambda e: scalar_key(e.get(merge_key) if isinstance(e, dict) else None)
    return scalar_key


def _positions(order: list[Any], ident: Callable[[Any], tuple[Any, Any]]) -> dict[Any, int]:
    pos: dict[Any, int] = {}
    for i, e in enumerate(order):
        pos.setdefault(ident(e), i)
    return pos


def validate_merge_keys(merge_key: str, *lists: list[Any]) -> None:
    for values in lists:
        for item in values:
            if not isinstance(item, dict):
                raise bad_arg_type("map[string]interface {}", item)
            if merge_key not in item:
                raise no_merge_key(item, merge_key)


def _sort_by(items: list[Any], order: list[Any], ident: Callable[[Any], tuple[Any, Any]]) -> list[Any]:
    pos = _positions(order, ident)
    idx = [pos.get(ident(e), -1) for e in items]
    if all(i >= 0 for i in idx):
        return [e for _, e in sorted(zip(idx, items, strict=True), key=lambda p: p[0])]
    pairs = list(zip(idx, items, strict=True))  # replay Go's insertion sort with upstream's less
    for i in range(1, len(pairs)):
        j = i
        while j > 0 and (pairs[j][0] < 0 or pairs[j - 1][0] < 0 or pairs[j][0] < pairs[j - 1][0]):
            pairs[j], pairs[j - 1] = pairs[j - 1], pairs[j]
            j -= 1
    return [e for _, e in pairs]


def normalize_order(items: list[Any], order: list[Any], merge_key: str, kind: type) -> list[Any]:
    """Sort `items` by their position in `order`; "$patch: delete" elements go last."""
    if kind is not dict:
        return _sort_by(items, order, scalar_key)
    validate_merge_keys(merge_key, items, order)
    keep = [e for e in items if e.get(DIRECTIVE) != "delete"]
    gone = [e for e in items if e.get(DIRECTIVE) == "delete"]
    return _sort_by(keep, order, _identity(merge_key, kind)) + gone


def partition(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split `merged` into the elements present in `by` and the others (server-only)."""
    if not merge_key:
        present = {scalar_key(v) for v in by}
        return ([v for v in merged if scalar_key(v) in present],
                [v for v in merged if scalar_key(v) not in present])
    if merged:
        for i, p in enumerate(by):
            if not isinstance(p, dict):
                raise PatchError(f"value for key {i} is not a map", 500)
    keys = {scalar_key(p[merge_key]) for p in by if isinstance(p, dict) and merge_key in p}
    inside: list[Any] = []
    outside: list[Any] = []
    for v in merged:
        if not isinstance(v, dict):
            raise bad_arg_type("map[string]interface {}", v)
        if merge_key not in v:
            raise no_merge_key(v, merge_key)
        (inside if scalar_key(v[merge_key]) in keys else outside).append(v)
    return inside, outside


def set_order(merged: list[Any], patch_order: list[Any], server_order: list[Any], merge_key: str,
              kind: type) -> list[Any]:
    """Order a merged list as upstream (partition + normalizeElementOrder + mergeSortedSlice)."""
    patched, server_only = partition(merged, patch_order, merge_key)
    right = normalize_order(patched, patch_order, merge_key, kind)
    left = normalize_order(server_only, server_order, merge_key, kind)
    ident = _identity(merge_key, kind)
    pos = _positions(server_order, ident)
    out: list[Any] = []
    i = j = 0
    while i < len(left) and j < len(right):
        li = pos.get(ident(left[i]), -1)
        ri = pos.get(ident(right[j]), -1)
        if 0 <= li < ri:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]


def validate_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """Check the patch list is a subsequence of its $setElementOrder list (deletions ignored)."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        _require_maps(patch_list)
        items = [e for e in patch_list if e.get(DIRECTIVE) != "delete"]
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        if isinstance(items[pi], dict) and DIRECTIVE in items[pi]:
            pi += 1
            continue
        if _same_key(items[pi], order[oi], merge_key):
            pi += 1
        oi += 1
    if pi < len(items) and oi >= len(order):
        raise PatchError(f"The order in patch list:\n{go_v(patch_list)}\n doesn't match {ORDER} list:\n"
                         f"{go_v(order)}\n", 500)


def _require_maps(values: list[Any]) -> None:
    for v in values:
        if not isinstance(v, dict):
            raise bad_arg_type("map[string]interface {}", v)


def _same_key(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return scalar_key(left) == scalar_key(right)
    for side in (left, right):
        if not isinstance(side, dict):
            raise bad_arg_type("map[string]interface {}", side)
        if merge_key not in side:
            raise no_merge_key(side, merge_key)
    return scalar_key(left[merge_key]) == scalar_key(right[merge_key])
