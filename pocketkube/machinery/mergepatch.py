"""RFC 7386 JSON merge patch, as kube-apiserver 1.32 applies it (evanphx/json-patch v4 MergePatch).

Theory of operation: the patch mirrors the document's shape. An object in the patch merges into
the object at the same place: a member whose value is null deletes that key, any other member
merges recursively; a non-object patch value (array, string, number, ...) replaces what was there.
New values taken from the patch have their null object members dropped at every depth (also
inside arrays), as upstream's pruneNulls does; the one exception, also upstream's, is a patch
array or scalar replacing an existing object, which is taken as it is.

The document is never mutated: every object on a changed path is shallow-copied, and untouched
subtrees are shared between the input and the result (copy the result before mutating it in
place). Values taken from the patch are fresh copies.

A patch body that is null or a scalar is not a merge patch: upstream answers 400 "Invalid JSON
Patch". An array patch replaces the whole document.
"""

from __future__ import annotations

from typing import Any

from pocketkube.machinery.jsonpatch import PatchError

__all__ = ["PatchError", "apply_merge_patch"]


def _pruned(value: Any) -> Any:
    """A copy of a patch value with null object members removed at every depth."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _copied(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


def _merge_value(current: Any, patch: Any) -> Any:
    if not isinstance(current, dict):
        return _pruned(patch)
    if not isinstance(patch, dict):
        return _copied(patch)
    return _merge_object(current, patch)


def _merge_object(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
            continue
        current = out.get(key)
        out[key] = _pruned(value) if current is None else _merge_value(current, value)
    return out


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """Apply a JSON merge patch (decoded body) to `doc` and return the result; `doc` is not mutated."""
    if isinstance(patch, list):
        return _pruned(patch)
    if not isinstance(patch, dict):
        raise PatchError("Invalid JSON Patch", 400)
    if not isinstance(doc, dict):
        return _pruned(patch)
    return _merge_object(doc, patch)
