"""Create the strategic merge patch that turns one object into another (upstream CreateTwoWayMergePatch).

Theory of operation: walk `modified` against `original` guided by the schema node:
  * a key only in `modified`, or whose value changed type, goes into the patch as is;
  * a key only in `original` becomes null (delete);
  * maps recurse (a field with strategy "replace" is sent whole); fields with strategy retainKeys
    also get "$retainKeys": the sorted keys of the modified map;
  * lists without merge strategy are sent whole when they differ;
  * merging lists of objects are compared by merge key (both sides sorted by the key's text):
    changed elements send their own diff plus the key, new elements are sent whole, removed ones
    become {"$patch": "delete", key: ...}; "$setElementOrder/<list>" (the modified keys in order)
    is sent whenever anything changed or the order differs;
  * merging lists of scalars send the added values in modified order, the removed ones in
    "$deleteFromPrimitiveList/<list>", and "$setElementOrder/<list>" = the modified list.
Applying the result to `original` with `apply_strategic_merge_patch` yields `modified` for objects
without nulls and without duplicate merge keys or duplicate set elements (upstream has the same
limits). Unlike upstream, a field the schema does not know is diffed as a plain map instead of
failing. The patch shares subtrees with `modified`.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.schema import Node
from pocketkube.machinery.jsonpatch import PatchError, json_equal
from pocketkube.machinery.smpcore import (
    DELETE_LIST,
    DIRECTIVE,
    ORDER,
    RETAIN,
    child_node,
    dedup,
    element_type,
    go_v,
    normalize_order,
    scalar_key,
    split_strategy,
    validate_merge_keys,
)

__all__ = ["create_two_way_merge_patch"]


def create_two_way_merge_patch(original: dict[str, Any], modified: dict[str, Any],
                               node: Node | None) -> dict[str, Any]:
    """A strategic merge patch that turns `original` into `modified` (schema node of the object)."""
    return _diff_maps(original, modified, node, False)


def _diff_maps(original: dict[str, Any], modified: dict[str, Any], node: Node | None,
               retain: bool) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    retained: list[str] = []
    for key, new in modified.items():
        if retain and new is not None:
            retained.append(key)
        if key not in original:
            patch[key] = new
            continue
        old = original[key]
        if key == DIRECTIVE:
            if not isinstance(old, str) or not isinstance(new, str):
                raise PatchError(f"invalid value for special key: {DIRECTIVE}", 500)
            if old != new:
                patch[key] = new
        elif type(old) is not type(new):
            patch[key] = new
        elif isinstance(new, dict):
            _diff_map_field(patch, key, old, new, child_node(node, key))
        elif isinstance(new, list):
            _diff_list_field(patch, key, old, new, child_node(node, key))
        elif not json_equal(old, new):
            patch[key] = new
    for key in original:
        if key not in modified:
            patch[key] = None
    if retained and (patch or any(v is not None and k not in modified for k, v in original.items())):
        patch[RETAIN] = sorted(retained, key=go_v)
    return patch


def _diff_map_field(patch: dict[str, Any], key: str, old: dict[str, Any], new: dict[str, Any],
                    child: Node | None) -> None:
    retain, strategy = split_strategy(child)
    if strategy == "replace":
        patch[key] = new
        return
    sub = _diff_maps(old, new, child, retain)
    if sub:
        patch[key] = sub


def _diff_list_field(patch: dict[str, Any], key: str, old: list[Any], new: list[Any],
                     child: Node | None) -> None:
    retain, strategy = split_strategy(child)
    if strategy != "merge" or child is None:
        if not json_equal(old, new):
            patch[key] = new
        return
    added, deleted, order = _diff_lists(old, new, child.items, child.patch_merge_key, retain)
    if added:
        patch[key] = added
    if deleted:
        patch[f"{DELETE_LIST}/{key}"] = deleted
    if order:
        patch[f"{ORDER}/{key}"] = order


def _diff_lists(old: list[Any], new: list[Any], elem: Node | None, merge_key: str,
                retain: bool) -> tuple[list[Any], list[Any], list[Any]]:
    """(patch list, primitive deletion list, $setElementOrder list) of a merging list."""
    if not old:
        return new, [], []
    kind = element_type(old, new)
    if kind is dict:
        changed, deleted = _diff_lists_of_maps(old, new, elem, merge_key, retain)
        changed = normalize_order(changed, new, merge_key, kind) + deleted
        if changed or not _same_order(old, new, merge_key):
            return changed, [], [{merge_key: e.get(merge_key)} for e in new]
        return changed, [], []
    added, removed = _diff_lists_of_scalars(old, new)
    added = normalize_order(added, new, merge_key, kind)
    order = new if removed or not json_equal(old, new) else []
    return added, removed, order


def _same_order(old: list[Any], new: list[Any], merge_key: str) -> bool:
    if len(old) != len(new):
        return False
    return all(scalar_key(a[merge_key]) == scalar_key(b[merge_key]) for a, b in zip(old, new, strict=True))


def _diff_lists_of_scalars(old: list[Any], new: list[Any]) -> tuple[list[Any], list[Any]]:
    before = sorted(old, key=go_v)
    after = sorted(new, key=go_v)
    added: list[Any] = []
    removed: list[Any] = []
    i = j = 0
    while i < len(before) or j < len(after):
        a = go_v(before[i]) if i < len(before) else None
        b = go_v(after[j]) if j < len(after) else None
        if a is not None and a == b:
            i += 1
            j += 1
        elif a is None or (b is not None and a > b):
            added.append(after[j])
            j += 1
        else:
            removed.append(before[i])
            i += 1
    return added, dedup(removed)


def _diff_lists_of_maps(old: list[Any], new: list[Any], elem: Node | None, merge_key: str,
                        retain: bool) -> tuple[list[Any], list[Any]]:
    validate_merge_keys(merge_key, old, new)
    before = sorted(old, key=lambda e: go_v(e[merge_key]))
    after = sorted(new, key=lambda e: go_v(e[merge_key]))
    changed: list[Any] = []
    deleted: list[Any] = []
    i = j = 0
    while i < len(before) or j < len(after):
        a = go_v(before[i][merge_key]) if i < len(before) else None
        b = go_v(after[j][merge_key]) if j < len(after) else None
        if a is not None and a == b:
            sub = _diff_maps(before[i], after[j], elem, retain)
            if sub:
                sub[merge_key] = after[j][merge_key]
                changed.append(sub)
            i += 1
            j += 1
        elif a is None or (b is not None and a > b):
            changed.append(after[j])
            j += 1
        else:
            deleted.append({DIRECTIVE: "delete", merge_key: before[i][merge_key]})
            i += 1
    return changed, deleted
