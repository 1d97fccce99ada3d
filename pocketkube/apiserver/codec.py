"""Request bodies in, response bodies out: JSON, YAML and protobuf, and content negotiation.

Theory of operation: bytes are decoded exactly once at the HTTP edge into a JSON
tree and encoded once on the way out. Request bodies may be JSON, YAML or the
Kubernetes protobuf envelope (kubectl 1.32's typed commands); replies are JSON
(or YAML when asked) because every client we serve also accepts JSON. The
`Accept` header additionally selects a *shape*: a plain object/list, a
meta.k8s.io Table, or PartialObjectMetadata(List).
"""

from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from pocketkube.api import protobuf
from pocketkube.machinery import errors

MAX_BODY_BYTES = 3 * 1024 * 1024
JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"

# --- YAML as sigs.k8s.io/yaml reads it (go-yaml v2 scalars, then a JSON round trip) ----------------

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _GoYamlLoader(_BaseLoader):
    """PyYAML's C loader with go-yaml v2's implicit types: y/n/yes/no/on/off are booleans, numbers follow
    Go's strconv (0755 is octal, 0o/0x/0b prefixes, '_' ignored, 08 and 1e3 are numbers, 12:30 is not),
    and timestamps stay strings (v2 gives interface{} targets the original text). Mapping keys become
    JSON keys as they are built (true and 1 are different keys in Go, not in a Python dict)."""

    bool_values = {"y": True, "yes": True, "true": True, "on": True, "n": False, "no": False, "false": False,
                   "off": False}

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
        self.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            value = self.construct_object(value_node, deep=deep)
            mapping[_json_key(key, value)] = value
        return mapping


_GoYamlLoader.yaml_implicit_resolvers = {}
_GoYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"),
    list("yYnNtTfFoO"))
_GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"),
                                    ["~", "n", "N", ""])
_GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
_GO_NUMBER_TAG = "tag:pocketkube,go-yaml-number"
_GoYamlLoader.add_implicit_resolver(_GO_NUMBER_TAG, re.compile(r"^[-+.0-9]"), list("-+.0123456789"))
_SPECIAL_FLOATS = {".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan, ".inf": math.inf, ".Inf": math.inf,
                   ".INF": math.inf, "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
                   "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf}
_GO_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_GO_UINT = re.compile(r"(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_TIMESTAMP_START = re.compile(r"[0-9]{4}-")


def _go_yaml_number(value: str) -> Any:
    """go-yaml v2's resolve() for a plain scalar starting with a digit, sign or dot."""
    if value in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[value]
    if value.startswith("."):
        return _go_parse_float(value, value)
    if _TIMESTAMP_START.match(value):
        return value  # a timestamp (or text): interface{} targets get the string
    plain = value.replace("_", "")
    if _GO_INT.fullmatch(plain):
        n = _go_int_literal(plain)
        if -(1 << 63) <= n < (1 << 63) or (_GO_UINT.fullmatch(plain) and n < (1 << 64)):
            return n
    if _YAML_STYLE_FLOAT.fullmatch(plain):
        return _go_parse_float(plain, value)
    if plain.startswith("-0b") and re.fullmatch(r"-0b[01]+", plain) and int(plain[3:], 2) <= (1 << 63):
        return -int(plain[3:], 2)
    return value


def _go_int_literal(plain: str) -> int:
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] in "0123456789":
        return sign * int(digits, 8)  # Go's base 0: a leading 0 means octal
    return sign * int(digits, 0)


def _go_parse_float(text: str, original: str) -> Any:
    """strconv.ParseFloat; on error (overflow to ±Inf included) the scalar stays a string."""
    try:
        f = float(text)
    except ValueError:
        return original
    return original if math.isinf(f) else f


def _construct_go_number(loader: Any, node: yaml.ScalarNode) -> Any:
    return _go_yaml_number(loader.construct_scalar(node))


def _construct_text(loader: Any, node: yaml.ScalarNode) -> Any:
    return loader.construct_scalar(node)


def _construct_binary(loader: Any, node: yaml.ScalarNode) -> Any:
    return loader.construct_yaml_binary(node).decode("utf-8", "surrogateescape")


_GoYamlLoader.add_constructor(_GO_NUMBER_TAG, _construct_go_number)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_text)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:binary", _construct_binary)


def _jsonable(value: Any) -> Any:
    """sigs.k8s.io/yaml's convertToJSONableObject plus the JSON round trip: keys become strings, floats
    Go prints without a fraction become integers, integers beyond int64 floats; NaN/Inf are refused."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}  # keys were made strings by the loader
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"json: unsupported value: {'NaN' if math.isnan(value) else '+Inf' if value > 0 else '-Inf'}")
        if value.is_integer() and abs(value) < 1e21 and -(1 << 63) <= value < (1 << 63):
            return int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and not -(1 << 63) <= value < (1 << 63):
        return float(value)
    return value


def _json_key(key: Any, value: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return _float32_g(key)
    if key is None:
        raise ValueError(f"unsupported map key of type: %!s(<nil>), key: <nil>, value: {value!r}")
    raise ValueError(f"yaml: invalid map key: {key!r}")


def _float32_g(f: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 32), as go-yaml prints a float map key."""
    if math.isinf(f) or math.isnan(f):
        return ".nan" if math.isnan(f) else (".inf" if f > 0 else "-.inf")
    f32 = struct.unpack("f", struct.pack("f", f))[0]
    digits = next(d for d in range(1, 10) if struct.unpack("f", struct.pack("f", float(f"{f32:.{d - 1}e}")))[0] == f32)
    mantissa, exp = f"{f32:.{digits - 1}e}".split("e")
    e = int(exp)
    if e < -4 or e >= 6:  # the shortest %g switches to an exponent at 1e-5 and 1e6
        return f"{mantissa}e{'-' if e < 0 else '+'}{abs(e):02d}"
    return f"{f32:.{max(digits - e - 1, 0)}f}"


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_size(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise errors.too_large(f"limit is {MAX_BODY_BYTES}")


def decode_body(content_type: str | None, body: bytes) -> Any:
    """Decode a request body by its Content-Type. Raises 400/413/415 StatusErrors."""
    check_size(body)
    mt = media_type(content_type)
    if mt == PROTOBUF:
        try:
            return protobuf.decode(body)[2]
        except protobuf.ProtobufError as e:
            raise errors.bad_request(str(e)) from None
    if mt in ("", JSON, "*/*", "application/json-patch+json", "application/merge-patch+json",
              "application/strategic-merge-patch+json"):
        return decode_json(body)
    if mt in (YAML, "application/apply-patch+yaml", "application/x-yaml", "text/yaml"):
        return decode_yaml(body)
    raise errors.unsupported_media_type(mt)


def decode_json(body: bytes) -> Any:
    if not body.strip():
        raise errors.bad_request("Object 'Kind' is missing in ''")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {e}") from None


class _Pairs(list[tuple[str, Any]]):
    """One JSON object's key/value pairs in document order (duplicates kept)."""

    __slots__ = ()


def duplicate_fields(content_type: str | None, body: bytes) -> list[str]:
    """Paths of the fields a JSON body names twice in one object (`spec.replicas`,
    `spec.template.spec.containers[0].image`), as upstream's strict JSON decoding reports
    them for fieldValidation; [] for other media types and for bodies that do not parse
    (decode_body reports those). Costs one pass of the stdlib decoder when there is none."""
    if media_type(content_type) not in ("", JSON, "*/*"):
        return []
    found = False

    def pairs(items: list[tuple[str, Any]]) -> _Pairs:
        nonlocal found
        if not found and len({k for k, _ in items}) != len(items):
            found = True
        return _Pairs(items)

    try:
        tree = json.loads(body, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return []
    paths: list[str] = []
    if found:
        _collect_duplicates(tree, "", paths)
    return paths


def _collect_duplicates(node: Any, path: str, paths: list[str]) -> None:
    if isinstance(node, _Pairs):
        seen: set[str] = set()
        for key, value in node:
            here = f"{path}.{key}" if path else key
            if key in seen and here not in paths:
                paths.append(here)
            seen.add(key)
            _collect_duplicates(value, here, paths)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _collect_duplicates(value, f"{path}[{i}]", paths)


def decode_yaml(body: bytes) -> Any:
    """YAML to the JSON tree upstream's sigs.k8s.io/yaml (go-yaml v2) would produce."""
    loader = _GoYamlLoader(body)
    try:  # go-yaml's Unmarshal reads the first document and ignores the rest
        return _jsonable(loader.get_data() if loader.check_data() else None)
    except yaml.YAMLError as e:
        raise errors.bad_request(f"error converting YAML to JSON: {_one_line(str(e))}") from None
    except ValueError as e:
        raise errors.bad_request(f"error converting YAML to JSON: {e}") from None
    finally:
        loader.dispose()


def _one_line(s: str) -> str:
    return " ".join(s.split())


def encode(obj: Any, fmt: str = JSON) -> bytes:
    if fmt == YAML:
        return yaml.safe_dump(obj, default_flow_style=False, sort_keys=False).encode()
    return orjson.dumps(obj)


@dataclass(frozen=True)
class Shape:
    """What the client asked the response to be."""

    kind: str = "object"  # object | table | partial
    format: str = JSON  # JSON | YAML
    table_version: str = "v1"


_DEFAULT_SHAPE = Shape()


def negotiate(accept: str | None) -> Shape:
    """Pick the first acceptable entry of an Accept header (406 if none is)."""
    if not accept:
        return _DEFAULT_SHAPE
    for entry in accept.split(","):
        parts = [p.strip() for p in entry.split(";")]
        mt = parts[0].lower()
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if mt in (JSON, "*/*", "application/*"):
            as_ = params.get("as", "")
            group = params.get("g", "")
            if not as_:
                return _DEFAULT_SHAPE
            if group == "meta.k8s.io" and as_ == "Table" and params.get("v") in ("v1", "v1beta1"):
                return Shape("table", JSON, params["v"])
            if group == "meta.k8s.io" and as_ in ("PartialObjectMetadata", "PartialObjectMetadataList") \
                    and params.get("v") in ("v1", "v1beta1"):
                return Shape("partial", JSON, params["v"])
            continue
        if mt in (YAML, "application/x-yaml"):
            return Shape("object", YAML)
        if mt == PROTOBUF:
            continue  # we answer protobuf clients in JSON only when they also accept JSON
    raise errors.not_acceptable(f"only the following media types are accepted: {JSON}, {YAML}")
