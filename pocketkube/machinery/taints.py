"""Node taints and pod tolerations: the matching rules the scheduler and the controllers share (pure).

Theory of operation: taints and tolerations stay the JSON objects the API
serves; every rule here is upstream's (core/v1 helpers, v1.32):
- two taints *match* when key and effect are equal (Taint.MatchTaint); that is
  how a taint is found, replaced or removed in a node's list (`has_taint`);
- a toleration *tolerates* a taint (Toleration.ToleratesTaint) when its effect
  is empty or the taint's, its key is empty or the taint's, and its operator is
  Exists (the value is ignored) or Equal -- the default -- with the same value
  (a missing value is ""); any other operator tolerates nothing;
- `find_untolerated` is FindMatchingUntoleratedTaint: the first taint whose
  effect is one of `effects` (by default the ones that keep pods off a node,
  NoSchedule and NoExecute) that no toleration tolerates;
- `matching_tolerations` is GetMatchingTolerations: whether every taint is
  tolerated, with the first toleration found for each.
The well-known taint keys the node lifecycle controller places (and the
scheduler and admission know about) are named here once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

Obj = Mapping[str, Any]
T = TypeVar("T", bound=Mapping[str, Any])

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"
DO_NOT_SCHEDULE = (NO_SCHEDULE, NO_EXECUTE)

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"


def matches(a: Obj, b: Obj) -> bool:
    """Taint.MatchTaint: same key and effect."""
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


def has_taint(taints: Iterable[Obj], taint: Obj) -> bool:
    return any(matches(t, taint) for t in taints)


def taints_of(node: Obj | None) -> list[dict[str, Any]]:
    """A node's spec.taints ([] when the node or the list is missing)."""
    return list(((node or {}).get("spec") or {}).get("taints") or [])


def no_execute(taints: Iterable[T]) -> list[T]:
    return [t for t in taints if t.get("effect") == NO_EXECUTE]


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def tolerates_taint(tolerations: Iterable[Obj], taint: Obj) -> bool:
    """Some toleration tolerates the taint."""
    return any(tolerates(t, taint) for t in tolerations)


def find_untolerated(taints: Sequence[T], tolerations: Sequence[Obj],
                     effects: Sequence[str] = DO_NOT_SCHEDULE) -> T | None:
    """The first taint with one of `effects` that no toleration tolerates (FindMatchingUntoleratedTaint)."""
    for taint in taints:
        if taint.get("effect") in effects and not tolerates_taint(tolerations, taint):
            return taint
    return None


def matching_tolerations(taints: Sequence[Obj], tolerations: Sequence[T]) -> tuple[bool, list[T]]:
    """(every taint tolerated, the first toleration found for each taint) (GetMatchingTolerations)."""
    used: list[T] = []
    for taint in taints:
        found = next((t for t in tolerations if tolerates(t, taint)), None)
        if found is None:
            return False, []
        used.append(found)
    return True, used
