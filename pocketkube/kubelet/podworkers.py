"""Pod workers: one loop that walks every hosted pod through the lifecycle table.

Theory of operation: the kubelet has a goroutine per pod; here one task serves
every pod of every hosted node from a `DueQueue` of pod keys. Informer events
make a pod due now; a stage waiting for its delay, a back-off, or an exit the
runtime announced (`next_change`) makes it due later. `sync(key)`:
1. reads the pod from the informer cache (None once deleted) and its memo;
   a pod recreated under the same name (new uid) first forgets the old one;
   a pod seen for the first time is offered to `runtime.restore` (agent restart),
   and one the runtime does not know passes kubelet admission (admission.py):
   a rejected pod is terminal at once (Failed, OutOfcpu...);
2. loops: snapshot the runtime, observe facts, select the stage, arm it if it
   is new, and either schedule the pod for the stage's due time or perform the
   action and look again (an action always changes the facts);
3. generates the status; if it differs from the last one it hands it to the
   StatusWriter, then the deletion confirmation if one is due.
Pods of nodes that are not (yet) registered or whose heartbeat is stopped are
left alone: `node_ready(name)` re-queues a node's pods when it (re)starts
serving. Mirror pods (annotation kubernetes.io/config.mirror) are never run:
their node agent reports them (staticpods.py).

`run()` syncs up to `concurrency` pods at once (a real runtime's calls take
tens of milliseconds; the kubelet has a goroutine per pod), never one pod
twice at a time: a pod that becomes due while its sync runs is synced again
right after. `run_due()` (tests) syncs what is due one pod after the other.
Each node's `PodConfigurer` (configurer.py) turns pods into runtime requests.
A node with real probes has `ProbeHooks` (podinputs.probes.ProbeManager): the
workers register each container instance that starts (and, after an agent
restart, each running one), report the instances that exit and the pods that
go away, and its results give started/ready; `request_kill` is how a failed
liveness or startup probe asks for a restart (lifecycle stage kill-unhealthy).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pocketkube.client.indexer import NODE_NAME_INDEX, index_by_node_name
from pocketkube.client.informer import Handlers, Informer, key_of
from pocketkube.kubelet import admission, containerstatus, lifecycle, podactions, podstatus
from pocketkube.kubelet.clock import Clock
from pocketkube.kubelet.configurer import SEAM, PodConfigurer, PodNotReady
from pocketkube.kubelet.duequeue import DueQueue
from pocketkube.kubelet.events import WARNING, NodeEvents, pod_ref
from pocketkube.kubelet.lifecycle import Action, Wait
from pocketkube.kubelet.podactions import ActionContext, PodMemo, ProbeHooks
from pocketkube.kubelet.runtime.interface import ContainerState, PodRuntimeStatus, Runtime
from pocketkube.kubelet.statuswriter import StatusWriter
from pocketkube.kubelet.timefmt import rfc3339

log = logging.getLogger("pocketkube.kubelet.pods")

Obj = dict[str, Any]
MAX_STEPS = 16
BATCH = 50
# kubelet_pod_start_duration_seconds buckets (upstream's)
START_BUCKETS = (0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200,
                 1800, 2700, 3600)


class NodeView(Protocol):
    def runtime_for(self, node: str) -> Runtime | None:
        """The node's runtime if this agent serves it now (registered, heartbeat on), else None."""

    def host_ip(self, node: str) -> str: ...

    def allocatable(self, node: str) -> Mapping[str, Any]: ...


Delays = Callable[[Obj], Mapping[Wait, float]]
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def is_mirror(pod: Obj | None) -> bool:
    return MIRROR_ANNOTATION in (((pod or {}).get("metadata") or {}).get("annotations") or {})


def _seam(node: str) -> PodConfigurer:
    return SEAM


def _no_probes(node: str) -> ProbeHooks | None:
    return None


def _uid(pod: Obj | None) -> str:
    return str(((pod or {}).get("metadata") or {}).get("uid") or "")


def _node_of(pod: Obj | None) -> str:
    return str(((pod or {}).get("spec") or {}).get("nodeName") or "")


class PodWorkers:
    def __init__(self, *, clock: Clock, nodes: NodeView, pods: Informer, writer: StatusWriter,
                 events: NodeEvents, delays: Delays, configurers: Callable[[str], PodConfigurer] = _seam,
                 probes: Callable[[str], ProbeHooks | None] = _no_probes, concurrency: int = 16) -> None:
        self.clock = clock
        self.nodes = nodes
        self.pods = pods
        self.writer = writer
        self.events = events
        self.delays = delays
        self.configurers = configurers
        self.probes = probes
        self.concurrency = concurrency
        self.memos: dict[str, PodMemo] = {}
        self.queue = DueQueue()
        self.wake = asyncio.Event()
        self.inflight: set[str] = set()
        self.again: set[str] = set()
        self.admit_lock = asyncio.Lock()
        self.syncs = 0
        self.start_counts = [0] * (len(START_BUCKETS) + 1)
        self.start_sum = 0.0
        pods.add_indexers({NODE_NAME_INDEX: index_by_node_name})
        pods.add_handlers(Handlers(on_add=self._on_pod, on_update=lambda old, new: self._on_pod(new),
                                   on_delete=self._on_pod))

    # ------------------------------------------------------------------ event intake
    def _on_pod(self, pod: Obj) -> None:
        self.enqueue(key_of(pod))

    def enqueue(self, key: str, at: float | None = None) -> None:
        self.queue.schedule(key, self.clock.now() if at is None else at)
        if at is None:
            self.wake.set()

    def node_ready(self, node: str) -> None:
        for key in self.pods.index_keys(NODE_NAME_INDEX, node):
            self.enqueue(key)

    def node_gone(self, node: str) -> None:
        """The node is no longer served: drop what we remember of its pods (no API calls)."""
        for key in [k for k, memo in self.memos.items() if memo.node == node]:
            del self.memos[key]
            self.writer.forget(key)
            self.queue.discard(key)

    def request_kill(self, uid: str, container_id: str, message: str) -> None:
        """A liveness/startup probe failed: kill that container instance (its pod's policy restarts it)."""
        key = self.key_of_uid(uid)
        memo = self.memos.get(key) if key is not None else None
        if key is not None and memo is not None and container_id in memo.probed:
            memo.unhealthy[container_id] = message
            self.enqueue(key)

    def key_of_uid(self, uid: str) -> str | None:
        for key, memo in self.memos.items():
            if memo.uid == uid:
                return key
        return None

    # ------------------------------------------------------------------ loop
    async def run(self) -> None:
        """Sync due pods, up to `concurrency` at once, forever."""
        gate = asyncio.Semaphore(self.concurrency)
        async with asyncio.TaskGroup() as tg:
            while True:
                self.wake.clear()
                for key in self.queue.pop_due(self.clock.now(), limit=BATCH):
                    if key in self.inflight:
                        self.again.add(key)
                        continue
                    self.inflight.add(key)
                    await gate.acquire()
                    tg.create_task(self._sync_gated(key, gate), name=f"sync {key}")
                if self._due_now():
                    await asyncio.sleep(0)
                    continue
                next_at = self.queue.next_due()
                timeout = None if next_at is None else max(0.0, next_at - self.clock.now())
                if timeout is None or timeout > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), timeout)

    def _due_now(self) -> bool:
        next_at = self.queue.next_due()
        return next_at is not None and next_at <= self.clock.now()

    async def _sync_gated(self, key: str, gate: asyncio.Semaphore) -> None:
        try:
            await self._sync_logged(key)
        finally:
            gate.release()
            self.inflight.discard(key)
            if key in self.again:
                self.again.discard(key)
                self.enqueue(key)
            self.wake.set()  # the sync may have scheduled the pod: the loop recomputes its timeout

    async def _sync_logged(self, key: str) -> None:
        try:
            await self.sync(key)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sync of pod %s failed", key)
            self.enqueue(key, self.clock.now() + 1.0)

    async def run_due(self) -> int:
        """Sync every pod that is due now; returns how many were synced."""
        done = 0
        while True:
            keys = self.queue.pop_due(self.clock.now(), limit=BATCH)
            if not keys:
                return done
            for key in keys:
                await self._sync_logged(key)
            done += len(keys)
            await asyncio.sleep(0)

    # ------------------------------------------------------------------ one pod
    async def sync(self, key: str) -> None:
        self.syncs += 1
        pod = self.pods.get(key)
        if is_mirror(pod):
            return
        memo = self.memos.get(key)
        if memo is not None and pod is not None and memo.uid != _uid(pod):
            await self._walk(key, None, memo)
            memo = None
        if memo is None:
            if pod is None:
                return
            async with self.admit_lock:  # admission sees the pods admitted before this one
                memo = await self._adopt(key, pod)
            if memo is None:
                return
        await self._walk(key, pod, memo)

    async def _adopt(self, key: str, pod: Obj) -> PodMemo | None:
        node = _node_of(pod)
        runtime = self.nodes.runtime_for(node)
        if runtime is None:
            return None
        await runtime.restore(pod)
        memo = PodMemo(uid=_uid(pod), node=node, seen_at=self.clock.now())
        memo.terminal = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        memo.last_status = pod.get("status")  # an unchanged status is not written again
        memo.started_noted = (pod.get("status") or {}).get("phase") != "Pending"  # start latency: new pods only
        known = await runtime.pod_status(memo.uid)
        if known.sandbox is not None and not memo.terminal:
            await self._readopt(pod, memo, known)
        if not memo.terminal and known.sandbox is None and not pod["metadata"].get("deletionTimestamp"):
            memo.rejection = admission.admit(pod, self.nodes.allocatable(node), self._admitted(node))
            if memo.rejection is not None:
                memo.terminal = True
                self.events.emit(node, pod_ref(pod), WARNING, memo.rejection.reason, memo.rejection.message)
        self.memos[key] = memo
        return memo

    async def _readopt(self, pod: Obj, memo: PodMemo, known: PodRuntimeStatus) -> None:
        """A pod the runtime already runs (agent restart): its volumes and its running containers' probes."""
        try:
            await self.configurers(memo.node).prepare(pod)
        except PodNotReady:
            log.info("pod %s: volumes not ready after an agent restart", key_of(pod))
        probes = self.probes(memo.node)
        if probes is None:
            return
        ip = known.sandbox.ip if known.sandbox is not None else ""
        for c in known.containers:
            if c.state is ContainerState.RUNNING:
                probes.add(pod, c.name, c.id, c.started_at or c.created_at, pod_ip=ip)
                memo.probed[c.id] = c.name

    def _admitted(self, node: str) -> list[Obj]:
        """The pods the node already runs (admitted, not terminal)."""
        out = []
        for key in self.pods.index_keys(NODE_NAME_INDEX, node):
            memo, pod = self.memos.get(key), self.pods.get(key)
            if memo is not None and pod is not None and not memo.terminal:
                out.append(pod)
        return out

    async def _walk(self, key: str, pod: Obj | None, memo: PodMemo) -> None:
        runtime = self.nodes.runtime_for(memo.node)
        if runtime is None:
            return
        now = self.clock.now()
        configurer = self.configurers(memo.node)
        for _ in range(MAX_STEPS):
            rt = await runtime.pod_status(memo.uid)
            facts = lifecycle.observe(pod, rt, terminal=memo.terminal, stopping=memo.stopping,
                                      confirmed=memo.confirming, holds=memo.holds, unhealthy=memo.unhealthy.keys())
            stage = lifecycle.select(facts)
            if memo.armed is None or memo.armed[0] != stage.name:
                memo.armed = (stage.name, now)
            if stage.action is Action.NONE:
                break
            if stage.action is Action.FORGET:
                await self._forget(key, memo, runtime)
                return
            assert pod is not None
            delays = self.delays(pod)
            # what a pull "took": the time spent in ContainerCreating (restarts pull without that wait)
            waited = delays.get(Wait.START, 0.0) if stage.wait is Wait.BACKOFF else now - memo.armed[1]
            ctx = ActionContext(runtime, self.events, memo.node, pod, rt, memo, now, waited, configurer,
                                self.probes(memo.node))
            due = lifecycle.due(stage, facts, armed_at=memo.armed[1], delays=delays)
            if due > now:
                podactions.note_backoff(ctx)
                self.queue.schedule(key, due)
                break
            await podactions.perform(stage.action, ctx)
            memo.armed = None
        else:
            log.warning("pod %s: lifecycle did not settle in %d steps", key, MAX_STEPS)
        now = self.clock.now()  # after the actions: what was started now counts as started
        if pod is not None:
            await self._publish(key, pod, memo, runtime, now)
        wake = runtime.next_change(memo.uid)
        if wake is not None:
            self.queue.schedule(key, wake)
        if memo.resync_at is not None:
            self.queue.schedule(key, memo.resync_at)
            memo.resync_at = None
        if pod is not None and not memo.terminal and self.probes(memo.node) is None:
            probe = containerstatus.next_probe_change(pod.get("spec") or {}, await runtime.pod_status(memo.uid), now)
            if probe is not None:
                self.queue.schedule(key, probe)

    def _tell_prober(self, pod: Obj, memo: PodMemo, rt: PodRuntimeStatus) -> None:
        """The latest pod for the prober; instances that exited or vanished stop being probed."""
        probes = self.probes(memo.node)
        if probes is None:
            return
        probes.update_pod(pod, rt.sandbox.ip if rt.sandbox is not None and rt.sandbox.ip else None)
        live = {c.id for c in rt.containers if c.state is not ContainerState.EXITED}
        for cid in [cid for cid in memo.probed if cid not in live]:
            probes.container_stopped(memo.uid, memo.probed.pop(cid))
        for cid in [cid for cid in memo.unhealthy if cid not in live]:
            del memo.unhealthy[cid]

    async def _publish(self, key: str, pod: Obj, memo: PodMemo, runtime: Runtime, now: float) -> None:
        rt = await runtime.pod_status(memo.uid)
        self._tell_prober(pod, memo, rt)
        ctx = podstatus.PodContext(host_ip=self.nodes.host_ip(memo.node), runtime_name=runtime.runtime_name,
                                   terminal=memo.terminal, now=now, waiting=memo.waiting,
                                   probes=self.probes(memo.node))
        if memo.rejection is not None:
            status = admission.rejected_status(pod.get("status") or {}, memo.rejection, rfc3339(memo.seen_at))
        else:
            status = podstatus.generate(pod, rt, ctx, podstatus.base_status(pod.get("status") or {}, memo.last_status))
        drifted = not self.writer.busy(key) and podstatus.summary(pod.get("status") or {}) != podstatus.summary(status)
        if status != memo.last_status or drifted:
            memo.last_status = status
            self.writer.submit(key, memo.uid, status)
            if status.get("phase") == "Running" and not memo.started_noted:
                memo.started_noted = True
                self._observe_start(now - memo.seen_at)
        if memo.confirming and not memo.delete_sent:
            memo.delete_sent = True
            self.writer.confirm_delete(key, memo.uid)

    def _observe_start(self, seconds: float) -> None:
        self.start_sum += seconds
        for i, bound in enumerate(START_BUCKETS):
            if seconds <= bound:
                self.start_counts[i] += 1
                return
        self.start_counts[-1] += 1

    async def _forget(self, key: str, memo: PodMemo, runtime: Runtime | None = None) -> None:
        runtime = runtime or self.nodes.runtime_for(memo.node)
        if runtime is not None:
            await runtime.remove_pod(memo.uid)
            await self.configurers(memo.node).cleanup(memo.uid)
        probes = self.probes(memo.node)
        if probes is not None:
            probes.remove_pod(memo.uid)
        if self.memos.get(key) is memo:
            del self.memos[key]
        self.writer.forget(key)

