"""Structural decoding and defaulting of JSON objects against the API schema.

Theory of operation: kube-apiserver decodes a request body into a typed Go
struct. That step (1) rejects values of the wrong JSON type (400 BadRequest,
"json: cannot unmarshal ..."), (2) drops or reports fields the type does not
have (fieldValidation Strict/Warn/Ignore), (3) turns JSON nulls into absent
values and normalises special strings (times in UTC, canonical quantities).
Then the versioned defaulters run. `decode` reproduces steps 1-3 on a dict, in
place, guided by `schema.Node`s; `apply_defaults` runs the type-keyed defaulters
of `api/defaults` for every node whose type has one, parent before children.

Step 3 also does what the typed round trip does to empty values: a field whose
Go type is an `omitempty` (non-pointer) map, slice or []byte is dropped when the
client sent it empty (`labels: {}`, `finalizers: []`), since the Go value would
not be encoded again. The omitempty flags come from the protobuf descriptor table
(data/protobuf-descriptors.json, see api/protobuf), which records Go's struct
tags per message; `metadata.managedFields` is exempt because `[]` there is a
request (reset) the field manager still has to see. Times parse as Go's
time.Parse with metav1's layouts (RFC 3339; MicroTime with exactly six fraction
digits) and report Go's errors; []byte values decode as Go's base64.StdEncoding
(newlines skipped, first bad byte reported) and are stored re-encoded.

Both are walks over the object only (never over the whole schema), so their cost
is proportional to the object's size. Subtrees whose types can never reach a
defaulter are skipped by `apply_defaults`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib.resources
import re
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pocketkube.api import defaults as defaults_registry
from pocketkube.api import quantity, schema
from pocketkube.api.labels import go_quote
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

    def __init__(self, value: Any, node: Node, struct: str, path: str, detail: str = "", literal: bool = False) -> None:
        self.path = path
        got = _json_type(value)
        if literal:  # a number the integer field cannot hold: Go names its literal
            got += " " + (repr(value) if isinstance(value, float) else str(value))
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
    if k == schema.OBJECT:  # package.Type, the package being the definition name's last but one part
        return ".".join(node.ref.rsplit(".", 2)[-2:])
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

    def object(self, value: Any, node: Node, path: str, struct: str, skip: Collection[str] = ()) -> Any:
        if not isinstance(value, dict):
            raise TypeMismatch(value, node, struct, path)
        definition = node.definition
        props = definition.properties
        if not props and not definition.raw.get("properties"):
            return value  # free-form object
        prefix = path + "." if path else ""
        name = definition.short_name
        omit = _OMIT_EMPTY.get(definition.name)
        if omit is None:
            omit = _OMIT_EMPTY[definition.name] = _omit_empty(definition.name)
        for key in list(value):
            if key in skip:
                continue
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
            v = value[key] = self.value(v, sub, child, name)
            if not v and key in omit:
                del value[key]
        return value

    def value(self, value: Any, node: Node, path: str, struct: str) -> Any:
        k = node.kind
        if k == schema.OBJECT:
            return self.object(value, node, path, struct)
        if k == schema.STRING:
            if not isinstance(value, str):
                raise TypeMismatch(value, node, struct, path)
            if node.format == "byte":
                return _check_base64(value, node, struct, path)
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
                raise TypeMismatch(value, node, struct, path, literal=isinstance(value, float))
        lo, hi = _INT64 if node.format == "int64" else _INT32
        if not lo <= value <= hi:
            raise TypeMismatch(value, node, struct, path, literal=True)
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


_CANONICAL_TIME = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_CANONICAL_MICROTIME = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def _time(value: Any, node: Node, path: str, struct: str) -> str:
    if not isinstance(value, str):
        raise TypeMismatch(value, node, struct, path)
    micro = node.kind == schema.MICROTIME
    if (_CANONICAL_MICROTIME if micro else _CANONICAL_TIME).fullmatch(value):
        try:  # already in the form it is stored in (UTC, as formatted below): check the ranges only
            datetime.fromisoformat(value)
            return value
        except ValueError:
            pass  # out of range: the Go-faithful parser below words the error
    try:
        t = parse_go_time(value, micro=micro)
    except (ValueError, OverflowError) as e:
        raise TypeMismatch(value, node, struct, path, detail=str(e)) from None
    if micro:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Go's time.Parse with metav1's layouts ----------------------------------------------

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
# Layout chunks: (layout text, parser name); literals are matched as prefixes.
_CHUNKS = (("2006", "year"), ("-", ""), ("01", "month"), ("-", ""), ("02", "day"), ("T", ""), ("15", "hour"),
           (":", ""), ("04", "minute"), (":", ""), ("05", "second"))
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _num(s: str, fixed: bool) -> tuple[int, str] | None:
    """Go's getnum: one or two leading digits (two when fixed)."""
    if not s[:1].isdigit() or not s[:1].isascii():
        return None
    if len(s) < 2 or not ("0" <= s[1] <= "9"):
        return None if fixed else (int(s[0]), s[1:])
    return int(s[:2]), s[2:]


_COMMON_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})")


def parse_go_time(value: str, *, micro: bool = False) -> datetime:
    """time.Parse(RFC3339 or metav1.RFC3339Micro, value) in UTC; ValueError with Go's message.

    The forms clients send (two-digit fields, up to six fraction digits) take a fast path through
    datetime.fromisoformat; everything else, and every error, goes through the Go-faithful parser."""
    m = _COMMON_TIME.fullmatch(value)
    if m and (not micro or len(m.group(1) or "") == 7):
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            pass
    return _parse_go_time(value, micro)


def _parse_go_time(value: str, micro: bool) -> datetime:
    layout = RFC3339_MICRO if micro else RFC3339
    rest, f, nsec = value, {"year": 0, "month": 0, "day": 0, "hour": 0, "minute": 0, "second": 0}, 0

    def cannot(elem: str, at: str) -> ValueError:
        return ValueError(f"parsing time {go_quote(value)} as {go_quote(layout)}: cannot parse "
                          f"{go_quote(at)} as {go_quote(elem)}")

    def out_of_range(what: str) -> ValueError:
        return ValueError(f"parsing time {go_quote(value)}: {what} out of range")

    for elem, name in _CHUNKS:
        if not name:
            if not rest.startswith(elem):
                raise cannot(elem, rest)
            rest = rest[len(elem):]
            continue
        if name == "year":
            if len(rest) < 4 or not "0" <= rest[0] <= "9":
                raise cannot(elem, rest)
            if not rest[:4].isdigit() or not rest[:4].isascii():
                raise cannot(elem, rest[4:])
            f["year"], rest = int(rest[:4]), rest[4:]
            continue
        got = _num(rest, fixed=name != "hour")
        if got is None:
            raise cannot(elem, rest)
        f[name], rest = got
        if name in ("month", "hour", "minute", "second") and not _in_range(name, f[name]):
            raise out_of_range(name)
    nsec, rest = _fraction(rest, micro, cannot, out_of_range)
    offset, rest = _zone(rest, cannot, out_of_range)
    if rest:
        raise ValueError(f"parsing time {go_quote(value)}: extra text: {go_quote(rest)}")
    year, month, day = f["year"], f["month"], f["day"]
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day < 1 or day > _DAYS[month - 1] + (1 if month == 2 and leap else 0):
        raise ValueError(f"parsing time {go_quote(value)}: day out of range")
    t = datetime(max(year, 1), month, day, f["hour"], f["minute"], f["second"], nsec // 1000, tzinfo=UTC)
    return t - timedelta(seconds=offset)


def _in_range(name: str, n: int) -> bool:
    return {"month": 1 <= n <= 12, "hour": n < 24, "minute": n < 60, "second": n < 60}[name]


def _fraction(rest: str, micro: bool, cannot: Any, out_of_range: Any) -> tuple[int, str]:
    """Fractional seconds: any number of digits after `05`; exactly six where the layout says `.000000`."""
    if micro:
        if len(rest) < 7:
            raise cannot(".000000", rest)
        digits = rest[1:7]
        if rest[0] not in ".," or not digits.isdigit() or not digits.isascii():
            raise cannot(".000000", rest[7:])
        return int(digits) * 1000, rest[7:]
    if len(rest) < 2 or rest[0] not in ".," or not ("0" <= rest[1] <= "9"):
        return 0, rest
    n = 2
    while n < len(rest) and "0" <= rest[n] <= "9":
        n += 1
    digits = rest[1:min(n, 10)]
    return int(digits) * 10 ** (9 - len(digits)), rest[n:]


def _zone(rest: str, cannot: Any, out_of_range: Any) -> tuple[int, str]:
    """`Z07:00`: Z, or ±hh:mm (offsets up to 24:60, as Go allows); returns (seconds east of UTC, rest)."""
    if rest.startswith("Z"):
        return 0, rest[1:]
    if len(rest) < 6 or rest[3] != ":":
        raise cannot("Z07:00", rest)
    sign, hh, mm, after = rest[0], _num(rest[1:3], True), _num(rest[4:6], True), rest[6:]
    if hh is None or mm is None:
        raise cannot("Z07:00", after)
    if hh[0] > 24 or mm[0] > 60:
        raise out_of_range("time zone offset " + ("hour" if hh[0] > 24 else "minute"))
    if sign not in "+-":
        raise cannot("Z07:00", after)
    offset = (hh[0] * 60 + mm[0]) * 60
    return (offset if sign == "+" else -offset), after


# --- Go's base64.StdEncoding -------------------------------------------------------------

_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _check_base64(value: str, node: Node, struct: str, path: str) -> str:
    """The value Go would store: decoded as StdEncoding does, then encoded again."""
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        bad = _base64_error_offset(value.encode())
        if bad is not None:
            raise TypeMismatch(value, node, struct, path, detail=f"illegal base64 data at input byte {bad}") from None
        data = base64.b64decode(value.replace("\r", "").replace("\n", ""))
    canonical = base64.b64encode(data).decode()
    return value if canonical == value else canonical


def _base64_error_offset(src: bytes) -> int | None:
    """Where Go's StdEncoding decoder fails on `src` (\\r and \\n are skipped), None if it does not."""
    si, n = 0, len(src)
    while si < n:
        j = 0
        while j < 4:
            if si == n:
                return None if j == 0 else si - j
            c = src[si]
            si += 1
            if c in _B64:
                j += 1
            elif c in b"\r\n":
                continue
            elif c != 61 or j < 2:  # not '=', or padding too early
                return si - 1
            else:
                return _base64_padding_error(src, si, j)
    return None


def _base64_padding_error(src: bytes, si: int, j: int) -> int | None:
    """After the first '=' of a quantum with `j` data characters."""
    n = len(src)
    if j == 2:  # "==" expected
        while si < n and src[si] in b"\r\n":
            si += 1
        if si == n:
            return n
        if src[si] != 61:
            return si - 1
        si += 1
    while si < n and src[si] in b"\r\n":
        si += 1
    return si if si < n else None


# --- omitempty ----------------------------------------------------------------------

_OMIT_EMPTY: dict[str, frozenset[str]] = {}
_OMIT_KINDS = frozenset("MSy")  # map, string list, []byte; repeated fields of any kind are slices too
_NEVER_OMIT = frozenset({("meta.v1.ObjectMeta", "managedFields")})  # `[]` asks the field manager to reset


@functools.cache
def _descriptors() -> dict[str, list[list[Any]]]:
    raw = importlib.resources.files("pocketkube.api.data").joinpath("protobuf-descriptors.json").read_bytes()
    table: dict[str, list[list[Any]]] = orjson.loads(raw)["m"]
    return table


def _message_name(definition_name: str) -> str:
    """The descriptor table's `<package>.<version>.<Type>` for an OpenAPI definition name ("" if none)."""
    for openapi, table in (("io.k8s.api.", ""), ("io.k8s.apimachinery.pkg.apis.meta.", "meta.")):
        if definition_name.startswith(openapi):
            return table + definition_name[len(openapi):]
    return ""


def _omit_empty(definition_name: str) -> frozenset[str]:
    """JSON names of the fields whose Go type is a non-pointer omitempty map, slice or []byte."""
    return frozenset(_omit_fields(_descriptors(), _message_name(definition_name)))


def _omit_fields(table: dict[str, list[list[Any]]], message: str) -> set[str]:
    out: set[str] = set()
    for row in table.get(message, ()):
        json_name, kind, flags = row[1], row[2], row[3]
        if "I" in flags:  # an inline struct's fields are the parent's
            out |= _omit_fields(table, row[4])
        elif "O" in flags and "P" not in flags and ("R" in flags or kind in _OMIT_KINDS) \
                and (message, json_name) not in _NEVER_OMIT:
            out.add(json_name)
    return out


_ZEROS: dict[str, Any] = {schema.STRING: "", schema.INTEGER: 0, schema.NUMBER: 0, schema.BOOLEAN: False,
                          schema.QUANTITY: "0", schema.INT_OR_STRING: 0}


def _zero(node: Node) -> Any:
    """What a JSON null list item or map value becomes: the Go zero value, as Go encodes it."""
    return {} if node.kind == schema.OBJECT else _ZEROS.get(node.kind)


def decode(obj: dict[str, Any], definition_name: str, *, prune: bool = True,
           skip: Collection[str] = ()) -> list[str]:
    """Check and normalise `obj` in place; returns the unknown field paths (pruned if `prune`).

    Raises TypeMismatch on the first value of the wrong type. `skip` names top-level fields
    whose values are already decoded (exactly a stored object's): they are left as they are,
    which is what decoding them again would do.
    """
    d = Decoder(prune=prune)
    d.object(obj, schema.get_schema().root(definition_name), "", "", skip)
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


def apply_defaults(obj: dict[str, Any], definition_name: str, *, skip: Collection[str] = ()) -> None:
    """Run the registered defaulters over `obj` (in place), parent before children.

    `skip` names top-level fields holding exactly a stored (already defaulted) value: the
    object's own defaulters still run, but the walk does not descend into those fields. That
    is exact because defaulters are type-keyed (each sees only its own subtree) and
    idempotent (a defaulted subtree is their fixed point), as upstream requires.
    """
    _default_object(obj, definition_name, defaults_registry.load_all(), skip)


def _default_object(obj: Any, name: str, table: dict[str, list[defaults_registry.Defaulter]],
                    skip: Collection[str] = ()) -> None:
    if not isinstance(obj, dict) or not _reaches_defaulter(name):
        return
    for fn in table.get(name, ()):
        fn(obj)
    props = schema.get_schema().definition(name).properties
    for key, value in obj.items():
        node = props.get(key)
        if node is None or key in skip:
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
