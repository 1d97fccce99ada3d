"""Compiled label selectors with the scheduler's nil/empty semantics.

Theory of operation: `metav1.LabelSelectorAsSelector` turns a nil selector into
`Nothing` (matches no object) and an empty one (`{}`) into `Everything`; pod
affinity terms, topology spread constraints and PDBs rely on that difference,
so `compile_selector` keeps it: it returns `NOTHING`, `EVERYTHING`, or a
`Selector` whose `matches(labels)` is a tight loop over (key, op, values)
tuples. Selectors are compiled once per pod version (podinfo.py). Pure code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketkube.api.labels import DOES_NOT_EXIST, EXISTS, IN, NOT_IN, from_label_selector

_EQ_OPS = {"=": IN, "==": IN, IN: IN}


class Selector:
    """An AND of requirements; `matches` takes a label dict (or None)."""

    __slots__ = ("equals", "nothing", "others", "text")

    def __init__(self, equals: tuple[tuple[str, str], ...], others: tuple[tuple[str, str, frozenset[str]], ...],
                 nothing: bool = False, text: str = "") -> None:
        self.equals = equals
        self.others = others
        self.nothing = nothing
        self.text = text

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        if labels is None:
            labels = {}
        for k, v in self.equals:
            if labels.get(k) != v:
                return False
        for k, op, values in self.others:
            if op == EXISTS:
                if k not in labels:
                    return False
            elif op == DOES_NOT_EXIST:
                if k in labels:
                    return False
            elif op == IN:
                if labels.get(k) not in values:
                    return False
            elif op == NOT_IN and labels.get(k) in values:
                return False
        return True

    @property
    def key(self) -> tuple[Any, ...]:
        """A hashable identity: equal keys select the same objects."""
        return (self.nothing, self.equals, self.others)

    def is_empty(self) -> bool:
        """Matches everything (upstream Selector.Empty())."""
        return not self.nothing and not self.equals and not self.others

    def with_requirement(self, key: str, value: str) -> Selector:
        return Selector((*self.equals, (key, value)), self.others, self.nothing, self.text)

    def __repr__(self) -> str:
        return f"Selector({'<nothing>' if self.nothing else self.text})"


NOTHING = Selector((), (), nothing=True, text="<nothing>")
EVERYTHING = Selector((), (), text="")


def compile_selector(sel: Mapping[str, Any] | None) -> Selector:
    """Compile a metav1.LabelSelector; None -> NOTHING, {} -> EVERYTHING; invalid -> NOTHING."""
    if sel is None:
        return NOTHING
    if not sel:
        return EVERYTHING
    try:
        reqs = from_label_selector(sel)
    except ValueError:
        return NOTHING
    equals: list[tuple[str, str]] = []
    others: list[tuple[str, str, frozenset[str]]] = []
    for r in reqs:
        if r.op in _EQ_OPS and len(r.values) == 1:
            equals.append((r.key, r.values[0]))
        else:
            others.append((r.key, r.op, frozenset(r.values)))
    return Selector(tuple(equals), tuple(others), text=",".join(str(r) for r in reqs))


def from_match_labels(labels: Mapping[str, str]) -> Selector:
    """A selector equal to the given labels (SelectorFromSet); an empty set matches everything."""
    return Selector(tuple(sorted(labels.items())), ())
