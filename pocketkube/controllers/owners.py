"""Which owners a child's event concerns: the event routing the workload controllers share.

Theory of operation (upstream's addPod/updatePod of the ReplicaSet controller
and addReplicaSet/updateReplicaSet of the Deployment controller, which are the
same rules for different kinds): a child whose controller reference names an
owner concerns that owner only, if the cache still holds an owner of that kind,
name and uid (`resolve`). An orphan concerns every owner in its namespace whose
selector is valid, non-empty and matches the child's labels (`selects`), so that
one of them may adopt it. On an update whose controller reference changed, the
previous owner is told too; an orphan whose labels and reference did not change
concerns no one new. An add is an update from nothing (`owners_to_sync(None,
child, ...)`). Handlers stay in the controllers; they only enqueue what this
returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pocketkube.api import labels
from pocketkube.client.informer import Informer
from pocketkube.controllers.podcontrol import controller_of

Obj = dict[str, Any]
Resolve = Callable[[str, Obj | None], Obj | None]


def selector_of(owner: Obj) -> labels.Selector | None:
    """The owner's spec.selector compiled; None when invalid."""
    try:
        return labels.from_label_selector((owner.get("spec") or {}).get("selector"))
    except labels.SelectorError:
        return None


def selects(owner: Obj, obj: Obj) -> bool:
    """A non-empty, valid selector of `owner` matches obj's labels (an empty one matches nothing)."""
    sel = selector_of(owner)
    return bool(sel) and labels.matches(sel or (), (obj.get("metadata") or {}).get("labels"))


def selecting(owners: Iterable[Obj], obj: Obj) -> list[Obj]:
    """The owners whose selector selects `obj`."""
    return [owner for owner in owners if selects(owner, obj)]


def resolve(informer: Informer, kind: str, namespace: str, ref: Obj | None) -> Obj | None:
    """The cached object a controller reference points to, if it is still that object."""
    if ref is None or ref.get("kind") != kind:
        return None
    obj = informer.get(f"{namespace}/{ref.get('name', '')}")
    if obj is None or obj["metadata"].get("uid") != ref.get("uid"):
        return None
    return obj


def owners_to_sync(old: Obj | None, cur: Obj, resolve_ref: Resolve,
                   orphan_owners: Callable[[Obj], list[Obj]]) -> tuple[list[Obj], Obj | None]:
    """(the owners to enqueue, in order; the current controller when it resolved) for a child's change."""
    ns = cur["metadata"].get("namespace", "")
    cur_ref = controller_of(cur)
    old_ref = controller_of(old) if old is not None else None
    found: list[Obj] = []
    if cur_ref != old_ref and old_ref is not None and (previous := resolve_ref(ns, old_ref)) is not None:
        found.append(previous)
    if cur_ref is not None:
        owner = resolve_ref(ns, cur_ref)
        return (found if owner is None else [*found, owner]), owner
    labels_changed = old is None or old["metadata"].get("labels") != cur["metadata"].get("labels")
    if cur_ref != old_ref or labels_changed:
        found += orphan_owners(cur)
    return found, None
