"""Strategic merge patch, as kube-apiserver 1.32 applies it (apimachinery strategicpatch).

Theory of operation: a strategic merge patch is a JSON merge patch whose lists can merge. The
schema `Node` at each position says how: a list whose property carries patch strategy "merge"
merges element-wise, by its patch merge key when the elements are objects (containers by name,
ports by containerPort, ...) and as a set when they are scalars (finalizers); every other list is
replaced whole. Maps merge recursively and a null member deletes its key. Fields the schema does
not know (and free-form `any` values) merge as maps and replace as lists, like a JSON merge patch.

Directives, all read from the patch:
  "$patch": "replace" | "delete"        in a map: use the patch map as is / make the map empty;
                                        as a list element: replace the list / delete by merge key
  "$retainKeys": [keys]                  drop every key of the original map not listed
  "$setElementOrder/<list>": [...]       the final order of the list's patched elements
  "$deleteFromPrimitiveList/<list>": []  scalars to remove from a merging scalar list

Element order follows upstream exactly (mergeSlice / normalizeElementOrder): the patched elements
are sorted by `$setElementOrder` (else by their order in the patch), the other elements keep their
live order, and the two runs are interleaved: a live-only element goes before the next patched
element only when that one is live too and comes later in the live list. So an element new to
the list goes before the live-only elements still waiting: a patch that just adds elements, with
no `$setElementOrder`, puts them first. Upstream orders a `$setElementOrder` list by the live list
as its in-place deletes and appends left it; `_Backing` replays that. The ordering helpers are in
`smpcore`.

Values taken from the patch for keys the original lacks (and new list elements) are cleaned as
upstream's discardNullValuesFromPatch/removeDirectives do: null members are dropped and anything
carrying "$patch" is left out; other directive keys are dropped too (upstream leaves them for the
typed decoder to discard). Nothing is mutated: maps and lists on changed paths are shallow-copied
and untouched subtrees are shared with `original` (copy the result before mutating it in place).

`create_two_way_merge_patch` (in `smpdiff`) computes the patch that turns one object into
another, as upstream's CreateTwoWayMergePatch does, and is re-exported here.

Errors raise `PatchError` with upstream's text and the code the apiserver answers with: 400 for a
malformed directive ($retainKeys, $setElementOrder or $deleteFromPrimitiveList format) or a body
that is not an object, 422 for lists of lists, 500 for the rest (upstream returns those as plain
errors).
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.schema import Node
from pocketkube.machinery.jsonpatch import PatchError
from pocketkube.machinery.smpcore import (
    DELETE_LIST,
    DIRECTIVE,
    DROP,
    ORDER,
    RETAIN,
    bad_arg_type,
    bad_patch_type,
    child_node,
    clean,
    dedup,
    element_type,
    go_name,
    list_meta,
    no_merge_key,
    scalar_key,
    set_order,
    split_strategy,
    validate_order,
)
from pocketkube.machinery.smpdiff import create_two_way_merge_patch

__all__ = ["PatchError", "apply_strategic_merge_patch", "create_two_way_merge_patch", "strip_directives"]

_BAD_RETAIN = "invalid patch format of retainKeys"
_BAD_ORDER = "invalid patch format of setElementOrder list"
_BAD_PRIMITIVE = "invalid patch format of primitive list"


def strip_directives(obj: Any, drop_nulls: bool = False) -> Any:
    """A copy of `obj` without patch directives (maps or elements carrying "$patch" are left out,
    "$retainKeys"/"$setElementOrder/..."/"$deleteFromPrimitiveList/..." keys dropped); with
    `drop_nulls`, null map members are dropped too. A root that carries "$patch" gives None."""
    out = clean(obj, drop_nulls)
    return None if out is DROP else out


def apply_strategic_merge_patch(original: Any, patch: Any, node: Node | None) -> Any:
    """Apply a strategic merge patch (the decoded body) to `original`, guided by `node`.

    `node` is the schema node of the whole object (`get_schema().root(name)`), or None to merge
    without list metadata. Neither input is mutated; the result shares unchanged subtrees with
    `original`.
    """
    if patch is None:
        return original
    if not isinstance(patch, dict):
        raise PatchError(f"json: cannot unmarshal {_json_kind(patch)} into Go value of type "
                         "map[string]interface {}", 400)
    return _merge_map(original if isinstance(original, dict) else {}, patch, node)


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    return "bool" if isinstance(value, bool) else "number"


def _merge_map(original: dict[str, Any], patch: dict[str, Any], node: Node | None) -> dict[str, Any]:
    if DIRECTIVE in patch:
        return _map_directive(patch)
    out = dict(original)
    if RETAIN in patch:
        _retain_keys(out, patch)
    ordered: set[str] = set()
    for key, value in patch.items():
        if key.startswith(ORDER):
            ordered.add(_ordered_list(out, patch, key, value, node))
    for key, value in patch.items():
        if key == RETAIN or key.startswith(ORDER) or key in ordered:
            continue
        if key.startswith(DELETE_LIST):
            _merge_field(out, _extract_key(key, DELETE_LIST, _BAD_PRIMITIVE), value, node, True)
        else:
            _merge_field(out, key, value, node, False)
    return out


def _map_directive(patch: dict[str, Any]) -> dict[str, Any]:
    directive = patch[DIRECTIVE]
    if directive == "replace":
        out = clean({k: v for k, v in patch.items() if k != DIRECTIVE}, True)
        assert isinstance(out, dict)
        return out
    if directive == "delete":
        return {}
    raise bad_patch_type(directive, patch)


def _extract_key(key: str, prefix: str, error: str) -> str:
    parts = key.split("/", 1)
    if len(parts) < 2 or parts[0] != prefix:
        raise PatchError(error, 400)
    return parts[1]


def _retain_keys(out: dict[str, Any], patch: dict[str, Any]) -> None:
    keys = patch[RETAIN]
    if not isinstance(keys, list):
        raise PatchError(_BAD_RETAIN, 400)
    allowed = {scalar_key(k) for k in keys}
    for key, value in patch.items():
        if key == RETAIN or value is None or key.startswith((DELETE_LIST, ORDER)):
            continue
        if scalar_key(key) not in allowed:
            raise PatchError(_BAD_RETAIN, 400)
    for key in [k for k in out if scalar_key(k) not in allowed]:
        del out[key]


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is DROP:
        out.pop(key, None)
    else:
        out[key] = value


def _merge_field(out: dict[str, Any], key: str, value: Any, node: Node | None, is_delete: bool) -> None:
    if value is None:
        out.pop(key, None)
        return
    current = out.get(key, DROP)
    if current is DROP or type(current) is not type(value):
        if not is_delete:
            _put(out, key, clean(value, True))
        return
    if isinstance(value, dict):
        child = child_node(node, key)
        if split_strategy(child)[1] == "replace":
            _put(out, key, clean(value, True))
        else:
            out[key] = _merge_map(current, value, child)
    elif isinstance(value, list):
        out[key] = _merge_list_field(current, value, child_node(node, key), is_delete)
    else:
        out[key] = value


def _merge_list_field(current: list[Any], value: list[Any], child: Node | None, is_delete: bool) -> list[Any]:
    strategy, merge_key, elem = list_meta(child)
    if strategy == "merge" or is_delete:
        return _merge_list(current, value, elem, merge_key, is_delete)
    out = clean(value, True)
    assert isinstance(out, list)
    return out


class _Backing:
    """The Go backing array of a live list, as upstream's in-place deletes and appends leave it.

    Upstream deletes list elements by shifting the live slice left in place and appends new
    elements into the freed slots; the $setElementOrder step then orders by that mutated view of
    the live list. Only the first len(live) slots are visible, so the result does not depend on
    Go's slice capacity. Keeping the same view keeps our element order identical to upstream's.
    """

    def __init__(self, items: list[Any]) -> None:
        self.items = list(items)
        self.length = len(items)

    def live(self) -> list[Any]:
        return self.items[:self.length]

    def delete_where(self, merge_key: str, key: tuple[Any, Any]) -> None:
        i = 0
        while i < self.length:
            e = self.items[i]
            if isinstance(e, dict) and merge_key in e and scalar_key(e[merge_key]) == key:
                self.items[i:self.length - 1] = self.items[i + 1:self.length]
                self.length -= 1
            else:
                i += 1

    def append(self, value: Any) -> None:
        if self.length < len(self.items):
            self.items[self.length] = value
        self.length += 1


def _merge_list(original: list[Any], patch: list[Any], elem: Node | None, merge_key: str,
                is_delete: bool, backing: _Backing | None = None) -> list[Any]:
    """Merge two lists element-wise (upstream mergeSlice)."""
    if not original and not patch:
        return original
    kind = element_type(original, patch)
    if kind is not dict:
        if is_delete:
            gone = {scalar_key(v) for v in patch}
            return [v for v in original if scalar_key(v) not in gone]
        merged = dedup(original + patch)
        return set_order(merged, patch, original, "", kind)
    if not merge_key:
        raise PatchError(f"cannot merge lists without merge key for {go_name(elem)}", 500)
    backing = backing or _Backing(original)
    replaced, patch = _special_elements(backing, patch, merge_key)
    original = backing.live() if replaced is None else replaced
    merged = _merge_elements(original, patch, merge_key, elem, backing if replaced is None else None)
    return set_order(merged, patch, original, merge_key, kind)


def _special_elements(backing: _Backing, patch: list[Any], merge_key: str) -> tuple[list[Any] | None, list[Any]]:
    """Apply "$patch" list elements (deletes go to `backing`); return the replacement list when
    a "$patch: replace" element is present (else None) and the plain patch elements."""
    rest = []
    replace = False
    for v in patch:
        if DIRECTIVE not in v:
            rest.append(v)
            continue
        directive = v[DIRECTIVE]
        if directive == "delete":
            if merge_key not in v:
                raise no_merge_key(v, merge_key)
            backing.delete_where(merge_key, scalar_key(v[merge_key]))
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch", 500)
        else:
            raise bad_patch_type(directive, v)
    if replace:
        for v in rest:
            if merge_key not in v:
                raise no_merge_key(v, merge_key)
        return [_fresh_element(v, merge_key) for v in rest], []
    return None, rest


def _fresh_element(value: dict[str, Any], merge_key: str) -> dict[str, Any]:
    """A cleaned copy of a new list element; a null merge key still identifies it, so it stays."""
    out: dict[str, Any] = clean(value, True)
    if merge_key in value:
        out.setdefault(merge_key, None)
    return out


def _merge_elements(original: list[Any], patch: list[Any], merge_key: str, elem: Node | None,
                    backing: _Backing | None) -> list[Any]:
    """Merge each patch element into the live element with the same key, or append it."""
    merged = list(original)
    where: dict[Any, int] = {}
    for i, e in enumerate(merged):
        if merge_key in e:
            where.setdefault(scalar_key(e[merge_key]), i)
    for v in patch:
        if merge_key not in v:
            raise no_merge_key(v, merge_key)
        k = scalar_key(v[merge_key])
        at = where.get(k)
        if at is None:
            where[k] = len(merged)
            merged.append(_fresh_element(v, merge_key))
            if backing is not None:
                backing.append(v)
        else:
            merged[at] = _merge_map(merged[at], v, elem)
    return merged


def _ordered_list(out: dict[str, Any], patch: dict[str, Any], key: str, order: Any, node: Node | None) -> str:
    """Merge the list named by a "$setElementOrder/<list>" key and order it (upstream
    mergePatchIntoOriginal); return the list's field name."""
    if not isinstance(order, list):
        raise bad_arg_type("[]interface {}", order)
    field = _extract_key(key, ORDER, _BAD_ORDER)
    live, patched = out.get(field), patch.get(field)
    if live is not None and not isinstance(live, list):
        raise bad_arg_type("[]interface {}", live)
    if field in patch and not isinstance(patched, list):
        raise bad_arg_type("[]interface {}", patched)
    strategy, merge_key, elem = list_meta(child_node(node, field))
    validate_order(patched or [], order, merge_key)
    if not live and patched is None:  # an empty live list is an absent one (Go omits it)
        return field
    backing = _Backing(live or [])
    merged: list[Any]
    if patched is None:
        merged = live or []
    elif not live:
        merged = clean(patched, False)
    elif strategy == "merge":
        merged = _merge_list(live, patched, elem, merge_key, False, backing)
    else:
        merged = clean(patched, True)
    kind = element_type(live or [], patched or [])
    out[field] = set_order(merged, order, backing.items, merge_key, kind)
    return field
