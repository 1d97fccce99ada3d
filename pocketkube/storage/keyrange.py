"""Key ranges for prefix scans: the half-open interval [start, end) that a prefix list covers.

Theory of operation: keys are compared in code-point order, which is also the byte order of
their UTF-8 encoding (what SQLite's BINARY collation and etcd compare). "Every key that starts
with p" is the interval [p, prefix_end(p)), where prefix_end increments the last character that
can be incremented and drops what follows it; a prefix with no such character (the empty
prefix) has no upper bound. Paging folds the continue key into the lower bound: the first key
strictly after `start_after` is `start_after + "\\0"`, so a scan needs exactly one lower bound
(one index range, see storage-notes §2.5).
"""

from __future__ import annotations

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with `prefix`; None if unbounded."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1])
        if code < _MAX_CODE_POINT:
            code += 1
            if code in _SURROGATES:  # not encodable in UTF-8; no key can hold one
                code = _SURROGATES.stop
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def prefix_end_bytes(prefix: bytes) -> bytes:
    """etcd's range_end for a byte prefix; b"\\0" means "no upper bound" to etcd."""
    buf = bytearray(prefix)
    while buf:
        if buf[-1] < 0xFF:
            buf[-1] += 1
            return bytes(buf)
        buf.pop()
    return b"\0"


def range_start(prefix: str, start_after: str) -> str:
    """The lower bound of a scan under `prefix` that continues strictly after `start_after`."""
    if start_after:
        after = start_after + "\0"
        if after > prefix:
            return after
    return prefix


def in_range(key: str, start: str, end: str | None) -> bool:
    return key >= start and (end is None or key < end)
