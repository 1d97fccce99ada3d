"""The real node's pod lifecycle event generator (generic PLEG) and pod housekeeping.

Theory of operation (upstream's GenericPLEG, relist period 1 s): a container that exits, a
sandbox that dies, happen inside containerd; the pod workers must look at the pod again. Once
a second `relist()` lists every sandbox and container (two CRI calls), reduces each pod (label
io.kubernetes.pod.uid) to the set of (id, state) of its sandboxes and containers, and reports
the pods whose set changed since the previous relist to `on_change(uid)`; the agent maps the
uid to the pod's worker and makes it due. The first relist reports every pod.

Housekeeping (upstream's HandlePodCleanups, every 10 s here): a pod the runtime still holds
but the API no longer has (deleted while the agent was down) is removed from the runtime:
`orphans(known)` returns those uids (`known(uid)`: the pod exists or a worker still owns it)
and `cleanup(uid)` removes its containers, sandboxes, cgroups, logs and pod folder. The other
pods get the container GC (`gc(uid)`: CRIRuntime.gc_pod).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pocketkube.kubelet.runtime.cri_client import CRIClient
from pocketkube.kubelet.runtime.cri_types import LABEL_POD_UID
from pocketkube.kubelet.runtime.interface import RuntimeFailure

log = logging.getLogger("pocketkube.kubelet.pleg")
RELIST_PERIOD = 1.0
HOUSEKEEPING_PERIOD = 10.0
PodState = frozenset[tuple[str, int]]


class RelistPLEG:
    def __init__(self, cri: CRIClient, on_change: Callable[[str], None], *,
                 known: Callable[[str], bool] = lambda uid: True,
                 cleanup: Callable[[str], Awaitable[None]] | None = None,
                 gc: Callable[[str], Awaitable[int]] | None = None,
                 period: float = RELIST_PERIOD, housekeeping: float = HOUSEKEEPING_PERIOD) -> None:
        self.cri = cri
        self.on_change = on_change
        self.known = known
        self.cleanup = cleanup
        self.gc = gc
        self.period = period
        self.housekeeping = housekeeping
        self.pods: dict[str, PodState] = {}
        self.relists = 0

    async def snapshot(self) -> dict[str, PodState]:
        state: dict[str, set[tuple[str, int]]] = {}
        for s in await self.cri.list_pod_sandboxes():
            state.setdefault(s.labels.get(LABEL_POD_UID, ""), set()).add((s.id, 0 if s.ready else 1))
        for c in await self.cri.list_containers():
            state.setdefault(c.labels.get(LABEL_POD_UID, ""), set()).add((c.id, 10 + int(c.state)))
        state.pop("", None)
        return {uid: frozenset(items) for uid, items in state.items()}

    async def relist(self) -> set[str]:
        """One relist: reports and returns the uids of the pods whose runtime state changed."""
        current = await self.snapshot()
        changed = {uid for uid in set(current) | set(self.pods) if current.get(uid) != self.pods.get(uid)}
        self.pods = current
        self.relists += 1
        for uid in sorted(changed):
            self.on_change(uid)
        return changed

    def orphans(self) -> list[str]:
        return sorted(uid for uid in self.pods if not self.known(uid))

    async def collect_garbage(self) -> int:
        removed = 0
        for uid in sorted(self.pods):
            if self.gc is not None and self.known(uid):
                removed += await self.gc(uid)
        return removed

    async def clean_orphans(self) -> list[str]:
        removed = []
        for uid in self.orphans():
            if self.cleanup is None:
                break
            log.info("removing pod %s: the runtime has it, the API does not", uid)
            try:
                await self.cleanup(uid)
                removed.append(uid)
            except RuntimeFailure as e:
                log.warning("removing orphaned pod %s: %s", uid, e)
        return removed

    async def run(self) -> None:
        since_housekeeping = 0.0
        while True:
            try:
                await self.relist()
                since_housekeeping += self.period
                if since_housekeeping >= self.housekeeping:
                    since_housekeeping = 0.0
                    await self.clean_orphans()
                    await self.collect_garbage()
            except asyncio.CancelledError:
                raise
            except RuntimeFailure as e:
                log.warning("relist failed: %s", e)
            await asyncio.sleep(self.period)
