"""The storage seam: a narrow, revisioned key-value store with watch (kine-shaped).

Theory of operation: the apiserver is the only user. Every write gets the next
value of one global, strictly increasing revision (etcd semantics), and that
revision is the resourceVersion clients see. Compare-and-swap is expressed by
`expected_revision` (the key's current mod_revision); there are no general
transactions. Values are opaque bytes (the apiserver stores JSON).

Invariants every implementation keeps (tests/conformance/test_storage.py checks
them against memory, SQLite and etcd alike):
- a write is durable before its call returns (for SQLite: committed with
  synchronous=FULL; for etcd: acknowledged by the cluster);
- `watch(prefix, after_revision=R)` yields every change with revision > R under
  the prefix, in revision order, grouped in batches that never split one
  revision; if R is older than the compacted revision it raises `Compacted`;
- `list(..., revision=R)` sees the store exactly as it was at R; R below the
  compacted revision raises `Compacted`, R above the current one `FutureRevision`;
- a delete is an event whose `value` is the last value of the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

EventType = Literal["create", "update", "delete"]


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Event:
    """One change. For deletes, `value` is the key's last value and `revision` the delete's."""

    type: EventType
    key: str
    value: bytes
    revision: int
    create_revision: int
    prev_value: bytes | None = None


EventBatch = list[Event]  # module-level alias: inside Store, `list` names the method


class WatchStream(Protocol):
    """What `Store.watch` returns: an async iterator of batches that can be closed.

    The start is checked lazily: Compacted / FutureRevision come from the first `__anext__`.
    `aclose()` ends the watch and frees what it holds; cancelling a reader does not leave tasks
    behind. After the store's `close()` a watch ends (StopAsyncIteration) once it has handed
    out what it already held.
    """

    def __aiter__(self) -> WatchStream: ...

    async def __anext__(self) -> EventBatch: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the revision the list was read at
    more: bool  # True when `limit` cut the list short


class StorageError(Exception):
    """Base of every storage failure."""


class KeyExists(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionMismatch(StorageError):
    """The key's mod_revision is not the expected one; `current` is what is stored now."""

    def __init__(self, key: str, current: KeyValue | None) -> None:
        super().__init__(f"revision mismatch: {key}")
        self.key = key
        self.current = current


class Compacted(StorageError):
    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"required revision {requested} has been compacted (compacted at {compacted})")
        self.requested = requested
        self.compacted = compacted


class FutureRevision(StorageError):
    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"required revision {requested} is a future revision (current {current})")
        self.requested = requested
        self.current = current


class Unavailable(StorageError):
    """The backend cannot be reached (etcd down, database file unreadable)."""


class Store(Protocol):
    """What the apiserver may ask of a datastore. Operations not listed are refused."""

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        """The key's value at `revision` (0 = latest), or None if absent then."""
        ...

    async def list(self, prefix: str, *, start_after: str = "", limit: int = 0,
                   revision: int = 0) -> ListResult:
        """Live keys under `prefix` in key order, strictly after `start_after`, at `revision`."""
        ...

    async def count(self, prefix: str) -> int:
        """Number of live keys under `prefix` (for apiserver_storage_objects)."""
        ...

    async def create(self, key: str, value: bytes, *, lease: int = 0) -> int:
        """Create a key that must not exist; returns the new revision. Raises KeyExists."""
        ...

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        """Replace the value if mod_revision == expected_revision; returns the new revision.

        Raises KeyNotFound when absent and RevisionMismatch (with the current value) otherwise.
        """
        ...

    async def delete(self, key: str, *, expected_revision: int = 0) -> tuple[int, KeyValue]:
        """Delete (if mod_revision matches, when given); returns (revision, last value)."""
        ...

    def watch(self, prefix: str, *, after_revision: int) -> WatchStream:
        """Changes with revision > after_revision, batched per commit. Raises Compacted."""
        ...

    async def current_revision(self) -> int:
        ...

    async def compacted_revision(self) -> int:
        ...

    async def compact(self, revision: int) -> None:
        """Forget history at and below `revision` (latest values are kept)."""
        ...

    async def close(self) -> None:
        ...
