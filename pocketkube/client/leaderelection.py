"""Lease-based leader election (client-go's tools/leaderelection with a LeaseLock).

Theory of operation: candidates share one coordination.k8s.io/v1 Lease
(kube-system/<name> by default). The holder writes its identity
(`<hostname>_<uuid>`) and renews `renewTime` every retry period; every write is
an update carrying the resourceVersion last read, so two candidates can never
both win a round (optimistic concurrency). Nobody compares clocks: a candidate
treats the lease as held while the record it observed last has not changed for
less than leaseDurationSeconds *of its own clock* (client-go's
observedTime), then takes it over, counting leaseTransitions up.

`LeaderElector.run()`:
1. acquire: try every retry period (jittered by up to 1.2x) until this
   candidate holds the lease;
2. lead: run `on_started_leading()` as a task while renewing; each renewal is
   retried every retry period until it succeeds or the renew deadline passes.
   A missed deadline means leadership is lost: the leading task is cancelled.
   If the leading coroutine ends by itself, leadership ends too;
3. stop: with `release_on_cancel` (the default, like kube-controller-manager's
   ReleaseOnCancel) the lease is released, i.e. rewritten with no holder and a
   1 s duration, so a standby takes over at its next retry instead of waiting
   for the lease to expire; then `on_stopped_leading()` is called and run()
   returns (or re-raises the cancellation).
Unlike client-go, on_stopped_leading is only called if leadership was held.
`on_new_leader(identity)` reports every change of the observed holder. With an
EventRecorder the Lease gets the upstream "LeaderElection" events ("<id>
became leader", "<id> stopped leading"). Defaults are the upstream ones: lease
15 s, renew deadline 10 s, retry 2 s. All waiting uses the loop clock.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pocketkube.client.clock import WallClock, micro_time, monotonic, wall
from pocketkube.client.events import NORMAL, EventRecorder
from pocketkube.client.rest import ApiError, ResourceRef, RESTClient

log = logging.getLogger("pocketkube.client.leaderelection")

LEASES = ResourceRef("coordination.k8s.io", "v1", "leases")
JITTER_FACTOR = 1.2


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass(frozen=True)
class LeaderElectionConfig:
    name: str
    namespace: str = "kube-system"
    identity: str = field(default_factory=default_identity)
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > JITTER_FACTOR * self.retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > 1.2 * retry_period > 0")


def _spec(lease: dict[str, Any] | None) -> dict[str, Any]:
    return dict((lease or {}).get("spec") or {})


class LeaderElector:
    def __init__(self, client: RESTClient, config: LeaderElectionConfig, *,
                 on_started_leading: Callable[[], Awaitable[None]] | None = None,
                 on_stopped_leading: Callable[[], None] | None = None,
                 on_new_leader: Callable[[str], None] | None = None,
                 recorder: EventRecorder | None = None, now: WallClock = wall) -> None:
        self.client = client
        self.config = config
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.recorder = recorder
        self.now = now
        self.observed: dict[str, Any] = {}
        self.observed_time = 0.0
        self._lease: dict[str, Any] | None = None
        self._reported = ""

    # ------------------------------------------------------------------ queries
    @property
    def identity(self) -> str:
        return self.config.identity

    def leader(self) -> str:
        """The holder this candidate observed last ("" for none)."""
        return str(self.observed.get("holderIdentity") or "")

    def is_leader(self) -> bool:
        return self.leader() == self.identity

    def healthy(self, tolerance: float = 20.0) -> bool:
        """A /healthz check (client-go's HealthzAdaptor): False only while this candidate believes it
        leads but has not renewed for longer than the lease duration plus `tolerance` seconds."""
        if not self.is_leader():
            return True
        duration = float(self.observed.get("leaseDurationSeconds") or 0)
        return monotonic() <= self.observed_time + duration + tolerance

    def _lease_valid(self) -> bool:
        duration = float(self.observed.get("leaseDurationSeconds") or 0)
        return self.observed_time + duration > monotonic()

    # ------------------------------------------------------------------ run
    async def run(self) -> None:
        """Acquire, lead while renewing, release; returns when leadership is lost."""
        await self._acquire()
        try:
            async with asyncio.TaskGroup() as tg:
                lead = tg.create_task(self._lead(), name=f"leading-{self.config.name}")
                renew = tg.create_task(self._renew(), name=f"renew-{self.config.name}")
                lead.add_done_callback(lambda _: renew.cancel())
                renew.add_done_callback(lambda _: lead.cancel())
        finally:
            await self._stop()

    async def _lead(self) -> None:
        if self.on_started_leading is not None:
            await self.on_started_leading()

    async def _stop(self) -> None:
        if self.config.release_on_cancel:
            try:
                await asyncio.wait_for(self.release(), self.config.renew_deadline)
            except (Exception, asyncio.CancelledError) as e:
                log.warning("lease %s: release failed: %s", self._describe(), e)
        self._event("stopped leading")
        if self.on_stopped_leading is not None:
            self.on_stopped_leading()

    async def _acquire(self) -> None:
        log.info("attempting to acquire leader lease %s...", self._describe())
        while True:
            ok = await self.try_acquire_or_renew()
            self._report_transition()
            if ok:
                log.info("successfully acquired lease %s", self._describe())
                self._event("became leader")
                return
            await asyncio.sleep(self.config.retry_period * (1.0 + random.random() * JITTER_FACTOR))

    async def _renew(self) -> None:
        cfg = self.config
        while True:
            deadline = monotonic() + cfg.renew_deadline
            renewed = False
            while not renewed:
                try:
                    async with asyncio.timeout(max(0.0, deadline - monotonic())):
                        renewed = await self.try_acquire_or_renew()
                except TimeoutError:
                    pass
                self._report_transition()
                if renewed or monotonic() + cfg.retry_period > deadline:
                    break
                await asyncio.sleep(cfg.retry_period)
            if not renewed:
                log.info("failed to renew lease %s: timed out waiting for the condition", self._describe())
                return
            await asyncio.sleep(cfg.retry_period)

    # ------------------------------------------------------------------ one round
    async def try_acquire_or_renew(self) -> bool:
        """One acquire-or-renew round; True when this candidate holds the lease afterwards."""
        ts = micro_time(self.now())
        record = {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.config.lease_duration),
                  "acquireTime": ts, "renewTime": ts, "leaseTransitions": 0}
        if self.is_leader() and self._lease_valid() and self._lease is not None:
            record.update(acquireTime=self.observed.get("acquireTime"),
                          leaseTransitions=self.observed.get("leaseTransitions") or 0)
            if await self._write(record):
                return True
        try:
            lease = await self.client.get(LEASES, self.config.name, self.config.namespace)
        except ApiError as e:
            if not e.not_found:
                log.error("error retrieving lease %s: %s", self._describe(), e)
                return False
            return await self._write(record, create=True)
        except Exception as e:
            log.error("error retrieving lease %s: %s", self._describe(), e)
            return False
        self._lease = lease
        old = _spec(lease)
        if old != self.observed:
            self.observed, self.observed_time = old, monotonic()
        if old.get("holderIdentity") and self._lease_valid() and not self.is_leader():
            return False
        if self.is_leader():
            record.update(acquireTime=old.get("acquireTime"), leaseTransitions=old.get("leaseTransitions") or 0)
        else:
            record["leaseTransitions"] = int(old.get("leaseTransitions") or 0) + 1
        return await self._write(record)

    async def _write(self, record: dict[str, Any], create: bool = False) -> bool:
        cfg = self.config
        try:
            if create:
                body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                        "metadata": {"name": cfg.name, "namespace": cfg.namespace}, "spec": record}
                self._lease = await self.client.create(LEASES, body, namespace=cfg.namespace)
            else:
                assert self._lease is not None
                self._lease = await self.client.update(LEASES, {**self._lease, "spec": record})
        except Exception as e:
            log.log(logging.INFO if isinstance(e, ApiError) and e.conflict else logging.ERROR,
                    "failed to %s lease %s: %s", "create" if create else "update", self._describe(), e)
            return False
        self.observed, self.observed_time = _spec(self._lease) or dict(record), monotonic()
        return True

    async def release(self) -> bool:
        """Give the lease up (no holder, 1 s duration) if this candidate holds it."""
        if not self.is_leader() or self._lease is None:
            return True
        ts = micro_time(self.now())
        record = {"holderIdentity": "", "leaseDurationSeconds": 1, "acquireTime": ts, "renewTime": ts,
                  "leaseTransitions": self.observed.get("leaseTransitions") or 0}
        return await self._write(record)

    # ------------------------------------------------------------------ reporting
    def _report_transition(self) -> None:
        holder = self.leader()
        if holder == self._reported:
            return
        self._reported = holder
        if holder:
            log.info("new leader elected for %s: %s", self._describe(), holder)
        if self.on_new_leader is not None and holder:
            self.on_new_leader(holder)

    def _event(self, what: str) -> None:
        if self.recorder is None or self._lease is None:
            return
        self.recorder.event(self._lease, NORMAL, "LeaderElection", f"{self.identity} {what}")

    def _describe(self) -> str:
        return f"{self.config.namespace}/{self.config.name}"
