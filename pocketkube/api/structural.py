"""Structural decoding and defaulting of JSON objects against the API schema.

Theory of operation: kube-apiserver decodes a request body into a typed Go
struct. That step (1) rejects values of the wrong JSON type (400 BadRequest,
"json: cannot unmarshal ..."), (2) drops or reports fields the type does not
have (fieldValidation Strict/Warn/Ignore), (3) turns JSON nulls into absent
values and normalises special strings (times in UTC, canonical quantities).
Then the versioned defaulters run. `decode` reproduces steps 1-3 on a dict, in
place, guided by `schema.Node`s; `apply_defaults` runs the type-keyed defaulters
of `api/defaults` for every node whose type has one, parent before children.

Both are walks over the object only (never over the whole schema), so their cost
is proportional to the object's size. Subtrees whose types can never reach a
defaulter are skipped by `apply_defaults`.
"""

from __future__ import annotations

import base64
import binascii
import functools
from datetime import UTC, datetime
from typing import Any

from pocketkube.api import defaults as defaults_registry
from pocketkube.api import quantity, schema
from pocketkube.api.schema import Node

_GO_SCALAR = {
    schema.STRING: "string", schema.BOOLEAN: "bool", schema.NUMBER: "float64",
    schema.INT_OR_STRING: "intstr.IntOrString", schema.QUANTITY: "resource.Quantity",
    schema.TIME: "v1.Time", schema.MICROTIME: "v1.MicroTime",
}
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


class TypeMismatch(ValueError):
    """A JSON value has the wrong type for its field (Go's UnmarshalTypeError)."""

    def __init__(self, value: Any, node: Node, struct: str, path: str, detail: str = "") -> None:
        self.path = path
        got = _json_type(value)
        if detail:
            msg = detail
        elif struct:
            msg = (f"json: cannot unmarshal {got} into Go struct field {struct}.{_dotted(path)} "
                   f"of type {_go_type(node)}")
        else:
            msg = f"json: cannot unmarshal {got} into Go value of type {_go_type(node)}"
        super().__init__(msg)


def _dotted(path: str) -> str:
    """Go reports struct field paths without list indices."""
    out = []
    for part in path.split("."):
        b = part.find("[")
        out.append(part if b < 0 else part[:b])
    return ".".join(p for p in out if p)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _go_type(node: Node) -> str:
    k = node.kind
    if k == schema.OBJECT:
        return "v1." + node.ref.rsplit(".", 1)[-1]
    if k == schema.ARRAY:
        return "[]" + _go_type(node.items) if node.items else "[]interface {}"
    if k == schema.MAP:
        return "map[string]" + (_go_type(node.items) if node.items else "interface {}")
    if k == schema.INTEGER:
        return "int64" if node.format == "int64" else "int32"
    return _GO_SCALAR.get(k, "interface {}")


class Decoder:
    """One decode pass: collects unknown field paths and normalises values in place."""

    __slots__ = ("prune", "unknown")

    def __init__(self, *, prune: bool = True) -> None:
        self.prune = prune
        self.unknown: list[str] = []

    def object(self, value: Any, node: Node, path: str, struct: str) -> Any:
        if not isinstance(value, dict):
            raise TypeMismatch(value, node, struct, path)
        definition = node.definition
        props = definition.properties
        if not props and not definition.raw.get("properties"):
            return value  # free-form object
        prefix = path + "." if path else ""
        name = definition.short_name
        for key in list(value):
            sub = props.get(key)
            child = prefix + key
            if sub is None:
                if definition.preserve_unknown:
                    continue
                self.unknown.append(child)
                if self.prune:
                    del value[key]
                continue
            v = value[key]
            if v is None:
                del value[key]
                continue
            value[key] = self.value(v, sub, child, name)
        return value

    def value(self, value: Any, node: Node, path: str, struct: str) -> Any:
        k = node.kind
        if k == schema.OBJECT:
            return self.object(value, node, path, struct)
        if k == schema.STRING:
            if not isinstance(value, str):
                raise TypeMismatch(value, node, struct, path)
            if node.format == "byte":
                _check_base64(value, node, struct, path)
            return value
        if k == schema.ARRAY:
            if not isinstance(value, list):
                raise TypeMismatch(value, node, struct, path)
            items = node.items
            assert items is not None
            for i, v in enumerate(value):
                value[i] = self.value(v, items, f"{path}[{i}]", struct) if v is not None else _zero(items)
            return value
        if k == schema.MAP:
            if not isinstance(value, dict):
                raise TypeMismatch(value, node, struct, path)
            items = node.items
            assert items is not None
            for key, v in value.items():
                value[key] = self.value(v, items, f"{path}[{key}]", struct) if v is not None else _zero(items)
            return value
        return _scalar(value, node, path, struct)


def _scalar(value: Any, node: Node, path: str, struct: str) -> Any:
    k = node.kind
    if k == schema.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise TypeMismatch(value, node, struct, path)
        lo, hi = _INT64 if node.format == "int64" else _INT32
        if not lo <= value <= hi:
            raise TypeMismatch(value, node, struct, path)
        return value
    if k == schema.BOOLEAN:
        if not isinstance(value, bool):
            raise TypeMismatch(value, node, struct, path)
        return value
    if k == schema.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeMismatch(value, node, struct, path)
        return value
    if k == schema.INT_OR_STRING:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeMismatch(value, node, struct, path)
        return value
    if k == schema.QUANTITY:
        return _quantity(value, node, path, struct)
    if k in (schema.TIME, schema.MICROTIME):
        return _time(value, node, path, struct)
    return value  # ANY


def _quantity(value: Any, node: Node, path: str, struct: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeMismatch(value, node, struct, path)
    try:
        return quantity.canonical(str(value) if not isinstance(value, str) else value)
    except ValueError as e:
        raise TypeMismatch(value, node, struct, path, detail=str(e)) from None


def _time(value: Any, node: Node, path: str, struct: str) -> str:
    if not isinstance(value, str):
        raise TypeMismatch(value, node, struct, path)
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise TypeMismatch(value, node, struct, path,
                           detail=f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse') from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    t = t.astimezone(UTC)
    if node.kind == schema.MICROTIME:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_base64(value: str, node: Node, struct: str, path: str) -> None:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise TypeMismatch(value, node, struct, path, detail="illegal base64 data at input byte 0") from None


def _zero(node: Node) -> Any:
    return {schema.STRING: "", schema.INTEGER: 0, schema.NUMBER: 0, schema.BOOLEAN: False,
            schema.OBJECT: {}}.get(node.kind)


def decode(obj: dict[str, Any], definition_name: str, *, prune: bool = True) -> list[str]:
    """Check and normalise `obj` in place; returns the unknown field paths (pruned if `prune`).

    Raises TypeMismatch on the first value of the wrong type.
    """
    d = Decoder(prune=prune)
    d.object(obj, schema.get_schema().root(definition_name), "", "")
    return d.unknown


# --- defaulting --------------------------------------------------------------------


@functools.cache
def _reaches_defaulter(definition_name: str) -> bool:
    """True if this type or any type nested in it has a registered defaulter."""
    return _reaches(definition_name, frozenset())


def _reaches(name: str, seen: frozenset[str]) -> bool:
    table = defaults_registry.load_all()
    if name in table:
        return True
    if name in seen:
        return False
    seen = seen | {name}
    for node in schema.get_schema().definition(name).properties.values():
        ref = _object_ref(node)
        if ref and _reaches(ref, seen):
            return True
    return False


def _object_ref(node: Node) -> str:
    while node.kind in (schema.ARRAY, schema.MAP) and node.items is not None:
        node = node.items
    return node.ref if node.kind == schema.OBJECT else ""


def apply_defaults(obj: dict[str, Any], definition_name: str) -> None:
    """Run the registered defaulters over `obj` (in place), parent before children."""
    _default_object(obj, definition_name, defaults_registry.load_all())


def _default_object(obj: Any, name: str, table: dict[str, list[defaults_registry.Defaulter]]) -> None:
    if not isinstance(obj, dict) or not _reaches_defaulter(name):
        return
    for fn in table.get(name, ()):
        fn(obj)
    props = schema.get_schema().definition(name).properties
    for key, value in obj.items():
        node = props.get(key)
        if node is None:
            continue
        ref = _object_ref(node)
        if ref:
            _default_value(value, node, ref, table)


def _default_value(value: Any, node: Node, ref: str, table: dict[str, list[defaults_registry.Defaulter]]) -> None:
    if node.kind == schema.OBJECT:
        _default_object(value, ref, table)
    elif node.kind == schema.ARRAY and isinstance(value, list) and node.items is not None:
        for v in value:
            _default_value(v, node.items, ref, table)
    elif node.kind == schema.MAP and isinstance(value, dict) and node.items is not None:
        for v in value.values():
            _default_value(v, node.items, ref, table)
