"""ES256 JSON Web Tokens (compact JWS) with the `cryptography` package: sign, verify, load keys.

Theory of operation: a token is `b64url(header).b64url(claims).b64url(sig)`
where the header is {"alg": "ES256", "kid": KEY_ID} and the signature is the
ECDSA P-256/SHA-256 signature of the first two parts, as the raw 64-byte r||s
(JWS form, not DER). KEY_ID is what kube-apiserver uses: the unpadded base64url
SHA-256 of the public key's DER SubjectPublicKeyInfo. Verification tries the
key named by `kid` first, then every other configured key. Only ES256 is
accepted (the algorithm pocketkube's PKI makes), so `alg` games are refused.
Claims are serialized with sorted keys, as go-jose does.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

ALG = "ES256"
_COORD = 32  # bytes per P-256 coordinate


class InvalidToken(Exception):
    pass


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as e:
        raise InvalidToken("malformed token") from e


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url(hashlib.sha256(der).digest())


def sign(private_key: ec.EllipticCurvePrivateKey, claims: dict[str, Any]) -> str:
    header = {"alg": ALG, "kid": key_id(private_key.public_key())}
    signing_input = (b64url(orjson.dumps(header)) + "." +
                     b64url(orjson.dumps(claims, option=orjson.OPT_SORT_KEYS))).encode()
    r, s = decode_dss_signature(private_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return signing_input.decode() + "." + b64url(r.to_bytes(_COORD, "big") + s.to_bytes(_COORD, "big"))


def _segments(token: str) -> list[str]:
    """header, payload and signature of a compact JWS."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("not a JWT")
    return parts


def _json_segment(segment: str) -> Any:
    try:
        return orjson.loads(unb64url(segment))
    except orjson.JSONDecodeError as e:
        raise InvalidToken("malformed token") from e


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a compact JWS without checking anything (to pick the issuer)."""
    claims = _json_segment(_segments(token)[1])
    if not isinstance(claims, dict):
        raise InvalidToken("malformed token")
    return claims


def verify(token: str, keys: Iterable[ec.EllipticCurvePublicKey]) -> dict[str, Any]:
    """The claims of a token signed by one of `keys`; InvalidToken otherwise."""
    parts = _segments(token)
    header = _json_segment(parts[0])
    if not isinstance(header, dict) or header.get("alg") != ALG:
        raise InvalidToken("unsupported signing algorithm")
    sig = unb64url(parts[2])
    if len(sig) != 2 * _COORD:
        raise InvalidToken("invalid signature")
    der = encode_dss_signature(int.from_bytes(sig[:_COORD], "big"), int.from_bytes(sig[_COORD:], "big"))
    signing_input = f"{parts[0]}.{parts[1]}".encode()
    ordered = sorted(keys, key=lambda k: key_id(k) != header.get("kid"))
    for key in ordered:
        try:
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        return unverified_claims(token)
    raise InvalidToken("invalid signature")


def load_private_key(path: str | Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{path}: the service account signing key must be an ECDSA P-256 key")
    return key


def _pem_blocks(data: bytes) -> list[bytes]:
    blocks, current = [], b""
    for line in data.splitlines(keepends=True):
        if line.startswith(b"-----BEGIN "):
            current = line
        elif current:
            current += line
            if line.startswith(b"-----END "):
                blocks.append(current)
                current = b""
    return blocks


def load_public_keys(path: str | Path) -> list[ec.EllipticCurvePublicKey]:
    """Every P-256 public key in a PEM file of public keys, private keys or certificates."""
    out: list[ec.EllipticCurvePublicKey] = []
    for block in _pem_blocks(Path(path).read_bytes()):
        kind = block.split(b"\n", 1)[0]
        key: Any
        if b"CERTIFICATE" in kind:
            key = x509.load_pem_x509_certificate(block).public_key()
        elif b"PRIVATE KEY" in kind:
            key = serialization.load_pem_private_key(block, password=None).public_key()
        else:
            key = serialization.load_pem_public_key(block)
        if isinstance(key, ec.EllipticCurvePublicKey):
            out.append(key)
    if not out:
        raise ValueError(f"{path}: no ECDSA public key found")
    return out
