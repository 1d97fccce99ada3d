"""LIST: selectors, resourceVersion semantics and limit/continue paging.

Theory of operation: a list is served from the watch cache when it may be
(resourceVersion "" after catching up with storage, "0" as is, N when the cache
is at least at N). The first page of a limited list comes from the cache and its
continue token pins the cache's revision; later pages, and lists that ask for an
exact revision, are read from storage at that revision, so a paged list is one
consistent snapshot (410 Expired once compaction has removed that revision).
Continue tokens have upstream's shape: base64url of {"v","rv","start"}.
"""

from __future__ import annotations

import base64
import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from pocketkube.apiserver.watchcache import Entry, decode_entry
from pocketkube.machinery import errors
from pocketkube.storage import interface as storage

if TYPE_CHECKING:
    from pocketkube.apiserver.store import ListOptions, ResourceStore

EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of "
    "the results. Continuing with the provided token results in an inconsistent list - objects that were "
    "created, modified, or deleted between the time the first chunk was returned and now may show up in the "
    "list.")


def encode_continue(revision: int, start_after: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start_after + "\x00"})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_INVALID = "continue key is not valid"
_B64URL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_TOKEN_FIELDS = {"v": "string", "rv": "int64", "start": "string"}


def decode_continue(token: str) -> tuple[int, str]:
    """storage.DecodeContinue: (revision, start key below the collection prefix, without its trailing NUL)."""
    data = _token_json(_raw_url_b64(token))
    rev, start, version = data.get("rv") or 0, data.get("start") or "", data.get("v") or ""
    if version != "meta.k8s.io/v1":
        raise errors.bad_request(f"{_INVALID}: server does not recognize this encoded version {version}")
    if rev == 0:
        raise errors.bad_request(f"{_INVALID}: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if not start:
        raise errors.bad_request(f"{_INVALID}: encoded start key empty (version meta.k8s.io/v1)")
    key = start if start.startswith("/") else "/" + start
    cleaned = posixpath.normpath(key)
    if cleaned.startswith("//"):  # Go's path.Clean keeps one leading slash where POSIX keeps two
        cleaned = "/" + cleaned.lstrip("/")
    if cleaned != key:  # path traversal ("..", "//", trailing "/"): refused, as upstream
        raise errors.bad_request(f"{_INVALID}: {start}")
    return rev, cleaned[1:].rstrip("\x00")


def _raw_url_b64(token: str) -> bytes:
    """base64.RawURLEncoding: no padding; Go reports the first bad byte (\\r and \\n are skipped)."""
    data = token.encode()
    kept = 0
    for i, c in enumerate(data):
        if c in b"\r\n":
            continue
        if c not in _B64URL:
            raise errors.bad_request(f"{_INVALID}: illegal base64 data at input byte {i}")
        kept += 1
    if kept % 4 == 1:
        raise errors.bad_request(f"{_INVALID}: illegal base64 data at input byte {len(data) - 1}")
    clean = data.replace(b"\r", b"").replace(b"\n", b"")
    return base64.urlsafe_b64decode(clean + b"=" * (-len(clean) % 4))


def _token_json(raw: bytes) -> dict[str, Any]:
    """The token's JSON with Go's json.Unmarshal type errors for continueToken {v, rv, start}."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise errors.bad_request(f"{_INVALID}: " + ("unexpected end of JSON input" if not raw.strip()
                                                    else "invalid JSON")) from None
    if not isinstance(data, dict):
        if data is None:
            return {}
        raise errors.bad_request(f"{_INVALID}: json: cannot unmarshal {_json_kind(data)} into Go value of type "
                                 "storage.continueToken")
    for name, go_type in _TOKEN_FIELDS.items():
        v = data.get(name)
        ok = v is None or (isinstance(v, int) and not isinstance(v, bool) if go_type == "int64"
                           else isinstance(v, str))
        if not ok:
            raise errors.bad_request(f"{_INVALID}: json: cannot unmarshal {_json_kind(v)} into Go struct field "
                                     f"continueToken.{name} of type {go_type}")
    return data


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object" if isinstance(v, dict) else "value"


async def list_entries(store: ResourceStore, namespace: str, opts: ListOptions) -> tuple[list[Entry], int, str]:
    """Returns (entries, list resourceVersion, continue token)."""
    match = store.matcher(opts)
    prefix = store.resource.collection_prefix(namespace)
    if opts.continue_token:
        if opts.resource_version not in ("", "0"):
            raise errors.bad_request("specifying resource version is not allowed when using continue")
        rev, start = decode_continue(opts.continue_token)
        return await _from_storage(store, prefix, match, rev, prefix + start, opts.limit)
    rv = opts.resource_version
    if opts.resource_version_match == "Exact" or (opts.limit and rv not in ("", "0")
                                                  and opts.resource_version_match != "NotOlderThan"):
        return await _from_storage(store, prefix, match, _int_rv(rv), "", opts.limit)
    await store.sync_read(rv)
    revision = store.cache.revision
    entries = [e for e in store.cache.cache(store.prefix).sorted_entries(prefix) if match(e)]
    if opts.limit and len(entries) > opts.limit:
        entries = entries[:opts.limit]
        return entries, revision, encode_continue(revision, entries[-1].key[len(prefix):])
    return entries, revision, ""


def _int_rv(rv: str) -> int:
    try:
        return int(rv)
    except ValueError:
        raise errors.bad_request(f'invalid resource version "{rv}"') from None


async def _from_storage(store: ResourceStore, prefix: str, match: Callable[[Entry], bool], revision: int,
                        start_after: str, limit: int) -> tuple[list[Entry], int, str]:
    out: list[Entry] = []
    after = start_after
    try:
        while True:
            page = await store.store.list(prefix, start_after=after, limit=max(limit, 500) if limit else 0,
                                          revision=revision)
            revision = page.revision
            for kv in page.items:
                e = decode_entry(kv.key, kv.value, kv.mod_revision)
                if match(e):
                    out.append(e)
                    if limit and len(out) == limit:
                        more = page.more or kv is not page.items[-1]
                        token = encode_continue(revision, kv.key[len(prefix):]) if more else ""
                        return out, revision, token
            if not page.more or not page.items:
                return out, revision, ""
            after = page.items[-1].key
    except storage.Compacted:
        raise errors.expired(EXPIRED_CONTINUE) from None
    except storage.FutureRevision as e:
        raise errors.timeout(f"Too large resource version: {e.requested}, current: {e.current}") from None
