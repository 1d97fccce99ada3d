"""Encode the Swagger 2.0 document as a gnostic `openapi.v2.Document` protobuf.

Theory of operation: kubectl asks for `/openapi/v2` with
`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and
decodes the body with the gnostic-models message `openapi.v2.Document`
(github.com/google/gnostic-models, openapiv2/OpenAPIv2.proto). This module is
a tiny hand-written proto3 encoder for the subset of that schema the
Kubernetes document uses; it walks the JSON tree of `openapi_v2.document()`.

Field numbers encoded (message: json key = field number):

    Document:  swagger=1 info=2 schemes=5 consumes=6 produces=7 paths=8 definitions=9
               security=12 securityDefinitions=13 x-*=16 (vendor_extension)
    Info:      title=1 version=2 description=3
    Paths:     x-*=1, path=2 (NamedPathItem: name=1 value=2)
    PathItem:  get=2 put=3 post=4 delete=5 options=6 head=7 patch=8 parameters=9 x-*=10
    Operation: tags=1 summary=2 description=3 operationId=5 produces=6 consumes=7
               parameters=8 responses=9 schemes=10 deprecated=11 x-*=13
    ParametersItem: parameter=1 -> Parameter: body_parameter=1 | non_body_parameter=2
    BodyParameter:  description=1 name=2 in=3 required=4 schema=5
    NonBodyParameter: query_parameter_sub_schema=3 | path_parameter_sub_schema=4
    QueryParameterSubSchema: required=1 in=2 description=3 name=4 type=6 format=7 uniqueItems=20
    PathParameterSubSchema:  required=1 in=2 description=3 name=4 type=5 format=6 uniqueItems=19
    Responses: response_code=1 (NamedResponseValue: name=1 value=2 -> ResponseValue: response=1)
    Response:  description=1 schema=2 (SchemaItem: schema=1)
    Definitions / Properties: additional_properties=1 (NamedSchema: name=1 value=2)
    Schema:    $ref=1 format=2 title=3 description=4 default=5 required=19 enum=20
               additionalProperties=21 (AdditionalPropertiesItem: schema=1 | boolean=2)
               type=22 (TypeItem: value=1) items=23 (ItemsItem: schema=1) allOf=24
               properties=25 readOnly=27 example=30 x-*=31
    SecurityDefinitions: additional_properties=1 (NamedSecurityDefinitionsItem: name=1 value=2
               -> SecurityDefinitionsItem: api_key_security=2 -> ApiKeySecurity: type=1 name=2 in=3
               description=4)
    SecurityRequirement: additional_properties=1 (NamedStringArray: name=1 value=2 -> StringArray: value=1)
    NamedAny:  name=1 value=2 -> Any: yaml=2 (the value as JSON text, which is valid YAML)

Any other JSON-schema keyword is not encoded (the Kubernetes definitions use
none). Empty strings and false booleans are omitted, as proto3 does; a
present but empty `properties` is encoded as an empty message so Go sees it
as non-nil (kube-openapi tells objects from maps by that).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

_LEN = 2
_VARINT = 0


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _message(field: int, payload: bytes) -> bytes:
    return _key(field, _LEN) + _varint(len(payload)) + payload


def _string(field: int, value: Any) -> bytes:
    if not value:
        return b""
    return _message(field, str(value).encode())


def _strings(field: int, values: Iterable[Any]) -> bytes:
    return b"".join(_message(field, str(v).encode()) for v in values)


def _bool(field: int, value: Any) -> bytes:
    return _key(field, _VARINT) + b"\x01" if value else b""


def _any(value: Any) -> bytes:
    """gnostic Any: the value as YAML text in field 2."""
    return _string(2, orjson.dumps(value).decode() + "\n")


def _named_any(field: int, name: str, value: Any) -> bytes:
    return _message(field, _string(1, name) + _message(2, _any(value)))


def _extensions(field: int, obj: dict[str, Any]) -> bytes:
    return b"".join(_named_any(field, k, v) for k, v in obj.items() if k.startswith("x-"))


def schema(s: dict[str, Any]) -> bytes:
    """Encode one Schema message."""
    out = [_string(1, s.get("$ref")), _string(2, s.get("format")), _string(3, s.get("title")),
           _string(4, s.get("description"))]
    if "default" in s:
        out.append(_message(5, _any(s["default"])))
    out.append(_strings(19, s.get("required", ())))
    out.extend(_message(20, _any(v)) for v in s.get("enum", ()))
    extra = s.get("additionalProperties")
    if isinstance(extra, dict):
        out.append(_message(21, _message(1, schema(extra))))
    elif isinstance(extra, bool):
        out.append(_message(21, _key(2, _VARINT) + (b"\x01" if extra else b"\x00")))
    if s.get("type"):
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        out.append(_message(22, _strings(1, types)))
    if isinstance(s.get("items"), dict):
        out.append(_message(23, _message(1, schema(s["items"]))))
    out.extend(_message(24, schema(sub)) for sub in s.get("allOf", ()))
    if isinstance(s.get("properties"), dict):
        out.append(_message(25, _named_schemas(s["properties"])))
    out.append(_bool(27, s.get("readOnly")))
    if "example" in s:
        out.append(_message(30, _any(s["example"])))
    out.append(_extensions(31, s))
    return b"".join(out)


def _named_schemas(schemas: dict[str, Any]) -> bytes:
    return b"".join(_message(1, _string(1, name) + _message(2, schema(sub))) for name, sub in schemas.items())


def _parameter(p: dict[str, Any]) -> bytes:
    if p.get("in") == "body":
        body = (_string(1, p.get("description")) + _string(2, p.get("name")) + _string(3, "body")
                + _bool(4, p.get("required")) + _message(5, schema(p.get("schema", {}))))
        return _message(1, _message(1, body))
    if p.get("in") == "path":
        sub = (_bool(1, p.get("required")) + _string(2, "path") + _string(3, p.get("description"))
               + _string(4, p.get("name")) + _string(5, p.get("type")) + _string(6, p.get("format"))
               + _bool(19, p.get("uniqueItems")))
        return _message(1, _message(2, _message(4, sub)))
    sub = (_bool(1, p.get("required")) + _string(2, p.get("in")) + _string(3, p.get("description"))
           + _string(4, p.get("name")) + _string(6, p.get("type")) + _string(7, p.get("format"))
           + _bool(20, p.get("uniqueItems")))
    return _message(1, _message(2, _message(3, sub)))


def _responses(responses: dict[str, Any]) -> bytes:
    out = []
    for code, r in responses.items():
        body = _string(1, r.get("description"))
        if isinstance(r.get("schema"), dict):
            body += _message(2, _message(1, schema(r["schema"])))
        out.append(_message(1, _string(1, code) + _message(2, _message(1, body))))
    return b"".join(out)


def _operation(op: dict[str, Any]) -> bytes:
    return b"".join((
        _strings(1, op.get("tags", ())), _string(2, op.get("summary")), _string(3, op.get("description")),
        _string(5, op.get("operationId")), _strings(6, op.get("produces", ())),
        _strings(7, op.get("consumes", ())),
        b"".join(_message(8, _parameter(p)) for p in op.get("parameters", ())),
        _message(9, _responses(op.get("responses", {}))), _strings(10, op.get("schemes", ())),
        _bool(11, op.get("deprecated")), _extensions(13, op),
    ))


_METHOD_FIELDS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: dict[str, Any]) -> bytes:
    out = [_message(num, _operation(item[m])) for m, num in _METHOD_FIELDS.items() if m in item]
    out.extend(_message(9, _parameter(p)) for p in item.get("parameters", ()))
    out.append(_extensions(10, item))
    return b"".join(out)


def _security_definitions(defs: dict[str, Any]) -> bytes:
    out = []
    for name, d in defs.items():
        api_key = (_string(1, d.get("type")) + _string(2, d.get("name")) + _string(3, d.get("in"))
                   + _string(4, d.get("description")))
        out.append(_message(1, _string(1, name) + _message(2, _message(2, api_key))))
    return b"".join(out)


def _security_requirement(req: dict[str, Any]) -> bytes:
    return b"".join(_message(1, _string(1, name) + _message(2, _strings(1, scopes)))
                    for name, scopes in req.items())


def encode_document(doc: dict[str, Any]) -> bytes:
    """Encode a Swagger 2.0 JSON tree as a gnostic openapi.v2.Document."""
    info = doc.get("info", {})
    paths = b"".join(_message(2, _string(1, path) + _message(2, _path_item(item)))
                     for path, item in doc.get("paths", {}).items())
    return b"".join((
        _string(1, doc.get("swagger")),
        _message(2, _string(1, info.get("title")) + _string(2, info.get("version"))
                 + _string(3, info.get("description"))),
        _strings(5, doc.get("schemes", ())), _strings(6, doc.get("consumes", ())),
        _strings(7, doc.get("produces", ())),
        _message(8, paths),
        _message(9, _named_schemas(doc.get("definitions", {}))),
        b"".join(_message(12, _security_requirement(r)) for r in doc.get("security", ())),
        _message(13, _security_definitions(doc.get("securityDefinitions", {}))),
        _extensions(16, doc),
    ))
