"""Expectations: what a controller is still waiting to see in its caches (ControllerExpectations).

Theory of operation (upstream pkg/controller/controller_utils.go): after a
controller creates N children it must not act on its (stale) cache until the
informer has shown it those N creations, or it would create them again. So
before issuing the writes it records "expect N adds / M deletes" for its key;
the informer's add / delete handlers call `creation_observed` /
`deletion_observed`, which count down; `satisfied(key)` is true once both
counts are <= 0, when nothing was ever recorded, or when the record is older
than the TTL (5 minutes: a missed watch event must not wedge the controller
forever). A write that fails is taken back with `lower` (the child will never
be observed). `expect_creations` / `expect_deletions` replace the record, as
upstream does.

`UIDTrackingExpectations` adds what the ReplicaSet controller needs for
deletions: the keys of the children it deletes, so a deletion is counted only
once and only for children it deleted (a pod can be seen deleted twice: by
its final update with a deletionTimestamp and by the DELETED event).
Single-threaded (one asyncio loop); the clock is injectable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from pocketkube.client.clock import Clock, monotonic

log = logging.getLogger("pocketkube.controllers.expectations")

EXPECTATIONS_TIMEOUT = 300.0


@dataclass
class ControlleeExpectations:
    key: str
    add: int
    delete: int
    timestamp: float

    def fulfilled(self) -> bool:
        return self.add <= 0 and self.delete <= 0


class ControllerExpectations:
    def __init__(self, *, ttl: float = EXPECTATIONS_TIMEOUT, clock: Clock = monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._records: dict[str, ControlleeExpectations] = {}

    def get(self, key: str) -> ControlleeExpectations | None:
        return self._records.get(key)

    def satisfied(self, key: str) -> bool:
        """True when the controller may act on its caches for `key` (fulfilled, expired or none)."""
        exp = self._records.get(key)
        if exp is None:
            return True
        if exp.fulfilled():
            return True
        if self.clock() - exp.timestamp > self.ttl:
            log.debug("expectations of %s expired: %s", key, exp)
            return True
        return False

    def set(self, key: str, add: int, delete: int) -> None:
        self._records[key] = ControlleeExpectations(key, add, delete, self.clock())

    def expect_creations(self, key: str, adds: int) -> None:
        self.set(key, adds, 0)

    def expect_deletions(self, key: str, deletes: int) -> None:
        self.set(key, 0, deletes)

    def raise_(self, key: str, add: int, delete: int) -> None:
        """Expect more (an existing record only)."""
        exp = self._records.get(key)
        if exp is not None:
            exp.add += add
            exp.delete += delete

    def lower(self, key: str, add: int, delete: int) -> None:
        """Expect less (an observation, or a write that failed)."""
        exp = self._records.get(key)
        if exp is not None:
            exp.add -= add
            exp.delete -= delete

    def creation_observed(self, key: str) -> None:
        self.lower(key, 1, 0)

    def deletion_observed(self, key: str) -> None:
        self.lower(key, 0, 1)

    def delete(self, key: str) -> None:
        """Forget `key` (its controller object is gone)."""
        self._records.pop(key, None)

    forget = delete


class UIDTrackingExpectations(ControllerExpectations):
    """ControllerExpectations that also remember which children are expected to disappear."""

    def __init__(self, *, ttl: float = EXPECTATIONS_TIMEOUT, clock: Clock = monotonic) -> None:
        super().__init__(ttl=ttl, clock=clock)
        self._uids: dict[str, set[str]] = {}

    def uids(self, key: str) -> set[str]:
        return set(self._uids.get(key, ()))

    def expect_deletions(self, key: str, deletes: int | Iterable[str]) -> None:
        """Expect these child keys (or, with an int, that many untracked children) to be deleted."""
        if isinstance(deletes, int):
            super().expect_deletions(key, deletes)
            return
        keys = set(deletes)
        if self._uids.get(key):
            log.error("clobbering existing delete keys of %s: %s", key, sorted(self._uids[key]))
        self._uids[key] = keys
        super().expect_deletions(key, len(keys))

    def deletion_observed(self, key: str, child_key: str = "") -> None:
        """Count the deletion of `child_key` once, if it was expected."""
        expected = self._uids.get(key)
        if expected is not None and child_key in expected:
            expected.discard(child_key)
            super().deletion_observed(key)

    def delete(self, key: str) -> None:
        super().delete(key)
        self._uids.pop(key, None)

    forget = delete
