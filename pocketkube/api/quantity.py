"""Kubernetes resource quantities (apimachinery `resource.Quantity`), exactly.

Theory of operation: a quantity string is scanned the way upstream's
`parseQuantityString` does (sign, digits with leading zeros stripped, an
optional fraction, then a suffix), its suffix is interpreted (decimal SI
`n u m "" k M G T P E`, binary SI `Ki..Ei`, or a decimal exponent `e3`/`E-2`),
and the value is kept as an exact `Fraction`. Like upstream, values are rounded
up (away from zero) to nano precision, binary quantities are capped at 2**63-1,
and the serialised form is either the original string (when upstream's fast
path judges it canonical, quirks included: `+1` and `0100m` are kept as typed)
or the canonical rendering: mantissa and a suffix of the quantity's format
(decimal exponents in multiples of three, binary in powers of 1024).

Public surface: `parse_quantity`, `is_valid_quantity`, `Quantity` (value,
format, `str()` canonical form, ordering), `canonical_quantity`, `round_up`
(SetDefaults_ResourceList's milli rounding) and `compare`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
FORMAT_WRONG = "quantities must match the regular expression '" + SPLIT_RE + "'"
NUMERIC = "unable to parse numeric part of quantity"
SUFFIX = "unable to parse quantity's suffix"

_DEC_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BIN_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DEC_BY_EXP = {v: k for k, v in _DEC_SUFFIXES.items()}
_BIN_BY_EXP = {v // 10: k for k, v in _BIN_SUFFIXES.items()}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")
_NANO = Fraction(1, 10**9)
_MAX_INT64 = 2**63 - 1
_MIN_INT64 = -(2**63)


class QuantityError(ValueError):
    """The string is not a quantity; the message is upstream's."""


@dataclass(frozen=True)
class _Scan:
    positive: bool
    value: str
    num: str
    denom: str
    suffix: str


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Quantity:
    """An exact quantity with its format and (maybe) its original spelling."""

    value: Fraction
    format: str = DECIMAL_SI
    original: str = ""

    def __str__(self) -> str:
        return self.original or _canonical(self.value, self.format)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def milli_value(self) -> int:
        """Value in thousandths, rounded up (upstream MilliValue)."""
        return _ceil_away(self.value * 1000)

    def int_value(self) -> int:
        """Value rounded up to an integer (upstream Value)."""
        return _ceil_away(self.value)


def _scan(s: str) -> _Scan:
    """Upstream's parseQuantityString; raises QuantityError(FORMAT_WRONG)."""
    positive, pos, end = True, 0, len(s)
    if pos < end and s[0] in "+-":
        positive = s[0] == "+"
        pos += 1
    while pos < end and s[pos] == "0":
        pos += 1
    if pos >= end:
        return _Scan(positive, "0", "0", "", "")
    start = pos
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    if pos >= end:
        return _Scan(positive, s, s[start:], "", "")
    num = s[start:pos] or "0"
    denom = ""
    if s[pos] == ".":
        pos += 1
        dstart = pos
        while pos < end and s[pos] in _DIGITS:
            pos += 1
        denom = s[dstart:pos]
        if pos >= end:
            return _Scan(positive, s, num, denom, "")
    value = s[:pos]
    sstart = pos
    while pos < end and s[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos >= end:
        return _Scan(positive, value, num, denom, s[sstart:])
    if s[pos] in "+-":
        pos += 1
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    if pos >= end:
        return _Scan(positive, value, num, denom, s[sstart:])
    raise QuantityError(FORMAT_WRONG)


def _interpret(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix; raises QuantityError(SUFFIX)."""
    if suffix in _DEC_SUFFIXES:
        return 10, _DEC_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BIN_SUFFIXES:
        return 2, _BIN_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        exp = _go_parse_int(suffix[1:])
        if exp is not None:
            return 10, exp, DECIMAL_EXPONENT
    raise QuantityError(SUFFIX)


def _go_parse_int(s: str) -> int | None:
    body = s[1:] if s[:1] in ("+", "-") else s
    if not body or any(c not in _DIGITS for c in body):
        return None
    value = int(s)
    return value if _MIN_INT64 <= value <= _MAX_INT64 else None


def parse_quantity(s: str) -> Quantity:
    """Parse a quantity string exactly as upstream ParseQuantity does."""
    if not s:
        raise QuantityError(FORMAT_WRONG)
    if s == "0":
        return Quantity(Fraction(0), DECIMAL_SI, "0")
    sc = _scan(s)
    base, exponent, fmt = _interpret(sc.suffix)
    kept = _fast_path_original(s, sc, exponent, fmt)
    if kept is not None:
        return kept
    digits = (sc.num + sc.denom).lstrip("0") or "0"
    magnitude = Fraction(int(digits), 10 ** len(sc.denom)) * Fraction(base) ** exponent
    magnitude = _round_up_nano(magnitude)
    if fmt == BINARY_SI and magnitude > _MAX_INT64:
        magnitude = Fraction(_MAX_INT64)
    if fmt == BINARY_SI and 0 < magnitude < 1:
        fmt = DECIMAL_SI
    return Quantity(magnitude if sc.positive else -magnitude, fmt)


def _fast_path_original(s: str, sc: _Scan, exponent: int, fmt: str) -> Quantity | None:
    """Upstream's int64 fast path: exact value, keeping `s` when it is canonical."""
    if fmt == BINARY_SI:
        if exponent < 0 or sc.denom:
            return None
        precision = 15 - len(sc.num) - int(exponent * 3 / 10) - 1
        scale = 0
    else:
        precision = 18 - (len(sc.num) + len(sc.denom))
        scale = exponent - len(sc.denom)
    if precision < 0 or scale < -9:
        return None
    shifted = sc.num + sc.denom
    raw = int(shifted)
    mantissa = (1 << exponent) if fmt == BINARY_SI else 1
    result = raw * mantissa
    if result > _MAX_INT64:
        return None
    value = Fraction(result) * (Fraction(10) ** scale if fmt != BINARY_SI else 1)
    if not sc.positive:
        value = -value
    if fmt == BINARY_SI:
        canonical = exponent % 10 == 0 and (raw & 0x07) != 0
    else:
        canonical = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
    return Quantity(value, fmt, s if canonical else "")


def _round_up_nano(v: Fraction) -> Fraction:
    if v.denominator == 1 or (v / _NANO).denominator == 1:
        return v
    return Fraction(_ceil_away(v / _NANO)) * _NANO


def _ceil_away(v: Fraction) -> int:
    """Round away from zero to an integer."""
    q, r = divmod(abs(v.numerator), v.denominator)
    q += 1 if r else 0
    return q if v >= 0 else -q


def _canonical(value: Fraction, fmt: str) -> str:
    """CanonicalizeBytes: render the value in its format's canonical spelling."""
    if value == 0:
        return "0"
    if fmt == BINARY_SI:
        if -1024 < value < 1024 or value.denominator != 1:
            fmt = DECIMAL_SI
        else:
            return _binary_string(int(value))
    mantissa, exp = _decimal_parts(value)
    if fmt == DECIMAL_EXPONENT:
        return f"{mantissa}e{exp}" if exp else str(mantissa)
    suffix = _DEC_BY_EXP.get(exp)
    if suffix is None:  # beyond exa: upstream prints no suffix; keep the value right instead
        return f"{mantissa}e{exp}"
    return f"{mantissa}{suffix}"


def _binary_string(n: int) -> str:
    count = 0
    while n != 0 and n % 1024 == 0 and count < 6:
        n //= 1024
        count += 1
    return f"{n}{_BIN_BY_EXP.get(count, '')}"


def _decimal_parts(value: Fraction) -> tuple[int, int]:
    """Integer mantissa and a base-10 exponent that is a multiple of three."""
    exp = 0
    v = value
    while v.denominator != 1:
        v *= 10
        exp -= 1
    mantissa = int(v)
    while mantissa % 10 == 0:
        mantissa //= 10
        exp += 1
    while exp % 3 != 0:
        mantissa *= 10
        exp -= 1
    return mantissa, exp


def is_valid_quantity(s: Any) -> bool:
    """True if `s` (string or JSON number) parses as a quantity."""
    try:
        parse_value(s)
    except QuantityError:
        return False
    return True


def parse_value(v: Any) -> Quantity:
    """Parse a JSON value (string or number, as UnmarshalJSON accepts) into a Quantity."""
    if isinstance(v, bool) or not isinstance(v, str | int | float):
        raise QuantityError(FORMAT_WRONG)
    text = v.strip() if isinstance(v, str) else repr(v)
    return parse_quantity(text)


def canonical_quantity(v: Any) -> str:
    """The string a quantity serialises as (original if canonical, else rendered)."""
    return str(parse_value(v))


def round_up(q: Quantity, scale: int = -3) -> Quantity:
    """Quantity.RoundUp(scale): round away from zero to 10**scale, dropping the spelling if changed."""
    unit = Fraction(10) ** scale
    steps = q.value / unit
    if steps.denominator == 1:
        return q
    return Quantity(Fraction(_ceil_away(steps)) * unit, q.format)


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 comparing two quantity values (strings, numbers or Quantity)."""
    qa = a if isinstance(a, Quantity) else parse_value(a)
    qb = b if isinstance(b, Quantity) else parse_value(b)
    return (qa.value > qb.value) - (qa.value < qb.value)


def canonical(s: str) -> str:
    """Alias of `canonical_quantity` for string input (used by api/structural.py); raises ValueError."""
    return canonical_quantity(s)
