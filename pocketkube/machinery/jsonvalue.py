"""Private copies and strict equality of JSON trees, at C speed.

Theory of operation: objects are JSON trees (dict/list/str/int/float/bool/None).
The store pipeline often needs (a) a private deep copy of a subtree it must not
share with the watch cache, and (b) to know whether a subtree is exactly the one
stored, so work already done on it (decoding, defaulting) can be skipped. Both
go through orjson: `copy` is a dumps/loads round trip (several times faster
than copy.deepcopy on these trees), and `same` compares the encodings.

`same` is deliberately strict and conservative: True means the two values are
the same JSON value with the same types *and* the same key order (orjson keeps
insertion order), so `True` never equals `1`, nor `1.0` equals `1`, as Python's
`==` would say. A False answer only ever costs the caller the work it hoped to
skip. Values orjson cannot encode (non-JSON scalars, non-string keys) fall back
to copy.deepcopy / never compare the same; the passthrough options make orjson
refuse the non-JSON values it would otherwise serialize (datetimes, dataclasses,
str subclasses) instead of turning them into strings or objects.
"""

from __future__ import annotations

import copy as _copy
from typing import Any

import orjson

_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def copy(value: Any) -> Any:
    """A private deep copy of a JSON value."""
    try:
        return orjson.loads(orjson.dumps(value, option=_STRICT))
    except TypeError:  # not plain JSON (orjson.JSONEncodeError is a TypeError)
        return _copy.deepcopy(value)


def same(a: Any, b: Any) -> bool:
    """True only if `a` and `b` are identical JSON values (types and key order included)."""
    if a is b:
        return True
    try:
        return orjson.dumps(a, option=_STRICT) == orjson.dumps(b, option=_STRICT)
    except TypeError:
        return False


def carry_over(new: dict[str, Any], old: dict[str, Any], key: str) -> None:
    """new[key] becomes old[key] (a private copy), or absent when old has none.

    When new already holds exactly the stored value it is kept as it is: it is
    private to the caller already, and no copy is needed.
    """
    if key not in old:
        new.pop(key, None)
    elif key not in new or not same(new[key], old[key]):
        new[key] = copy(old[key])
