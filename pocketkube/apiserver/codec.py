"""Request bodies in, response bodies out: JSON, YAML and protobuf, and content negotiation.

Theory of operation: bytes are decoded exactly once at the HTTP edge into a JSON
tree and encoded once on the way out. Request bodies may be JSON, YAML or the
Kubernetes protobuf envelope (kubectl 1.32's typed commands); replies are JSON
(or YAML when asked) because every client we serve also accepts JSON. The
`Accept` header additionally selects a *shape*: a plain object/list, a
meta.k8s.io Table, or PartialObjectMetadata(List).
"""

from __future__ import annotations

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

try:
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _YamlLoader = yaml.SafeLoader


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


def decode_yaml(body: bytes) -> Any:
    try:
        return yaml.load(body, Loader=_YamlLoader)
    except yaml.YAMLError as e:
        raise errors.bad_request(f"error converting YAML to JSON: {_one_line(str(e))}") from None


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
