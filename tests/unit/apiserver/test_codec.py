"""codec: request bodies by Content-Type (JSON, YAML, protobuf), size/type errors, Accept negotiation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pocketkube.apiserver import codec
from pocketkube.apiserver.codec import Shape
from pocketkube.machinery.errors import StatusError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "protobuf"


def status_of(fn: object, *args: object) -> StatusError:
    with pytest.raises(StatusError) as e:
        fn(*args)  # type: ignore[operator]
    return e.value


# --- decode_body --------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "", "application/json", "application/json; charset=utf-8",
                                          "APPLICATION/JSON", "*/*", "application/merge-patch+json",
                                          "application/strategic-merge-patch+json", "application/json-patch+json"])
def test_json_bodies(content_type: str | None) -> None:
    assert codec.decode_body(content_type, b'{"kind":"ConfigMap","data":{"a":"1"}}') == {
        "kind": "ConfigMap", "data": {"a": "1"}}


@pytest.mark.parametrize("content_type", ["application/yaml", "application/x-yaml", "text/yaml",
                                          "application/apply-patch+yaml"])
def test_yaml_bodies(content_type: str) -> None:
    body = b"kind: ConfigMap\ndata:\n  a: '1'\n  b: 2\n"
    assert codec.decode_body(content_type, body) == {"kind": "ConfigMap", "data": {"a": "1", "b": 2}}


def test_yaml_accepts_json() -> None:
    assert codec.decode_body("application/apply-patch+yaml", b'{"a": [1, 2]}') == {"a": [1, 2]}


def test_yaml_timestamps_stay_strings() -> None:
    assert codec.decode_body("application/yaml", b"data:\n  day: 2024-01-01\n  at: 2024-01-01T10:00:00Z\n") == {
        "data": {"day": "2024-01-01", "at": "2024-01-01T10:00:00Z"}}
    assert codec.decode_body("application/yaml", b"a: !!timestamp 2024-01-01\n") == {"a": "2024-01-01"}


# Expected values are what sigs.k8s.io/yaml v1.4.0's YAMLToJSON (go-yaml v2) gives, re-read as JSON.
@pytest.mark.parametrize("text,value", [
    ("y", True), ("Y", True), ("n", False), ("yes", True), ("NO", False), ("on", True), ("Off", False),
    ("~", None), ("NULL", None), ("", None), ("'y'", "y"),
    ("0755", 493), ("0o755", 493), ("0x1F", 31), ("0x_1F", 31), ("1_000", 1000), ("08", 8), ("+5", 5),
    ("0b101", 5), ("-0b101", -5), ("1e3", 1000), ("1.0", 1), ("3.0", 3), (".5", 0.5), ("+.5", 0.5), ("1.", 1),
    ("1_0.5", 10.5), ("1e21", 1e21), ("-0", 0), ("12:30", "12:30"), ("_1", "_1"), ("1e400", "1e400"),
    ("9223372036854775808", 9223372036854775808.0),
])
def test_yaml_scalars_follow_go_yaml_v2(text: str, value: object) -> None:
    got = codec.decode_yaml(f"a: {text}\n".encode())["a"]
    assert got == value
    assert type(got) is type(value)


def test_yaml_keys_are_json_keys() -> None:
    assert codec.decode_yaml(b"yes: 1\n1: 2\n1.5: 3\n1000000.0: 4\n") == {"true": 1, "1": 2, "1.5": 3, "1e+06": 4}
    e = status_of(codec.decode_yaml, b"null: 4\n")
    assert e.message.startswith("error converting YAML to JSON: unsupported map key of type: %!s(<nil>)")


def test_yaml_values_json_cannot_hold_are_refused() -> None:
    e = status_of(codec.decode_yaml, b"a: .inf\n")
    assert (e.code, e.message) == (400, "error converting YAML to JSON: json: unsupported value: +Inf")


def test_yaml_reads_the_first_document_only() -> None:
    assert codec.decode_yaml(b"a: 1\n---\nb: 2\n") == {"a": 1}


def test_protobuf_envelope() -> None:
    body = (FIXTURES / "bodies" / "002.bin").read_bytes()
    obj = codec.decode_body("application/vnd.kubernetes.protobuf", body)
    assert obj["kind"] == "ConfigMap"
    assert obj["apiVersion"] == "v1"
    assert obj["metadata"]["name"]


def test_protobuf_garbage_is_400() -> None:
    e = status_of(codec.decode_body, "application/vnd.kubernetes.protobuf", b"{not protobuf}")
    assert (e.code, e.reason) == (400, "BadRequest")
    assert "provided data does not appear to be a protobuf message" in e.message


def test_unsupported_media_type_is_415() -> None:
    e = status_of(codec.decode_body, "text/plain", b"hello")
    assert (e.code, e.reason) == (415, "UnsupportedMediaType")
    assert e.message == ("the body of the request was in an unknown format - accepted media types include: "
                         "application/json, application/yaml, application/vnd.kubernetes.protobuf")


def test_body_size_limit_is_413_before_decoding() -> None:
    assert codec.MAX_BODY_BYTES == 3 * 1024 * 1024
    too_big = b" " * (codec.MAX_BODY_BYTES + 1)
    for content_type in ("application/json", "text/plain", "application/vnd.kubernetes.protobuf"):
        e = status_of(codec.decode_body, content_type, too_big)
        assert (e.code, e.reason) == (413, "RequestEntityTooLarge")
        assert e.message == f"Request entity too large: limit is {codec.MAX_BODY_BYTES}"
    codec.check_size(b"x" * codec.MAX_BODY_BYTES)  # exactly at the limit is fine


def test_empty_and_broken_json() -> None:
    empty = status_of(codec.decode_body, "application/json", b"  \n")
    assert (empty.code, empty.message) == (400, "Object 'Kind' is missing in ''")
    broken = status_of(codec.decode_body, None, b'{"kind":')
    assert broken.code == 400
    assert broken.message.startswith("couldn't get version/kind; json parse error: ")


def test_broken_yaml_is_400_on_one_line() -> None:
    e = status_of(codec.decode_body, "application/yaml", b"a: [1, 2\nb: c\n")
    assert e.code == 400
    assert e.message.startswith("error converting YAML to JSON: ")
    assert "\n" not in e.message


def test_encode() -> None:
    obj = {"kind": "ConfigMap", "data": {"b": "2", "a": "1"}}
    assert codec.encode(obj) == b'{"kind":"ConfigMap","data":{"b":"2","a":"1"}}'
    text = codec.encode(obj, codec.YAML).decode()
    assert text.startswith("kind: ConfigMap\n")  # key order kept
    assert yaml.safe_load(text) == obj


def test_media_type() -> None:
    assert codec.media_type(None) == ""
    assert codec.media_type(" Application/JSON ; charset=utf-8") == "application/json"


# --- negotiate ------------------------------------------------------------------------------

KUBECTL_GET = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
               "application/json")


@pytest.mark.parametrize("accept,shape", [
    (None, Shape()),
    ("", Shape()),
    ("application/json", Shape()),
    ("application/json, */*", Shape()),
    ("*/*", Shape()),
    ("application/*", Shape()),
    ("application/json;q=0.9", Shape()),
    (KUBECTL_GET, Shape("table", codec.JSON, "v1")),
    ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", Shape("table", codec.JSON, "v1beta1")),
    ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1", Shape("partial", codec.JSON, "v1")),
    ("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
     Shape("partial", codec.JSON, "v1")),
    ("application/yaml", Shape("object", codec.YAML)),
    ("application/x-yaml", Shape("object", codec.YAML)),
    ("application/vnd.kubernetes.protobuf,application/json", Shape()),
    ("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io",
     Shape("table", codec.JSON, "v1")),
    ("application/json;as=Table;v=v2;g=meta.k8s.io,application/json", Shape()),
    ("text/html, application/json", Shape()),
])
def test_negotiate(accept: str | None, shape: Shape) -> None:
    assert codec.negotiate(accept) == shape


@pytest.mark.parametrize("accept", [
    "application/vnd.kubernetes.protobuf",
    "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io",
    "text/html",
    "application/json;as=Table;v=v2;g=meta.k8s.io",
    "application/json;as=Table;v=v1",
    "application/json;as=Unknown;g=meta.k8s.io;v=v1",
])
def test_negotiate_not_acceptable(accept: str) -> None:
    e = status_of(codec.negotiate, accept)
    assert (e.code, e.reason) == (406, "NotAcceptable")
    assert e.message == "only the following media types are accepted: application/json, application/yaml"
