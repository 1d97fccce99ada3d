"""Label and field selectors: parse the query-string syntax, match, and print.

Theory of operation: a label selector is an AND of requirements (`k=v`, `k==v`,
`k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>5`, `k<5`). It is lexed
and parsed as apimachinery's labels.Parser does (same tokens, same lookahead,
same error words), and each requirement is checked as labels.NewRequirement
checks it: keys must be qualified names, values valid label values, Gt/Lt
values integers in Go's strconv.ParseInt syntax. A field selector is an AND of
`f=v`, `f==v`, `f!=v` terms split on unescaped commas; the value must escape
`\\`, `,` and `=` with a backslash (fields.UnescapeValue). Both parse into
small immutable tuples matched against plain dicts (labels) or a field-value
function (fields). The `metav1.LabelSelector` object form (matchLabels +
matchExpressions) converts to the same requirements and prints back in
kubectl's string form.
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

_INT64 = re.compile(r"[+-]?[0-9]+")


class SelectorError(ValueError):
    """The selector string does not parse.

    `in_requirement` is True when upstream reports the error from inside one
    requirement (its message then reads `unable to parse requirement: ...`).
    """

    def __init__(self, message: str, in_requirement: bool = False) -> None:
        super().__init__(message)
        self.in_requirement = in_requirement


def _go_int(s: str) -> int | None:
    """strconv.ParseInt(s, 10, 64), None on error."""
    if not _INT64.fullmatch(s):
        return None
    n = int(s)
    return n if -(1 << 63) <= n < (1 << 63) else None


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
        if value is None or len(self.values) != 1:
            return False
        lhs, rhs = _go_int(value), _go_int(self.values[0])
        if lhs is None or rhs is None:
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

# --- validation (labels.NewRequirement; IsQualifiedName, IsValidLabelValue) -----------

_QNAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_RE = re.compile(_QNAME)
_LABEL_VALUE = f"({_QNAME})?"
_DNS_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _DNS_LABEL + r"(\." + _DNS_LABEL + ")*"
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN)
_QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
              "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
              f"validation is '{_QNAME}')")


def go_quote(s: str) -> str:
    """Go's %q of a string (strconv.Quote)."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif ch.isprintable():
            out.append(ch)
        else:
            o = ord(ch)
            out.append(f"\\x{o:02x}" if o < 0x80 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")
    return '"' + "".join(out) + '"'


def _key_problems(key: str) -> list[str]:
    parts = key.split("/")
    if len(parts) > 2:
        return ["a qualified name " + _QNAME_MSG + " with an optional DNS subdomain prefix and '/' "
                "(e.g. 'example.com/MyName')"]
    errs: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                errs.append("prefix part must be no more than 253 characters")
            if not _SUBDOMAIN_RE.fullmatch(prefix):
                errs.append("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                            "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
                            f"'example.com', regex used for validation is '{_SUBDOMAIN}')")
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not _QNAME_RE.fullmatch(name):
        errs.append("name part " + _QNAME_MSG)
    return errs


def _value_problems(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if value and not _QNAME_RE.fullmatch(value):
        errs.append("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                    f"'my_value',  or '12345', regex used for validation is '{_LABEL_VALUE}')")
    return errs


def _invalid(path: str, value: str, problems: list[str]) -> str:
    return f"{path}: Invalid value: {go_quote(value)}: {'; '.join(problems)}"


def _aggregate(messages: list[str]) -> str:
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _new_requirement(key: str, op: str, values: tuple[str, ...]) -> Requirement:
    """labels.NewRequirement with no field path: validate the values, then build."""
    errs: list[str] = []
    if op in (IN, NOT_IN) and not values:
        errs.append("values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty")
    if op in (GREATER, LESS):
        errs.extend(_invalid(f"values[{i}]", v, ["for 'Gt', 'Lt' operators, the value must be an integer"])
                    for i, v in enumerate(values) if _go_int(v) is None)
    for i, v in enumerate(values):
        problems = _value_problems(v)
        if problems:
            errs.append(_invalid(f"values[{i}][{key}]", v, problems))
    if errs:
        raise SelectorError(_aggregate(errs), in_requirement=True)
    return Requirement(key, op, values)


# --- label selector parser (labels.Lexer / labels.Parser) ------------------------------

_ID = "identifier"
_EOS = "end"
_IDENT_RE = re.compile(r"[^=!(),>< \t\r\n]+")
_WS_RE = re.compile(r"[ \t\r\n]*")
_OPERATORS = {"in": IN, "notin": NOT_IN, "=": EQUALS, "==": EQUALS, "!=": NOT_EQUALS, ">": GREATER, "<": LESS}


def _lex(s: str) -> list[tuple[str, str]]:
    """(kind, literal) tokens; kind is the literal for keywords and symbols, ending with end-of-string."""
    toks: list[tuple[str, str]] = []
    pos = 0
    while True:
        pos = _WS_RE.match(s, pos).end()  # type: ignore[union-attr]
        if pos >= len(s):
            toks.append((_EOS, ""))
            return toks
        m = _IDENT_RE.match(s, pos)
        if m:
            lit = m.group()
            toks.append((lit if lit in ("in", "notin") else _ID, lit))
        else:
            lit = s[pos:pos + 2] if s.startswith(("!=", "=="), pos) else s[pos]
            toks.append((lit, lit))
        pos += len(lit)


class _Parser:
    def __init__(self, s: str) -> None:
        self.toks = _lex(s)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        kind, lit = self.toks[min(self.pos, len(self.toks) - 1)]
        return (_ID, lit) if values and kind in ("in", "notin") else (kind, lit)

    def next(self, values: bool = True) -> tuple[str, str]:
        tok = self.peek(values)
        self.pos += 1
        return tok

    def selector(self) -> Selector:
        reqs: list[Requirement] = []
        while True:
            kind, lit = self.peek()
            if kind == _EOS:
                return tuple(reqs)
            if kind not in (_ID, "!"):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            reqs.append(self.requirement())
            kind, lit = self.next()
            if kind == _EOS:
                return tuple(reqs)
            if kind != ",":
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            kind, lit = self.peek()
            if kind not in (_ID, "!"):
                raise SelectorError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        op = ""
        kind, key = self.next()
        if kind == "!":
            op = DOES_NOT_EXIST
            kind, key = self.next()
        if kind != _ID:
            raise SelectorError(f"found '{key}', expected: identifier", in_requirement=True)
        problems = _key_problems(key)
        if problems:
            raise SelectorError(_invalid("<nil>", key, problems), in_requirement=True)
        if op == DOES_NOT_EXIST or self.peek()[0] in (_EOS, ","):
            return _new_requirement(key, op or EXISTS, ())
        _, lit = self.next(values=False)
        op = _OPERATORS.get(lit, "")
        if not op:
            raise SelectorError(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt", in_requirement=True)
        values = self.value_set() if op in (IN, NOT_IN) else self.exact_value()
        return _new_requirement(key, op, values)

    def exact_value(self) -> tuple[str, ...]:
        if self.peek()[0] in (_EOS, ","):
            return ("",)
        kind, lit = self.next()
        if kind != _ID:
            raise SelectorError(f"found '{lit}', expected: identifier", in_requirement=True)
        return (lit,)

    def value_set(self) -> tuple[str, ...]:
        kind, lit = self.next()
        if kind != "(":
            raise SelectorError(f"found '{lit}' expected: '('", in_requirement=True)
        kind, lit = self.peek()
        if kind == ")":
            self.next()
            return ("",)
        if kind not in (_ID, ","):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier", in_requirement=True)
        values = self.identifiers()
        self.next()  # the ')' identifiers() stopped at
        return tuple(values)

    def identifiers(self) -> dict[str, None]:
        """The comma-separated values up to ')'; empty places (`(,a)`, `(a,,b)`, `(a,)`) are ""."""
        values: dict[str, None] = {}
        while True:
            kind, lit = self.next()
            if kind == _ID:
                values[lit] = None
                kind, lit = self.peek()
                if kind == ")":
                    return values
                if kind != ",":
                    raise SelectorError(f"found '{lit}', expected: ',' or ')'", in_requirement=True)
            elif kind == ",":
                if not values:
                    values[""] = None
                kind, _ = self.peek()
                if kind == ")":
                    values[""] = None
                    return values
                if kind == ",":
                    self.next()
                    values[""] = None
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier", in_requirement=True)


def parse_label_selector(s: str) -> Selector:
    """Parse `-l` syntax. Raises SelectorError."""
    return _Parser(s).selector()


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
            raise SelectorError(f"{go_quote(str(e.get('operator') or ''))} is not a valid label selector operator")
        reqs.append(Requirement(e.get("key", ""), op, tuple(e.get("values") or ())))
    return tuple(reqs)


def selector_string(sel: Mapping[str, Any] | None) -> str:
    """kubectl's rendering of a LabelSelector (`app=web,tier in (a,b)`)."""
    return ",".join(str(r) for r in sorted(from_label_selector(sel), key=lambda r: r.key))


# --- field selectors (fields.ParseSelector) -----------------------------------------------

FieldSelector = tuple[tuple[str, str, str], ...]  # (field, "=" | "!=", value)


def parse_field_selector(s: str) -> FieldSelector:
    """Terms in upstream's order (sorted by their text); the field is taken verbatim up to the first operator."""
    terms: list[tuple[str, str, str]] = []
    for term in sorted(_split_terms(s)):
        if not term:
            continue
        for i in range(len(term)):
            sym = "!=" if term.startswith("!=", i) else "==" if term.startswith("==", i) else term[i]
            if sym in ("!=", "==", "="):
                terms.append((term[:i], "!=" if sym == "!=" else "=", _unescape(term[i + len(sym):])))
                break
        else:
            raise SelectorError(f"invalid selector: '{s}'; can't understand '{term}'")
    return tuple(terms)


def _split_terms(s: str) -> list[str]:
    """Split on commas not escaped by a backslash; escapes stay in the terms."""
    if not s:
        return []
    parts, start, escaped = [], 0, False
    for i, c in enumerate(s):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == ",":
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return parts


def _unescape(v: str) -> str:
    """fields.UnescapeValue: only \\\\, \\, and \\= are escapes; a bare ',' or '=' is an error."""
    if "\\" not in v and "," not in v and "=" not in v:
        return v
    out: list[str] = []
    escaped = False
    for c in v:
        if escaped:
            if c not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def field_matches(selector: FieldSelector, value_of: Callable[[str], str | None]) -> bool:
    for field, op, want in selector:
        got = value_of(field)
        if got is None:
            return False
        if (got == want) != (op == "="):
            return False
    return True
