"""RFC 6902 JSON Patch, behaving as kube-apiserver 1.32 applies it (evanphx/json-patch v4).

Theory of operation: a patch is a list of operations applied in order to a JSON tree. Each
operation locates its target with an RFC 6901 pointer: the text after the last "/" is the key
(with "~1" -> "/" and "~0" -> "~" decoded) and everything between the first and the last "/" names
the containers to walk through. Containers are copied on write: the first time an operation
changes a dict or list reached from the input document it is shallow-copied (and re-linked into
its copied parent); containers this run created are then changed in place. So the input document
is never mutated, only the path to each change is copied, and untouched subtrees are shared
between the input and the result (copy the result before mutating it in place).

Upstream (v4) details reproduced because clients can observe them:
  * "replace" of a missing object key adds it; "replace" with path "" swaps the whole document
    (a non-container value is silently ignored);
  * array indexes accept Go's Atoi syntax ("+1", "01") and negative indexes count from the end
    ("-1" in "add" appends); "-" appends in "add" only;
  * "test" compares JSON values exactly (1 and 1.0 differ); a missing key tests equal to null;
  * "copy" deep-copies, and the bytes copied in one patch are limited (3 MiB, as the apiserver's
    JSONPatchMaxCopyBytes);
  * error texts are upstream's ("add operation does not apply: doc is missing path: ...").

Errors are `PatchError`s carrying the HTTP code kube-apiserver answers with: 400 for a body that
does not decode as a patch, 422 for a patch that does not apply (upstream then replaces the text
with a generic message: see `PatchError.status_error`), 500 for strategic merge failures that
upstream leaves unconverted. The other patch modules raise the same class.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from pocketkube.machinery.errors import StatusError

MAX_COPY_BYTES = 3 * 1024 * 1024  # kube-apiserver's default JSONPatchMaxCopyBytes
MAX_OPERATIONS = 10000  # kube-apiserver answers 413 above this (checked by the handler)

_MISSING = "missing value"
_INVALID_INDEX = "invalid index referenced"
_ATOI = re.compile(r"[+-]?[0-9]+\Z")
_INT64 = 1 << 63


class PatchError(ValueError):
    """A patch that cannot be decoded or applied; `code` is the HTTP status upstream answers."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def status_error(self) -> StatusError:
        """The Status kube-apiserver answers with for this failure."""
        if self.code == 400:
            return StatusError(400, "BadRequest", self.message)
        if self.code == 422:  # NewGenericServerResponse(422, ...) drops the server text
            return StatusError(422, "Invalid", "the server rejected our request due to an error in our request", {})
        if self.code == 413:
            return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: {self.message}")
        return StatusError(self.code, "", self.message)  # a plain Go error: reason Unknown


class _Fail(Exception):
    """An internal failure whose text is wrapped by the operation that hit it."""


def _go_json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _atoi(key: str) -> int:
    if not _ATOI.match(key):
        raise _Fail(f'strconv.Atoi: parsing "{key}": invalid syntax')
    n = int(key)
    if not -_INT64 <= n < _INT64:
        raise _Fail(f'strconv.Atoi: parsing "{key}": value out of range')
    return n


def _bad_index(idx: int) -> _Fail:
    return _Fail(f"Unable to access invalid index: {idx}: {_INVALID_INDEX}")


def _decode_key(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~") if "~" in part else part


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality as upstream compares values: types must match exactly (1 != 1.0 != true)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return len(a) == len(b) and all(k in b and json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


class _Doc:
    """The document being patched, with copy-on-write bookkeeping."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.owned: dict[int, Any] = {}  # id -> container this run created (kept alive here)
        self.copied = 0

    def own(self, value: Any) -> Any:
        if id(value) in self.owned:
            return value
        fresh = dict(value) if isinstance(value, dict) else list(value)
        self.owned[id(fresh)] = fresh
        return fresh

    def find(self, path: str) -> tuple[Any, str] | None:
        """Return the (owned) container holding the pointer's target and the decoded key."""
        parts = path.split("/")
        if len(parts) < 2:
            return None
        if not isinstance(self.root, dict | list):
            return None
        self.root = self.own(self.root)
        container: Any = self.root
        for raw in parts[1:-1]:
            try:
                slot, child = _get(container, _decode_key(raw))
            except _Fail:
                return None
            if not isinstance(child, dict | list):
                return None
            child = self.own(child)
            container[slot] = child
            container = child
        return container, _decode_key(parts[-1])


def _get(container: Any, key: str) -> tuple[Any, Any]:
    """Return (slot, value); a missing object key gives value None, a bad index raises."""
    if isinstance(container, dict):
        return key, container.get(key)
    idx = _atoi(key)
    if idx < 0:
        if idx < -len(container):
            raise _bad_index(idx)
        idx += len(container)
    if idx >= len(container):
        raise _bad_index(idx)
    return idx, container[idx]


def _add(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    try:
        idx = _atoi(key)
    except _Fail as e:
        raise _Fail(f"value was not a proper array index: '{key}': {e}") from None
    size = len(container) + 1
    if idx >= size:
        raise _bad_index(idx)
    if idx < 0:
        if idx < -size:
            raise _bad_index(idx)
        idx += size
    container.insert(idx, value)


def _remove(container: Any, key: str) -> Any:
    if isinstance(container, dict):
        if key not in container:
            raise _Fail(f"Unable to remove nonexistent key: {key}: {_MISSING}")
        return container.pop(key)
    idx = _atoi(key)
    if idx >= len(container):
        raise _bad_index(idx)
    if idx < 0:
        if idx < -len(container):
            raise _bad_index(idx)
        idx += len(container)
    return container.pop(idx)


def _field(op: dict[str, Any], name: str) -> str:
    """Read "path" or "from"; raise _Fail with upstream's text when absent or not a string."""
    value = op.get(name)
    if value is None:
        what = "operation missing path field" if name == "path" else "operation, missing from field"
        raise _Fail(f"{what}: {_MISSING}")
    if not isinstance(value, str):
        raise _Fail(f"json: cannot unmarshal {_go_json_kind(value)} into Go value of type string")
    return value


def _decode_field(op: dict[str, Any], name: str, op_name: str, detail: str | None = None) -> str:
    """`_field`, failing as upstream's `<op> operation failed to decode <name>: <detail or the error>`."""
    try:
        return _field(op, name)
    except _Fail as e:
        raise PatchError(f"{op_name} operation failed to decode {name}: {detail or e}") from None


def _located(doc: _Doc, path: str, missing: str) -> tuple[Any, str]:
    """doc.find(path); PatchError(missing) when the path's parent is not in the document."""
    found = doc.find(path)
    if found is None:
        raise PatchError(missing)
    return found


def _op_add(doc: _Doc, op: dict[str, Any]) -> None:
    path = _decode_field(op, "path", "add", detail=_MISSING)
    found = _located(doc, path, f'add operation does not apply: doc is missing path: "{path}": {_MISSING}')
    try:
        _add(found[0], found[1], op.get("value"))
    except _Fail as e:
        raise PatchError(f"error in add for path: '{path}': {e}") from None


def _op_remove(doc: _Doc, op: dict[str, Any]) -> None:
    path = _decode_field(op, "path", "remove", detail=_MISSING)
    found = _located(doc, path, f'remove operation does not apply: doc is missing path: "{path}": {_MISSING}')
    try:
        _remove(found[0], found[1])
    except _Fail as e:
        raise PatchError(f"error in remove for path: '{path}': {e}") from None


def _op_replace(doc: _Doc, op: dict[str, Any]) -> None:
    path = _decode_field(op, "path", "replace")
    value = op.get("value")
    if path == "":
        if isinstance(value, dict | list):
            doc.root = value
        return
    container, key = _located(doc, path, f"replace operation does not apply: doc is missing path: {path}: {_MISSING}")
    try:
        slot, _ = _get(container, key)
    except _Fail:
        raise PatchError(f"replace operation does not apply: doc is missing key: {path}: {_MISSING}") from None
    container[slot] = value


def _op_move(doc: _Doc, op: dict[str, Any]) -> None:
    source = _decode_field(op, "from", "move")
    container, key = _located(doc, source,
                              f"move operation does not apply: doc is missing from path: {source}: {_MISSING}")
    try:
        _get(container, key)
        value = _remove(container, key)
    except _Fail as e:
        raise PatchError(f"error in move for path: '{key}': {e}") from None
    path = _decode_field(op, "path", "move")
    found = _located(doc, path, f"move operation does not apply: doc is missing destination path: {path}: {_MISSING}")
    try:
        _add(found[0], found[1], value)
    except _Fail as e:
        raise PatchError(f"error in move for path: '{path}': {e}") from None


def _op_test(doc: _Doc, op: dict[str, Any]) -> None:
    path = _decode_field(op, "path", "test")
    failed = PatchError(f"testing value {path} failed: test failed")
    if path == "":
        if "value" not in op or not json_equal(doc.root, op["value"]):
            raise failed
        return
    found = _located(doc, path, f"test operation does not apply: is missing path: {path}: {_MISSING}")
    try:
        _, current = _get(found[0], found[1])
    except _Fail as e:
        raise PatchError(f"error in test for path: '{path}': {e}") from None
    if "value" not in op or not json_equal(current, op["value"]):
        raise failed


def _op_copy(doc: _Doc, op: dict[str, Any], limit: int) -> None:
    source = _decode_field(op, "from", "copy")
    found = _located(doc, source, f"copy operation does not apply: doc is missing from path: {source}: {_MISSING}")
    try:
        _, value = _get(found[0], found[1])
    except _Fail as e:
        raise PatchError(f"error in copy for from: '{source}': {e}") from None
    path = _decode_field(op, "path", "copy", detail=_MISSING)
    target = _located(doc, path, f"copy operation does not apply: doc is missing destination path: {path}: {_MISSING}")
    if value is not None:
        raw = orjson.dumps(value)
        doc.copied += len(raw)
        if 0 < limit < doc.copied:
            raise PatchError(f"Unable to complete the copy, the accumulated size increase of copy is "
                             f"{doc.copied}, exceeding the limit {limit}")
        value = orjson.loads(raw)
    try:
        _add(target[0], target[1], value)
    except _Fail as e:
        raise PatchError(f"error while adding value during copy: {e}") from None


def decode_operations(patch: Any) -> list[dict[str, Any]]:
    """Check the decoded body is a list of operation objects (upstream's DecodePatch)."""
    if patch is None:
        return []
    if not isinstance(patch, list):
        raise PatchError(f"json: cannot unmarshal {_go_json_kind(patch)} into Go value of type jsonpatch.Patch", 400)
    for op in patch:
        if op is not None and not isinstance(op, dict):
            raise PatchError(
                f"json: cannot unmarshal {_go_json_kind(op)} into Go value of type jsonpatch.Operation", 400)
    return [op or {} for op in patch]


def apply_json_patch(doc: Any, patch: Any, max_copy_bytes: int = MAX_COPY_BYTES) -> Any:
    """Apply an RFC 6902 patch (the decoded JSON body) to `doc` and return the new document.

    `doc` is not mutated; the result shares unchanged subtrees with it.
    """
    ops = decode_operations(patch)
    state = _Doc(doc)
    for op in ops:
        kind = op.get("op")
        if kind == "add":
            _op_add(state, op)
        elif kind == "remove":
            _op_remove(state, op)
        elif kind == "replace":
            _op_replace(state, op)
        elif kind == "move":
            _op_move(state, op)
        elif kind == "test":
            _op_test(state, op)
        elif kind == "copy":
            _op_copy(state, op, max_copy_bytes)
        else:
            raise PatchError(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")
    return state.root
