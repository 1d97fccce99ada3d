"""Label and field selectors: parse the query-string syntax, match, and print.

Theory of operation: a label selector is an AND of requirements (`k=v`, `k==v`,
`k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>5`, `k<5`); a field
selector is an AND of `f=v`, `f==v`, `f!=v` terms where `\\` escapes `,`, `=`
and `\\` in values. Both parse into small immutable requirement tuples that are
matched against plain dicts (labels) or a field-value function (fields). The
`metav1.LabelSelector` object form (matchLabels + matchExpressions) converts to
the same requirements, and prints back in kubectl's string form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

EQUALS = "="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER = "gt"
LESS = "lt"


class SelectorError(ValueError):
    """The selector string does not parse."""


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        value = labels.get(self.key)
        if op in (EQUALS, IN):
            return value is not None and value in self.values
        if op in (NOT_EQUALS, NOT_IN):
            return value is None or value not in self.values
        if value is None:
            return False
        try:
            lhs, rhs = int(value), int(self.values[0])
        except ValueError:
            return False
        return lhs > rhs if op == GREATER else lhs < rhs

    def __str__(self) -> str:
        op = self.op
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({','.join(sorted(self.values))})"
        sym = {EQUALS: "=", NOT_EQUALS: "!=", GREATER: ">", LESS: "<"}[op]
        return f"{self.key}{sym}{self.values[0]}"


Selector = tuple[Requirement, ...]

_TOKEN = re.compile(r"\s*(!=|==|=|>|<|\(|\)|,|!|[^\s!=<>(),]+)")


def _tokens(s: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m:
            break
        out.append(m.group(1))
        pos = m.end()
        while pos < len(s) and s[pos].isspace():
            pos += 1
    return out


def parse_label_selector(s: str) -> Selector:
    """Parse `-l` syntax. Raises SelectorError."""
    toks = _tokens(s)
    reqs: list[Requirement] = []
    i = 0
    while i < len(toks):
        req, i = _requirement(toks, i, s)
        reqs.append(req)
        if i < len(toks):
            if toks[i] != ",":
                raise SelectorError(f"found '{toks[i]}', expected: ',' or 'end of string'")
            i += 1
            if i == len(toks):
                raise SelectorError("found '', expected: !, identifier, or 'end of string'")
    return tuple(reqs)


def _requirement(toks: list[str], i: int, s: str) -> tuple[Requirement, int]:
    if toks[i] == "!":
        if i + 1 >= len(toks):
            raise SelectorError("found '', expected: identifier")
        return Requirement(_key(toks[i + 1]), DOES_NOT_EXIST), i + 2
    key = _key(toks[i])
    i += 1
    if i >= len(toks) or toks[i] == ",":
        return Requirement(key, EXISTS), i
    op = toks[i]
    i += 1
    if op in ("=", "=="):
        return Requirement(key, EQUALS, (_value(toks, i),)), i + (1 if _has_value(toks, i) else 0)
    if op == "!=":
        return Requirement(key, NOT_EQUALS, (_value(toks, i),)), i + (1 if _has_value(toks, i) else 0)
    if op in (">", "<"):
        v = _value(toks, i)
        try:
            int(v)
        except ValueError:
            raise SelectorError(f"for 'Gt', 'Lt' operators, the value must be an integer: {v}") from None
        return Requirement(key, GREATER if op == ">" else LESS, (v,)), i + 1
    if op in (IN, NOT_IN):
        values, i = _value_set(toks, i)
        return Requirement(key, op, values), i
    raise SelectorError(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")


def _has_value(toks: list[str], i: int) -> bool:
    return i < len(toks) and toks[i] not in (",", "(", ")")


def _value(toks: list[str], i: int) -> str:
    return toks[i] if _has_value(toks, i) else ""


def _value_set(toks: list[str], i: int) -> tuple[tuple[str, ...], int]:
    if i >= len(toks) or toks[i] != "(":
        raise SelectorError(f"found '{toks[i] if i < len(toks) else ''}', expected: '('")
    i += 1
    values: list[str] = []
    while i < len(toks) and toks[i] != ")":
        if toks[i] != ",":
            values.append(toks[i])
        i += 1
    if i >= len(toks):
        raise SelectorError("found '', expected: ',', ')' or identifier")
    return tuple(values), i + 1


def _key(tok: str) -> str:
    if tok in ("=", "==", "!=", "(", ")", ",", ">", "<"):
        raise SelectorError(f"found '{tok}', expected: !, identifier, or 'end of string'")
    return tok


def matches(selector: Selector, labels: Mapping[str, str] | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in selector)


def from_label_selector(sel: Mapping[str, Any] | None) -> Selector:
    """Requirements of a metav1.LabelSelector object; None/{} select everything."""
    if not sel:
        return ()
    reqs = [Requirement(k, EQUALS, (v,)) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}.get(e.get("operator", ""))
        if op is None:
            raise SelectorError(f"{e.get('operator')!r} is not a valid label selector operator")
        reqs.append(Requirement(e.get("key", ""), op, tuple(e.get("values") or ())))
    return tuple(reqs)


def selector_string(sel: Mapping[str, Any] | None) -> str:
    """kubectl's rendering of a LabelSelector (`app=web,tier in (a,b)`)."""
    return ",".join(str(r) for r in sorted(from_label_selector(sel), key=lambda r: r.key))


# --- field selectors ------------------------------------------------------------------

FieldSelector = tuple[tuple[str, str, str], ...]  # (field, "=" | "!=", value)


def parse_field_selector(s: str) -> FieldSelector:
    terms: list[tuple[str, str, str]] = []
    for term in _split_unescaped(s, ","):
        if not term:
            continue
        for sym, op in (("!=", "!="), ("==", "="), ("=", "=")):
            idx = _find_unescaped(term, sym)
            if idx >= 0:
                terms.append((term[:idx].strip(), op, _unescape(term[idx + len(sym):])))
                break
        else:
            raise SelectorError(f"invalid selector: '{s}'; can't understand '{term}'")
    return tuple(terms)


def _split_unescaped(s: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i:i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _find_unescaped(s: str, sym: str) -> int:
    i = 0
    while i < len(s):
        if s[i] == "\\":
            i += 2
            continue
        if s.startswith(sym, i):
            return i
        i += 1
    return -1


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", r"\1", v)


def field_matches(selector: FieldSelector, value_of: Callable[[str], str | None]) -> bool:
    for field, op, want in selector:
        got = value_of(field)
        if got is None:
            return False
        if (got == want) != (op == "="):
            return False
    return True
