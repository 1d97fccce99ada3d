"""The garbage collector's dependency graph: owners and dependents by uid (upstream's GraphBuilder).

Theory of operation: every object of every monitored resource is a `Node`
keyed by uid, holding its identity (apiVersion, kind, namespace, name, uid),
its ownerReferences and the set of its dependents' uids. `Graph.observe`
applies one informer event and `Graph.virtual_delete` one verdict of the
collector ("this owner does not exist"); neither does I/O. What needs work is
handed to the `Sink`: uids to check for deletion (attemptToDelete), uids whose
dependents must be orphaned (attemptToOrphan), and invalid cross-namespace
owner references to report. The rules are upstream's:
- A dependent naming an owner the graph has not seen creates a *virtual* node
  for that owner (in the dependent's namespace) and queues it: the collector
  asks the API whether it exists and answers with `virtual_delete` if not.
  A virtual node becomes observed when an informer reports the real object;
  if the observed identity differs from the one dependents used, the
  mismatching dependents are queued (and reported when the namespaces differ).
- Deletion of a node queues its dependents (their owner is gone) and any owner
  that is waiting for its dependents (foreground deletion).
- An object that starts being deleted with the `orphan` finalizer is queued to
  attemptToOrphan; with `foregroundDeletion` it is marked deleting-dependents
  and queued along with all its dependents.
- Removing (or unblocking) an ownerReference with blockOwnerDeletion queues
  the owner, which may now be able to finish its foreground deletion.
Invariant: `dependents` of a node only hold uids of nodes in the graph whose
owners list that node's uid (maintained on insert, owner changes and remove).
Everything runs on one thread (the event loop), so no locking is needed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
ABSENT_CACHE_SIZE = 500

ADD = "add"
UPDATE = "update"
DELETE = "delete"


@dataclass(frozen=True)
class Identity:
    """Where an object is: owner coordinates plus the namespace (upstream's objectReference)."""

    api_version: str
    kind: str
    name: str
    uid: str
    namespace: str = ""

    def __str__(self) -> str:
        return (f"[{self.api_version}/{self.kind}, namespace: {self.namespace}, name: {self.name}, "
                f"uid: {self.uid}]")


@dataclass(frozen=True)
class OwnerRef:
    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None

    @classmethod
    def from_json(cls, ref: Mapping[str, Any]) -> OwnerRef:
        return cls(str(ref.get("apiVersion", "")), str(ref.get("kind", "")), str(ref.get("name", "")),
                   str(ref.get("uid", "")), ref.get("controller"), ref.get("blockOwnerDeletion"))

    def to_json(self, **changes: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name,
                               "uid": self.uid}
        if self.controller is not None:
            out["controller"] = self.controller
        if self.block_owner_deletion is not None:
            out["blockOwnerDeletion"] = self.block_owner_deletion
        out.update(changes)
        return out

    @property
    def blocking(self) -> bool:
        return bool(self.block_owner_deletion)

    def identity(self, namespace: str = "") -> Identity:
        return Identity(self.api_version, self.kind, self.name, self.uid, namespace)

    def matches(self, identity: Identity) -> bool:
        """Same uid, name, kind and apiVersion (ownerReferenceMatchesCoordinates)."""
        return (self.uid, self.name, self.kind, self.api_version) == (
            identity.uid, identity.name, identity.kind, identity.api_version)


def owner_refs(meta: Mapping[str, Any]) -> tuple[OwnerRef, ...]:
    return tuple(OwnerRef.from_json(r) for r in meta.get("ownerReferences") or [])


def has_finalizer(meta: Mapping[str, Any], finalizer: str) -> bool:
    return finalizer in (meta.get("finalizers") or [])


def being_deleted(meta: Mapping[str, Any] | None) -> bool:
    return bool(meta and meta.get("deletionTimestamp"))


def _starts_deletion_with(old: Mapping[str, Any] | None, new: Mapping[str, Any], finalizer: str) -> bool:
    if not being_deleted(new) or not has_finalizer(new, finalizer):
        return False
    return old is None or not being_deleted(old) or not has_finalizer(old, finalizer)


@dataclass
class Node:
    identity: Identity
    owners: tuple[OwnerRef, ...] = ()
    dependents: set[str] = field(default_factory=set)
    being_deleted: bool = False
    deleting_dependents: bool = False
    virtual: bool = False

    @property
    def observed(self) -> bool:
        return not self.virtual

    def owner(self, uid: str) -> OwnerRef | None:
        return next((o for o in self.owners if o.uid == uid), None)


class Sink(Protocol):
    """Where the graph hands its work (the collector's queues and event recorder)."""

    def attempt_to_delete(self, uid: str) -> None: ...

    def attempt_to_orphan(self, uid: str) -> None: ...

    def invalid_namespace_owner_ref(self, dependent: Identity, owner: Identity) -> None: ...


class AbsentOwnerCache:
    """An LRU set of identities known not to exist (upstream's ReferenceCache, 500 entries)."""

    def __init__(self, size: int = ABSENT_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Identity, None] = OrderedDict()

    def add(self, identity: Identity) -> None:
        self._items[identity] = None
        self._items.move_to_end(identity)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __contains__(self, identity: object) -> bool:
        if identity in self._items:
            assert isinstance(identity, Identity)
            self._items.move_to_end(identity)
            return True
        return False

    def __len__(self) -> int:
        return len(self._items)


class Graph:
    def __init__(self, sink: Sink, *, absent_cache_size: int = ABSENT_CACHE_SIZE) -> None:
        self.sink = sink
        self.nodes: dict[str, Node] = {}
        self.absent = AbsentOwnerCache(absent_cache_size)

    # ------------------------------------------------------------------ reading
    def get(self, uid: str) -> Node | None:
        return self.nodes.get(uid)

    def __len__(self) -> int:
        return len(self.nodes)

    def dependents(self, node: Node) -> list[Node]:
        return [self.nodes[u] for u in sorted(node.dependents) if u in self.nodes]

    def blocking_dependents(self, node: Node) -> list[Node]:
        """Dependents whose reference to `node` has blockOwnerDeletion=true."""
        out = []
        for dep in self.dependents(node):
            ref = dep.owner(node.identity.uid)
            if ref is not None and ref.blocking:
                out.append(dep)
        return out

    # ------------------------------------------------------------------ informer events
    def observe(self, event: str, api_version: str, kind: str, meta: Mapping[str, Any],
                old_meta: Mapping[str, Any] | None = None) -> None:
        """Apply one informer event (`meta` is the object's metadata, read only)."""
        identity = Identity(api_version, kind, str(meta.get("name", "")), str(meta.get("uid", "")),
                            str(meta.get("namespace") or ""))
        existing = self.nodes.get(identity.uid)
        if existing is not None and existing.virtual:
            existing = self._mark_observed(existing, identity)
        if event == DELETE:
            if existing is not None:
                self._remove(existing, identity)
        elif existing is None:
            self._add(identity, meta, old_meta)
        else:
            self._update(existing, meta, old_meta)

    def _mark_observed(self, node: Node, observed: Identity) -> Node:
        if observed != node.identity:
            _, mismatched = self._partition(self.dependents(node), observed)
            for dep in mismatched:
                if observed.namespace and dep.identity.namespace != observed.namespace:
                    ref = dep.owner(observed.uid)
                    if ref is not None:
                        self.sink.invalid_namespace_owner_ref(dep.identity, ref.identity(dep.identity.namespace))
                self.sink.attempt_to_delete(dep.identity.uid)
            node.identity = observed
        node.virtual = False
        return node

    def _add(self, identity: Identity, meta: Mapping[str, Any], old_meta: Mapping[str, Any] | None) -> None:
        deleting = being_deleted(meta)
        node = Node(identity, owner_refs(meta), being_deleted=deleting,
                    deleting_dependents=deleting and has_finalizer(meta, FOREGROUND_FINALIZER))
        self.nodes[identity.uid] = node
        self._add_to_owners(node, node.owners)
        self._transitions(node, old_meta, meta)

    def _update(self, node: Node, meta: Mapping[str, Any], old_meta: Mapping[str, Any] | None) -> None:
        new_owners = owner_refs(meta)
        if new_owners != node.owners:
            old = {o.uid: o for o in node.owners}
            new = {o.uid: o for o in new_owners}
            added = [o for u, o in new.items() if u not in old]
            removed = [o for u, o in old.items() if u not in new]
            unblocked = [o for u, o in old.items() if u in new and o.blocking and not new[u].blocking]
            for ref in (*removed, *unblocked):
                if ref.blocking and ref.uid in self.nodes:
                    self.sink.attempt_to_delete(ref.uid)
            node.owners = new_owners
            self._add_to_owners(node, added)
            for ref in removed:
                owner = self.nodes.get(ref.uid)
                if owner is not None:
                    owner.dependents.discard(node.identity.uid)
        if being_deleted(meta):
            node.being_deleted = True
        self._transitions(node, old_meta, meta)

    def _add_to_owners(self, node: Node, owners: Iterable[OwnerRef]) -> None:
        suspicious = False
        for ref in owners:
            owner = self.nodes.get(ref.uid)
            if owner is None:
                owner = Node(ref.identity(node.identity.namespace), virtual=True)
                self.nodes[ref.uid] = owner
                owner.dependents.add(node.identity.uid)
                self.sink.attempt_to_delete(ref.uid)
                continue
            owner.dependents.add(node.identity.uid)
            if suspicious:
                continue
            owner_ns = owner.identity.namespace
            if owner_ns and owner_ns != node.identity.namespace:
                if owner.observed:
                    self.sink.invalid_namespace_owner_ref(node.identity, ref.identity(node.identity.namespace))
                suspicious = True
            elif not ref.matches(owner.identity):
                suspicious = True
            elif not owner_ns and node.identity.namespace and owner.virtual:
                suspicious = True  # maybe a namespaced kind referenced by a cluster-scoped lookup
        if suspicious:
            self.sink.attempt_to_delete(node.identity.uid)

    def _transitions(self, node: Node, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
        if _starts_deletion_with(old, new, ORPHAN_FINALIZER):
            self.sink.attempt_to_orphan(node.identity.uid)
            return
        if _starts_deletion_with(old, new, FOREGROUND_FINALIZER):
            node.deleting_dependents = True
            for dep in sorted(node.dependents):
                self.sink.attempt_to_delete(dep)
            self.sink.attempt_to_delete(node.identity.uid)

    # ------------------------------------------------------------------ deletions
    def virtual_delete(self, deleted: Identity) -> None:
        """The collector found no object at `deleted` (404 or another uid)."""
        node = self.nodes.get(deleted.uid)
        if node is None:
            return
        matching, mismatched = self._partition(self.dependents(node), deleted)
        if node.virtual and mismatched:
            self._confirm_absent(deleted, matching)
            if node.identity == deleted:
                alternative = self._alternate_identity(mismatched, deleted)
                if alternative is not None:
                    node.identity = alternative
                    self.sink.attempt_to_delete(node.identity.uid)
            return
        if not node.virtual and node.identity != deleted:
            self._confirm_absent(deleted, matching)
            return
        self._remove(node, deleted)

    def _confirm_absent(self, deleted: Identity, matching: list[Node]) -> None:
        if matching:
            self.absent.add(deleted)
            for dep in matching:
                self.sink.attempt_to_delete(dep.identity.uid)

    def _remove(self, node: Node, identity: Identity) -> None:
        self.nodes.pop(node.identity.uid, None)
        for ref in node.owners:
            owner = self.nodes.get(ref.uid)
            if owner is not None:
                owner.dependents.discard(node.identity.uid)
        if node.dependents:
            self.absent.add(identity)
        for dep in sorted(node.dependents):
            self.sink.attempt_to_delete(dep)
        for ref in node.owners:
            owner = self.nodes.get(ref.uid)
            if owner is not None and owner.deleting_dependents:
                self.sink.attempt_to_delete(ref.uid)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _partition(dependents: list[Node], owner: Identity) -> tuple[list[Node], list[Node]]:
        """Dependents whose reference to `owner` matches its coordinates, and those that do not."""
        matching: list[Node] = []
        mismatched: list[Node] = []
        for dep in dependents:
            match = mismatch = False
            if owner.namespace and owner.namespace != dep.identity.namespace:
                mismatch = True
            else:
                for ref in dep.owners:
                    if ref.uid == owner.uid:
                        if ref.matches(owner):
                            match = True
                        else:
                            mismatch = True
            if match:
                matching.append(dep)
            if mismatch:
                mismatched.append(dep)
        return matching, mismatched

    @staticmethod
    def _alternate_identity(dependents: list[Node], verified_absent: Identity) -> Identity | None:
        """Another identity the dependents use for this owner: the first after the absent one in
        lexical order, else the first (upstream's getAlternateOwnerIdentity)."""
        cluster_scoped = not verified_absent.namespace
        seen = {verified_absent}
        for dep in dependents:
            for ref in dep.owners:
                if ref.uid != verified_absent.uid:
                    continue
                if ref.matches(verified_absent) and (cluster_scoped or
                                                     verified_absent.namespace == dep.identity.namespace):
                    continue
                candidate = ref.identity(dep.identity.namespace)
                if cluster_scoped and (ref.api_version, ref.kind) == (verified_absent.api_version,
                                                                      verified_absent.kind):
                    candidate = ref.identity("")
                seen.add(candidate)
        seen.discard(verified_absent)
        if not seen:
            return None
        ordered = sorted(seen, key=_order)
        following = [c for c in ordered if _order(c) > _order(verified_absent)]
        return following[0] if following else ordered[0]


def _order(i: Identity) -> tuple[str, str, str, str, str]:
    return (i.namespace, i.api_version, i.kind, i.name, i.uid)
