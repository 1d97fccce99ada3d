"""ObjectMeta bookkeeping shared by every write (upstream BeforeCreate/BeforeUpdate).

Theory of operation: the server owns uid, creationTimestamp, resourceVersion,
generation, deletionTimestamp and selfLink. On create they are assigned (or
cleared); on update they are carried over from the stored object, so a client
can never forge them. Names from generateName get upstream's 5-character random
suffix (the prefix cut to 58 characters so the name fits 63).
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Any

from pocketkube.api.scheme import Resource
from pocketkube.machinery import errors

Obj = dict[str, Any]

_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # upstream's: no vowels, no confusables
_SERVER_OWNED_ON_UPDATE = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")


_RANDOM = random.Random()  # upstream's utilrand is math/rand too: suffixes need not be unpredictable
MAX_GENERATED_NAME_LENGTH = 58  # 63 minus the suffix
_UID_BATCH = 256


class _UIDs:
    """Random (version 4) UIDs from the OS's CSPRNG, read 256 at a time: os.urandom releases the GIL,
    and on a busy server every release can wait behind the storage writer thread to get it back."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> str:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(16 * _UID_BATCH), 0
        chunk = self._pool[self._at:self._at + 16]
        self._at += 16
        return str(uuid.UUID(bytes=chunk, version=4))


new_uid = _UIDs().next


def random_suffix(n: int = 5) -> str:
    return "".join(_RANDOM.choices(_SUFFIX_ALPHABET, k=n))


def generate_name(base: str) -> str:
    """upstream SimpleNameGenerator: generateName cut to 58 characters, then a 5-character suffix."""
    return base[:MAX_GENERATED_NAME_LENGTH] + random_suffix()


def meta(obj: Obj) -> dict[str, Any]:
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = obj["metadata"] = {}
    return m


def check_type_meta(obj: Obj, resource: Resource, api_version: str, kind: str) -> None:
    """apiVersion/kind in a body must match the endpoint; missing ones are filled in."""
    got_av = obj.get("apiVersion")
    got_kind = obj.get("kind")
    if got_av and got_av != api_version:
        raise errors.bad_request(
            f"the API version in the data ({got_av}) does not match the expected API version ({api_version})")
    if got_kind and got_kind != kind:
        raise errors.bad_request(f"the kind in the data ({got_kind}) does not match the expected kind ({kind})")
    obj["apiVersion"] = api_version
    obj["kind"] = kind


def set_namespace(obj: Obj, resource: Resource, url_namespace: str) -> None:
    m = meta(obj)
    if not resource.namespaced:
        m.pop("namespace", None)
        return
    ns = m.get("namespace") or ""
    if ns and url_namespace and ns != url_namespace:
        raise errors.bad_request("the namespace of the provided object does not match the namespace sent on "
                                 "the request")
    if url_namespace:
        m["namespace"] = url_namespace


def prepare_create_meta(obj: Obj, now: str) -> bool:
    """Assign the server-owned metadata of a new object; True if its name was generated."""
    m = meta(obj)
    if m.get("resourceVersion"):
        raise errors.internal_error("resourceVersion should not be set on objects to be created")
    generated = not m.get("name") and bool(m.get("generateName"))
    if generated:
        m["name"] = generate_name(m["generateName"])
    m["uid"] = new_uid()
    m["creationTimestamp"] = now
    for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "generation"):
        m.pop(k, None)
    return generated


def carry_over_meta(new: Obj, old: Obj) -> None:
    """Server-owned metadata keeps its stored value on update."""
    nm, om = meta(new), old["metadata"]
    for k in _SERVER_OWNED_ON_UPDATE:
        if k in om:
            nm[k] = om[k]
        else:
            nm.pop(k, None)
    nm.pop("selfLink", None)
    # rest.BeforeUpdate sets the generation to the stored one, 0 (absent) included; strategies that track
    # generation bump it afterwards.
    if om.get("generation"):
        nm["generation"] = om["generation"]
    else:
        nm.pop("generation", None)


def check_uid_precondition(new: Obj, old: Obj, resource: Resource, name: str) -> None:
    uid = meta(new).get("uid")
    if uid and uid != old["metadata"].get("uid"):
        raise errors.conflict(resource.plural, resource.group, name,
                              f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                              f"{old['metadata'].get('uid')}")


def strip_for_storage(obj: Obj) -> Obj:
    """The stored form has no resourceVersion (it is the storage revision)."""
    m = obj.get("metadata", {})
    if "resourceVersion" in m or "selfLink" in m:
        m = {k: v for k, v in m.items() if k not in ("resourceVersion", "selfLink")}
        return {**obj, "metadata": m}
    return obj
