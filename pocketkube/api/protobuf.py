"""Decode Kubernetes protobuf request bodies into the dict their JSON form would be.

Theory of operation: Go clients (kubectl 1.32's typed commands, client-go
components) send `application/vnd.kubernetes.protobuf` bodies: the magic
`k8s\\0` followed by a proto2 `runtime.Unknown` {1 typeMeta {1 apiVersion,
2 kind}, 2 raw, 3 contentEncoding, 4 contentType}. `raw` is the object encoded
with the k8s.io/api message named by the envelope's typeMeta (never by the URL).
`decode` reads the envelope, picks the message and turns `raw` into exactly the
dict Go's encoding/json would have made of the decoded Go struct, so the rest of
the server never knows which wire format the client used.

Wire reading is a small hand-written proto reader: `_scan` splits a message
into records {field number: [(wire type, value or start, end)]} (unknown
numbers are kept and simply never looked at, so they are skipped; several
occurrences of one message field merge, as in proto). Messages are then built
in table order, which is the Go struct order and so the JSON key order.

The descriptor table (data/protobuf-descriptors.json, a verbatim copy of the
team's table generated from k8s.io/api + apimachinery v0.32.4 generated.proto
joined by field number with the Go struct tags of types.go) has the shape
`{"m": {"<pkg>.<version>.<Message>": [row, ...]}, "special": {...}}` where
`<pkg>` is the Go package directory (core, apps, rbac, flowcontrol, meta, ...)
and a row is `[number, jsonName, kind, flags]` or `[..., ref]`:
  kind  s string, b bool, i int32, l int64, y bytes (base64 in JSON),
        m message (ref = message name), M map (ref = [keyKind, valueKind,
        valueRef]), T meta Time, U MicroTime, Q Quantity, X IntOrString,
        J raw JSON bytes (RawExtension, FieldsV1), S string list (ExtraValue,
        Verbs), D Duration (unused by the 1.32 API, rejected at load).
  flags R repeated, O omitempty, P pointer, I inline (jsonName is "").
The Go JSON rules applied per field (see reference/protobuf-bodies.md §5):
present non-pointer scalars that are zero and omitempty are dropped; absent
fields are dropped when omitempty and the Go value can be empty (pointer,
slice, map, scalar), else become null (pointer, slice, map, bytes, Time,
RawExtension) or the zero value (scalars, "0" Quantity, 0 IntOrString, and the
zero struct of a non-pointer message, built by decoding nothing). Inline
messages are merged into their parent. Map keys are sorted, as Go does.

Errors raise `ProtobufError` whose `reason` uses upstream wording (gogo's
"proto: ..." and "unexpected EOF"); the handler wraps it in the 400 BadRequest
upstream sends: `<Kind> in version "<v>" cannot be handled as a <Kind>: <reason>`.
"""

from __future__ import annotations

import base64
import functools
import importlib.resources
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

MAGIC = b"k8s\x00"

# API group -> Go package directory of its generated.proto (the table's prefix).
_PACKAGES = {
    "": "core", "admission.k8s.io": "admission", "admissionregistration.k8s.io": "admissionregistration",
    "apidiscovery.k8s.io": "apidiscovery", "apps": "apps", "authentication.k8s.io": "authentication",
    "authorization.k8s.io": "authorization", "autoscaling": "autoscaling", "batch": "batch",
    "certificates.k8s.io": "certificates", "coordination.k8s.io": "coordination",
    "discovery.k8s.io": "discovery", "events.k8s.io": "events", "extensions": "extensions",
    "flowcontrol.apiserver.k8s.io": "flowcontrol", "imagepolicy.k8s.io": "imagepolicy",
    "internal.apiserver.k8s.io": "apiserverinternal", "meta.k8s.io": "meta",
    "networking.k8s.io": "networking", "node.k8s.io": "node", "policy": "policy",
    "rbac.authorization.k8s.io": "rbac", "resource.k8s.io": "resource", "scheduling.k8s.io": "scheduling",
    "storage.k8s.io": "storage", "storagemigration.k8s.io": "storagemigration",
}
# meta/v1 kinds every group-version accepts (options) or that are unversioned.
_META_KINDS = frozenset({
    "CreateOptions", "DeleteOptions", "GetOptions", "ListOptions", "PatchOptions", "UpdateOptions",
    "Status", "APIVersions", "APIGroupList", "APIGroup", "APIResourceList", "WatchEvent",
})
_MASK64 = (1 << 64) - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GO_ZERO_TIME = -62135596800  # time.Time{} as Unix seconds: JSON null
_OMIT: Any = object()
_Span = tuple[int, int]
_Recs = dict[int, list[tuple[int, int, int]]]
_Msg = tuple["_Field", ...]


class ProtobufError(ValueError):
    """A body that cannot be decoded; `reason` is the bare cause, str() a 400-ready sentence."""

    def __init__(self, reason: str, api_version: str = "", kind: str = "") -> None:
        self.reason, self.api_version, self.kind = reason, api_version, kind
        if kind:
            version = api_version.rpartition("/")[2]
            super().__init__(f'{kind} in version "{version}" cannot be handled: {reason}')
        else:
            super().__init__(f"protobuf body cannot be handled: {reason}")


class _Field:
    __slots__ = ("inline", "kind", "mapval", "name", "num", "omitempty", "pointer", "ref",
                 "repeated", "wire")

    def __init__(self, row: list[Any]) -> None:
        self.num, self.name, self.kind, flags = row[0], row[1], row[2], row[3]
        self.repeated, self.omitempty = "R" in flags, "O" in flags
        self.pointer, self.inline = "P" in flags, "I" in flags
        self.wire = 0 if self.kind in "ilb" else 2
        self.ref: Any = row[4] if len(row) > 4 else None  # message name until _load resolves it
        self.mapval: _Field | None = None


@functools.cache
def _table() -> dict[str, _Msg]:
    """Load the descriptor table once; message references become direct links."""
    raw = importlib.resources.files("pocketkube.api.data").joinpath("protobuf-descriptors.json")
    data = orjson.loads(raw.read_bytes())["m"]
    table = {name: tuple(_Field(r) for r in rows) for name, rows in data.items()}
    for name, fields in table.items():
        for f in fields:
            if f.kind == "M":
                if f.ref[0] != "s":
                    raise RuntimeError(f"protobuf table: non-string map key in {name}")
                f.mapval = _resolve_ref(table, _Field([2, "", f.ref[1], "", f.ref[2]]))
                f.ref = None
            else:
                _resolve_ref(table, f)
    return table


def _resolve_ref(table: dict[str, _Msg], f: _Field) -> _Field:
    if f.kind not in _KINDS:
        raise RuntimeError(f"protobuf table: unsupported kind {f.kind!r} for {f.name}")
    if f.kind == "m":
        f.ref = table[f.ref]
    return f


def is_known(api_version: str, kind: str) -> bool:
    """Whether `decode` has a message for this envelope typeMeta."""
    return _lookup(api_version, kind) is not None


def _lookup(api_version: str, kind: str) -> _Msg | None:
    table = _table()
    group, _, version = api_version.rpartition("/")
    pkg = _PACKAGES.get(group)
    msg = table.get(f"{pkg}.{version}.{kind}") if pkg else None
    if msg is None and kind in _META_KINDS:
        msg = table.get(f"meta.v1.{kind}")
    return msg


def decode(body: bytes) -> tuple[str, str, dict[str, Any]]:
    """Decode one protobuf request body into (apiVersion, kind, JSON-shaped object)."""
    buf = bytes(body)
    if buf[:4] != MAGIC:
        raise ProtobufError("provided data does not appear to be a protobuf message, "
                            "expected prefix [107 56 115 0]")
    api_version, kind, raw = _envelope(buf)
    msg = _lookup(api_version, kind)
    if msg is None:
        raise ProtobufError(f'no kind "{kind}" is registered for version "{api_version}"', api_version, kind)
    obj: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    if raw[1] > raw[0]:
        try:
            obj.update(_message(buf, [raw], msg))
        except ProtobufError as e:
            raise ProtobufError(e.reason, api_version, kind) from None
        except RecursionError:
            raise ProtobufError("message nested too deeply", api_version, kind) from None
    return api_version, kind, obj


def _envelope(buf: bytes) -> tuple[str, str, _Span]:
    got = _scan(buf, [(4, len(buf))])
    encoding = _string(buf, got, 3)
    if encoding:
        raise ProtobufError(f"unsupported contentEncoding {encoding!r}")
    ctype = _string(buf, got, 4)
    if ctype and ctype != "application/vnd.kubernetes.protobuf":
        raise ProtobufError(f"unsupported contentType {ctype!r}")
    raw = _spans(got[2], "raw")[-1] if 2 in got else (len(buf), len(buf))
    tm = _scan(buf, _spans(got.get(1, []), "typeMeta"))
    return _string(buf, tm, 1), _string(buf, tm, 2), raw


# -- wire reading ------------------------------------------------------------------------------------

def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos >= end:
        raise ProtobufError("unexpected EOF")
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    result, shift = b & 0x7F, 7
    while True:
        pos += 1
        if pos >= end:
            raise ProtobufError("unexpected EOF")
        if shift >= 64:
            raise ProtobufError("proto: integer overflow")
        b = buf[pos]
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _MASK64, pos + 1
        shift += 7


def _scan(buf: bytes, spans: list[_Span]) -> _Recs:
    """Split message bytes into records by field number: (0, value, 0) or (wire, start, end)."""
    got: _Recs = {}
    for pos, end in spans:
        while pos < end:
            key, pos = _varint(buf, pos, end)
            wire, num = key & 7, key >> 3
            if wire == 0:
                val, pos = _varint(buf, pos, end)
                rec = (0, val, 0)
            elif wire in (1, 2, 5):  # fixed64 and fixed32 never occur in the API: skipped or rejected later
                size, pos = _varint(buf, pos, end) if wire == 2 else (8 if wire == 1 else 4, pos)
                if pos + size > end:
                    raise ProtobufError("unexpected EOF")
                rec, pos = (wire, pos, pos + size), pos + size
            else:
                raise ProtobufError(f"proto: illegal wireType {wire}")
            if num == 0:
                raise ProtobufError(f"proto: illegal tag 0 (wire type {wire})")
            recs = got.get(num)
            if recs is None:
                got[num] = [rec]
            else:
                recs.append(rec)
    return got


def _wrong(wire: int, name: str) -> ProtobufError:
    return ProtobufError(f"proto: wrong wireType = {wire} for field {name}")


def _spans(recs: list[tuple[int, int, int]], name: str) -> list[_Span]:
    out = []
    for wire, a, b in recs:
        if wire != 2:
            raise _wrong(wire, name)
        out.append((a, b))
    return out


def _string(buf: bytes, got: _Recs, num: int) -> str:
    recs = got.get(num)
    if not recs:
        return ""
    a, b = _spans(recs[-1:], "string")[0]
    return buf[a:b].decode("utf-8", "replace")


def _number(got: _Recs, num: int, name: str) -> int:
    recs = got.get(num)
    if not recs:
        return 0
    wire, val, _ = recs[-1]
    if wire != 0:
        raise _wrong(wire, name)
    return val


def _int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


_SCALARS: dict[str, Callable[[int], Any]] = {"i": _int32, "l": _int64, "b": bool}


# -- messages and Go JSON rules ----------------------------------------------------------------------

def _message(buf: bytes, spans: list[_Span], msg: _Msg) -> dict[str, Any]:
    got = _scan(buf, spans) if spans else {}
    out: dict[str, Any] = {}
    for f in msg:
        recs = got.get(f.num)
        if f.inline:
            out.update(_message(buf, _spans(recs, "(inline)") if recs else [], f.ref))
            continue
        val = _value(buf, f, recs) if recs else _absent(f)
        if val is not _OMIT:
            out[f.name] = val
    return out


def _value(buf: bytes, f: _Field, recs: list[tuple[int, int, int]]) -> Any:
    kind = f.kind
    if f.repeated:
        vals = _repeated(buf, f, recs)
        return _OMIT if f.omitempty and not vals else vals
    if kind == "M":
        return _map(buf, f, recs)
    wire, a, b = recs[-1]
    if wire != f.wire:
        raise _wrong(wire, f.name)
    if kind in _SCALARS:
        val = _SCALARS[kind](a)
    elif kind == "s":
        val = buf[a:b].decode("utf-8", "replace")
    elif kind == "y":
        val = base64.b64encode(buf[a:b]).decode("ascii")
    else:
        val = _SPECIALS[kind](buf, _spans(recs, f.name), f.ref)
        return _OMIT if kind == "S" and f.omitempty and not val else val
    return _OMIT if f.omitempty and not f.pointer and not val else val


def _repeated(buf: bytes, f: _Field, recs: list[tuple[int, int, int]]) -> list[Any]:
    kind = f.kind
    if kind in _SCALARS:
        conv, vals = _SCALARS[kind], []
        for wire, a, b in recs:
            if wire == 0:
                vals.append(conv(a))
                continue
            if wire != 2:
                raise _wrong(wire, f.name)
            while a < b:  # packed
                v, a = _varint(buf, a, b)
                vals.append(conv(v))
        return vals
    spans = _spans(recs, f.name)
    if kind == "s":
        return [buf[a:b].decode("utf-8", "replace") for a, b in spans]
    if kind == "y":
        return [base64.b64encode(buf[a:b]).decode("ascii") for a, b in spans]
    special = _SPECIALS[kind]
    return [special(buf, [span], f.ref) for span in spans]


def _map(buf: bytes, f: _Field, recs: list[tuple[int, int, int]]) -> dict[str, Any]:
    vf = f.mapval
    assert vf is not None
    out: dict[str, Any] = {}
    for span in _spans(recs, f.name):
        entry = _scan(buf, [span])
        key = _string(buf, entry, 1)  # every map in the API is keyed by string
        vrecs = entry.get(2)
        if vrecs:
            out[key] = _value(buf, vf, vrecs)
        else:
            out[key] = "" if vf.kind == "y" else _absent(vf)
    return dict(sorted(out.items())) if len(out) > 1 else out


def _absent(f: _Field) -> Any:
    kind = f.kind
    if f.omitempty and (f.pointer or f.repeated or kind in "slibyMS"):
        return _OMIT
    if f.pointer or f.repeated or kind in "MSyTUJ":
        return None
    if kind == "m":
        return _message(b"", [], f.ref)
    return _ZEROS[kind]


_ZEROS: dict[str, Any] = {"s": "", "i": 0, "l": 0, "b": False, "Q": "0", "X": 0}


# -- special messages --------------------------------------------------------------------------------

def _rfc3339(seconds: int, micros: int | None) -> str:
    try:
        t = _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise ProtobufError("Time.MarshalJSON: year outside of range [0,9999]") from None
    text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return f"{text}.{micros:06d}Z" if micros is not None else text + "Z"


def _time(buf: bytes, spans: list[_Span], _ref: Any) -> str | None:
    if all(a == b for a, b in spans):
        return None  # zero-length Time: the zero time, JSON null
    seconds = _int64(_number(_scan(buf, spans), 1, "seconds"))
    return None if seconds == _GO_ZERO_TIME else _rfc3339(seconds, None)


def _microtime(buf: bytes, spans: list[_Span], _ref: Any) -> str | None:
    if all(a == b for a, b in spans):
        return None
    got = _scan(buf, spans)
    extra, nanos = divmod(_int32(_number(got, 2, "nanos")), 1_000_000_000)
    seconds = _int64(_number(got, 1, "seconds")) + extra
    if seconds == _GO_ZERO_TIME and nanos == 0:
        return None
    return _rfc3339(seconds, nanos // 1000)


def _quantity(buf: bytes, spans: list[_Span], _ref: Any) -> str:
    got = _scan(buf, spans)
    if 1 not in got:
        return "0"
    text = _string(buf, got, 1)
    if not text:
        raise ProtobufError("quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    return text


def _intstr(buf: bytes, spans: list[_Span], _ref: Any) -> int | str:
    got = _scan(buf, spans)
    kind = _int64(_number(got, 1, "type"))
    if kind == 1:
        return _string(buf, got, 3)
    if kind != 0:
        raise ProtobufError(f"impossible IntOrString.Type {kind}")
    return _int32(_number(got, 2, "intVal"))


def _rawjson(buf: bytes, spans: list[_Span], _ref: Any) -> Any:
    recs = _scan(buf, spans).get(1)
    if not recs:
        return None
    a, b = _spans(recs[-1:], "raw")[0]
    raw = buf[a:b]
    if not raw:
        return None
    if raw[:4] == MAGIC:
        return decode(raw)[2]
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ProtobufError(f"invalid JSON in raw field: {e}") from None


def _strlist(buf: bytes, spans: list[_Span], _ref: Any) -> list[str] | None:
    recs = _scan(buf, spans).get(1)
    if not recs:
        return None  # Go: a nil []string
    return [buf[a:b].decode("utf-8", "replace") for a, b in _spans(recs, "items")]


def _submessage(buf: bytes, spans: list[_Span], ref: Any) -> dict[str, Any]:
    return _message(buf, spans, ref)


_SPECIALS: dict[str, Callable[[bytes, list[_Span], Any], Any]] = {
    "m": _submessage, "T": _time, "U": _microtime, "Q": _quantity, "X": _intstr, "J": _rawjson,
    "S": _strlist,
}
_KINDS = frozenset("silbyM") | _SPECIALS.keys()
