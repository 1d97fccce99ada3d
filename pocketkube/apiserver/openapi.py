"""Public entry points for the /openapi/v2 and /openapi/v3 documents, with caching.

Theory of operation: the documents are pure functions of the resource table
(`api.scheme.Scheme`) and the v1.32 definitions, so they are generated on
first request, encoded once (orjson, sorted keys, so bytes and hashes are
stable) and cached per Scheme object for the life of the process. Startup
pays nothing; the first `/openapi/v3` request builds every group-version
document (needed for the `?hash=` URLs of the root), the first `/openapi/v2`
request builds the Swagger document and its protobuf form.

    v3_root(scheme)                      -> {"paths": {key: {"serverRelativeURL": "/openapi/v3/<key>?hash=H"}}}
    v3_document(scheme, group, version)  -> bytes of one group-version document
    v3_hash(scheme, group, version)      -> H (uppercase hex SHA-512 of those bytes, as upstream)
    v3_path_document(scheme, key)        -> bytes for any root key ("api/v1", "apis", "version", ...)
    v3_path_hash(scheme, key)            -> its hash (None if not served)
    v2_document(scheme)                  -> Swagger 2.0 JSON bytes
    v2_protobuf(scheme)                  -> gnostic openapi.v2.Document protobuf bytes

HTTP concerns (ETag = the hash, Cache-Control, content negotiation between the
v2 JSON and protobuf forms, 404 for unknown keys) belong to the route handler.
The module is thread-safe: a lock per cache guards generation.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import orjson

from pocketkube.api.scheme import Scheme
from pocketkube.apiserver import openapi_v2, openapi_v3
from pocketkube.apiserver.openapi_proto import encode_document

V2_PROTOBUF_MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
V3_PREFIX = "/openapi/v3/"


class _Cache:
    def __init__(self, scheme: Scheme) -> None:
        self.scheme = scheme
        self.lock = threading.Lock()
        self.v3: dict[str, tuple[bytes, str]] = {}
        self.v3_complete = False
        self.v2: dict[str, bytes] = {}


_CACHES: dict[int, _Cache] = {}
_CACHES_LOCK = threading.Lock()


def _cache(scheme: Scheme) -> _Cache:
    with _CACHES_LOCK:
        cache = _CACHES.get(id(scheme))
        if cache is None or cache.scheme is not scheme:
            cache = _Cache(scheme)
            _CACHES[id(scheme)] = cache
        return cache


def _encode(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def _digest(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest().upper()


def _v3_entry(scheme: Scheme, key: str) -> tuple[bytes, str] | None:
    cache = _cache(scheme)
    with cache.lock:
        entry = cache.v3.get(key)
        if entry is None:
            doc = openapi_v3.document(scheme, key)
            if doc is None:
                return None
            data = _encode(doc)
            entry = (data, _digest(data))
            cache.v3[key] = entry
        return entry


def v3_path_document(scheme: Scheme, key: str) -> bytes | None:
    """The document served at `/openapi/v3/<key>`, or None if there is none."""
    entry = _v3_entry(scheme, key.strip("/"))
    return entry[0] if entry else None


def v3_path_hash(scheme: Scheme, key: str) -> str | None:
    entry = _v3_entry(scheme, key.strip("/"))
    return entry[1] if entry else None


def v3_document(scheme: Scheme, group: str, version: str) -> bytes:
    """One group-version document; KeyError if the group-version is not served."""
    data = v3_path_document(scheme, openapi_v3.key_for(group, version))
    if data is None:
        raise KeyError(f"{group}/{version}")
    return data


def v3_hash(scheme: Scheme, group: str, version: str) -> str:
    digest = v3_path_hash(scheme, openapi_v3.key_for(group, version))
    if digest is None:
        raise KeyError(f"{group}/{version}")
    return digest


def v3_root(scheme: Scheme) -> dict[str, Any]:
    """The `/openapi/v3` discovery document listing every document with its hash URL."""
    paths: dict[str, Any] = {}
    for key in openapi_v3.root_keys(scheme):
        digest = v3_path_hash(scheme, key)
        if digest is not None:
            paths[key] = {"serverRelativeURL": f"{V3_PREFIX}{key}?hash={digest}"}
    return {"paths": paths}


def _v2(scheme: Scheme, form: str) -> bytes:
    cache = _cache(scheme)
    with cache.lock:
        if not cache.v2:
            doc = openapi_v2.document(scheme)
            cache.v2["json"] = _encode(doc)
            cache.v2["protobuf"] = encode_document(doc)
        return cache.v2[form]


def v2_document(scheme: Scheme) -> bytes:
    """The Swagger 2.0 document as JSON bytes."""
    return _v2(scheme, "json")


def v2_protobuf(scheme: Scheme) -> bytes:
    """The Swagger 2.0 document as a gnostic openapi.v2.Document (what kubectl asks for)."""
    return _v2(scheme, "protobuf")


def v2_etag(scheme: Scheme) -> str:
    """A stable hash of the v2 document, usable as its ETag for both encodings."""
    return _digest(v2_document(scheme))
