"""listing: continue tokens (upstream's shape), round trips and rejection of tampered tokens."""

from __future__ import annotations

import base64

import orjson
import pytest

from pocketkube.apiserver import listing
from pocketkube.machinery.errors import StatusError


def token(payload: object) -> str:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("revision,start", [(1, "a"), (42, "default/web-7d9f"), (2**40, "kube-system/x.y-z"),
                                            (7, "name-only")])
def test_round_trip(revision: int, start: str) -> None:
    assert listing.decode_continue(listing.encode_continue(revision, start)) == (revision, start)


def test_token_has_upstream_shape() -> None:
    t = listing.encode_continue(21, "default/p1")
    assert "=" not in t and "+" not in t and "/" not in t
    data = orjson.loads(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))
    assert data == {"v": "meta.k8s.io/v1", "rv": 21, "start": "default/p1\x00"}


def test_tokens_from_upstream_shape_decode() -> None:
    assert listing.decode_continue(token({"v": "meta.k8s.io/v1", "rv": 9, "start": "ns/b\x00"})) == (9, "ns/b")
    # A leading "/" is allowed: upstream cleans the key and appends it below the collection prefix.
    assert listing.decode_continue(token({"v": "meta.k8s.io/v1", "rv": 9, "start": "/ns/c\x00"})) == (9, "ns/c")


@pytest.mark.parametrize("bad,message", [
    ("!!!!", "illegal base64 data at input byte 0"),
    ("é", "illegal base64 data at input byte 0"),
    ("YWJjZA", ""),  # decodes to "abcd": not JSON
    (base64.urlsafe_b64encode(orjson.dumps({"v": "meta.k8s.io/v1", "rv": 9, "start": "c"})).decode(),
     "illegal base64 data at input byte 55"),  # RawURLEncoding: no padding
    ("YWJjZ", "illegal base64 data at input byte 4"),
    (token(b""), "unexpected end of JSON input"),
    (token([1, 2]), "json: cannot unmarshal array into Go value of type storage.continueToken"),
    (token("a string"), "json: cannot unmarshal string into Go value of type storage.continueToken"),
    (token(5), "json: cannot unmarshal number into Go value of type storage.continueToken"),
    (token({"v": "meta.k8s.io/v1", "rv": "five", "start": "a"}),
     "json: cannot unmarshal string into Go struct field continueToken.rv of type int64"),
    (token({"v": "meta.k8s.io/v1", "rv": {}, "start": "a"}),
     "json: cannot unmarshal object into Go struct field continueToken.rv of type int64"),
    (token({"v": "meta.k8s.io/v1", "rv": 5, "start": 1}),
     "json: cannot unmarshal number into Go struct field continueToken.start of type string"),
    (token({"v": "meta.k8s.io/v1", "start": "a"}), "incorrect encoded start resourceVersion (version meta.k8s.io/v1)"),
    (token({"v": "meta.k8s.io/v1", "rv": None, "start": "a"}),
     "incorrect encoded start resourceVersion (version meta.k8s.io/v1)"),
    (token({"v": "meta.k8s.io/v1", "rv": 5}), "encoded start key empty (version meta.k8s.io/v1)"),
    (token({"v": "meta.k8s.io/v2", "rv": 5, "start": "a"}),
     "server does not recognize this encoded version meta.k8s.io/v2"),
    (token({"v": "meta.k8s.io/v1", "rv": 5, "start": "ns/../other"}), "ns/../other"),
])
def test_malformed_tokens(bad: str, message: str) -> None:
    with pytest.raises(StatusError) as e:
        listing.decode_continue(bad)
    assert (e.value.code, e.value.reason) == (400, "BadRequest")
    assert e.value.message.startswith("continue key is not valid: " + message)


@pytest.mark.parametrize("payload", [
    {"v": "meta.k8s.io/v2", "rv": 5, "start": "a"},
    {"rv": 5, "start": "a"},
    {"v": "meta.k8s.io/v1", "rv": 5, "start": "../../secrets/kube-system/x"},
    {"v": "meta.k8s.io/v1", "rv": 5, "start": "ns/../other"},
    {"v": "meta.k8s.io/v1", "rv": 5, "start": "/registry/secrets/"},
])
def test_tampered_tokens(payload: dict[str, object]) -> None:
    with pytest.raises(StatusError) as e:
        listing.decode_continue(token(payload))
    assert e.value.code == 400
    assert e.value.message.startswith("continue key is not valid: ")


def test_token_revision_zero_is_rejected() -> None:
    with pytest.raises(StatusError):
        listing.decode_continue(token({"v": "meta.k8s.io/v1", "rv": 0, "start": "a\x00"}))


def test_expired_message_is_upstreams() -> None:
    assert listing.EXPIRED_CONTINUE.startswith("The provided continue parameter is too old to display a consistent "
                                               "list result.")
