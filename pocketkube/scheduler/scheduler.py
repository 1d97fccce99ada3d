"""The scheduler: pops pods, runs the scheduling cycle serially and binds concurrently.

Theory of operation (upstream schedule_one.go):

    scheduling cycle (serial, one pod at a time)
      pop -> skip deleted pods -> snapshot -> schedule_pod
        no fit: PostFilter (preemption) -> failure handling
        fit: assume the pod on the node (cache) -> Reserve -> Permit
    binding cycle (a task per pod, at most `max_concurrent_binds` at once)
      PreBind -> Bind -> success: finish binding, `Scheduled` event, PostBind
                      -> failure: Unreserve, forget the assumption, failure handling

Failure handling records the reason on the pod the way kube-scheduler does: a
`FailedScheduling` Warning event whose message is the FitError text (truncated
to 1024 characters) and the PodScheduled=False condition (reason
Unschedulable, or SchedulerError for internal errors) patched into
pods/status -- skipped when the condition would not change -- along with
status.nominatedNodeName when preemption nominated a node. Then the pod goes
back to the queue (unless it was deleted or got bound meanwhile).

Everything the scheduler touches is injected: the SchedulerAPI (writes), the
Listers (informer caches), the clock and the rng, so the whole loop runs
in-process against fakes (tests, bench). `spawn` decides where binding and
status writes run: inline (default; deterministic tests) or as tasks of the
TaskGroup `run()` owns.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from pocketkube.client.clock import monotonic
from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.algorithm import Algorithm, NoNodesAvailable, SchedulingError
from pocketkube.scheduler.cache import Cache
from pocketkube.scheduler.config import SchedulerConfig
from pocketkube.scheduler.eventhandlers import EventHandlers
from pocketkube.scheduler.handle import Listers, SchedulerAPI
from pocketkube.scheduler.metrics import ERROR, SCHEDULED, UNSCHEDULABLE, SchedulerMetrics
from pocketkube.scheduler.plugins import in_tree_registry
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.queue import QueuedPodInfo, SchedulingQueue, priority_sort_key
from pocketkube.scheduler.runtime import Framework, Registry
from pocketkube.scheduler.snapshot import Snapshot

log = logging.getLogger("pocketkube.scheduler")

NOTE_LENGTH_LIMIT = 1024
REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"
Obj = dict[str, Any]


def truncate_message(msg: str) -> str:
    if len(msg) <= NOTE_LENGTH_LIMIT:
        return msg
    return msg[:NOTE_LENGTH_LIMIT - 4] + " ..."


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition_patch(pod: Obj, reason: str, message: str, nominated: str | None) -> Obj | None:
    """The pods/status patch for PodScheduled=False (None when nothing would change)."""
    status = pod.get("status") or {}
    current = next((c for c in status.get("conditions") or () if c.get("type") == "PodScheduled"), None)
    nominated_changes = nominated is not None and (status.get("nominatedNodeName") or "") != nominated
    same = current is not None and (current.get("status"), current.get("reason"), current.get("message")) == (
        "False", reason, message)
    if same and not nominated_changes:
        return None
    since = current.get("lastTransitionTime") if current and current.get("status") == "False" else None
    cond = {"type": "PodScheduled", "status": "False", "reason": reason, "message": message,
            "lastProbeTime": None, "lastTransitionTime": since or _now()}
    patch: Obj = {"status": {"conditions": [cond]}}
    if nominated_changes:
        patch["status"]["nominatedNodeName"] = nominated or None
    return patch


class Scheduler:
    def __init__(self, *, api: SchedulerAPI, listers: Listers, config: SchedulerConfig | None = None,
                 registry: Registry | None = None, metrics: SchedulerMetrics | None = None,
                 clock: Callable[[], float] = monotonic, rng: random.Random | None = None,
                 max_concurrent_binds: int = 64) -> None:
        self.config = config or SchedulerConfig()
        self.api, self.listers, self.clock = api, listers, clock
        self.metrics = metrics
        self.cache = Cache(clock=clock)
        self.snapshot = Snapshot()
        self.queue = SchedulingQueue(hints=self._hints_for, pre_enqueue=self._pre_enqueue, clock=clock,
                                     initial_backoff=self.config.pod_initial_backoff_seconds,
                                     max_backoff=self.config.pod_max_backoff_seconds)
        registry = registry or in_tree_registry()
        self.frameworks: dict[str, Framework] = {
            p.scheduler_name: Framework(p, registry, snapshot=self.snapshot, nominator=self.queue.nominator,
                                        listers=listers, api=api) for p in self.config.profiles}
        self._hints = {name: f.events_to_register() for name, f in self.frameworks.items()}
        first = next(iter(self.frameworks.values()))
        self.queue.sort_key = first.queue_sort.sort_key if first.queue_sort is not None else priority_sort_key
        self.algorithm = Algorithm(percentage_of_nodes_to_score=self.config.percentage_of_nodes_to_score, rng=rng)
        self.handlers = EventHandlers(self.cache, self.queue, set(self.frameworks))
        self._binds = asyncio.Semaphore(max_concurrent_binds)
        self._tg: asyncio.TaskGroup | None = None
        if metrics is not None:
            metrics.watch_queue(self.queue.pending_counts)

    def _hints_for(self, scheduler_name: str) -> dict[str, list[fw.ClusterEventWithHint]]:
        return self._hints.get(scheduler_name, {})

    def _pre_enqueue(self, pod: PodInfo) -> fw.Status | None:
        f = self.frameworks.get(pod.scheduler_name)
        return f.run_pre_enqueue(pod) if f is not None else None

    async def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._tg is None:
            await coro
        else:
            self._tg.create_task(coro)

    # ------------------------------------------------------------------ loop
    async def run(self) -> None:
        """Schedule forever; binding and status writes run as tasks of this call."""
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            tg.create_task(self.queue.run(), name="scheduler-queue-flush")
            try:
                while True:
                    await self.schedule_one()
            finally:
                self._tg = None

    async def schedule_one(self) -> None:
        await self.schedule(await self.queue.pop())

    async def schedule(self, q: QueuedPodInfo) -> None:
        pi = q.pod_info
        fwk = self.frameworks.get(pi.scheduler_name)
        if fwk is None or pi.deleting:
            self.queue.done(pi.uid)
            return
        start = self.clock()
        state = fw.CycleState()
        self.cache.update_snapshot(self.snapshot)
        try:
            result = self.algorithm.schedule_pod(fwk, state, pi)
        except NoNodesAvailable as e:
            await self._failure(fwk, q, fw.Status(fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (str(e),)), "", start)
            return
        except fw.FitError as e:
            await self._unschedulable(fwk, state, q, e, start)
            return
        except SchedulingError as e:
            await self._failure(fwk, q, fw.error_status(str(e)), "", start)
            return
        except Exception as e:  # a plugin bug must not stop the scheduler: the pod retries after backoff
            log.exception("scheduling %s failed unexpectedly", pi.key)
            await self._failure(fwk, q, fw.error_status(e), "", start)
            return
        if self.metrics is not None:
            self.metrics.algorithm_duration.observe(max(self.clock() - start, 0.0))
        await self._assume_and_bind(fwk, state, q, result.suggested_host, start)

    async def _unschedulable(self, fwk: Framework, state: fw.CycleState, q: QueuedPodInfo, err: fw.FitError,
                             start: float) -> None:
        nominated: str | None = None
        if fwk.post_filter_plugins:
            if self.metrics is not None:
                self.metrics.preemption_attempts.inc()
            result, st = await fwk.run_post_filter(state, q.pod_info, err.diagnosis.node_to_status)
            if st.code == fw.Code.ERROR:
                log.warning("PostFilter for %s failed: %s", q.pod_info.key, st.message())
            err.diagnosis.post_filter_msg = st.message()
            if result is not None:
                nominated = result.nominated_node_name
        q.unschedulable_plugins = set(err.diagnosis.unschedulable_plugins)
        q.pending_plugins = set(err.diagnosis.pending_plugins)
        await self._failure(fwk, q, fw.Status(fw.Code.UNSCHEDULABLE, (str(err),), error=err), nominated, start)

    async def _assume_and_bind(self, fwk: Framework, state: fw.CycleState, q: QueuedPodInfo, host: str,
                               start: float) -> None:
        assumed = q.pod_info.with_node(host)
        try:
            self.cache.assume_pod(assumed)
        except ValueError as e:
            await self._failure(fwk, q, fw.error_status(e), "", start)
            return
        st = fwk.run_reserve(state, assumed, host) or fwk.run_permit(state, assumed, host)
        if st is not None:
            fwk.run_unreserve(state, assumed, host)
            self.cache.forget_pod(assumed)
            await self._failure(fwk, q, st, "", start)
            return
        self.queue.nominator.delete(assumed.uid)
        await self._binds.acquire()
        await self._spawn(self._binding_cycle(fwk, state, q, assumed, host, start))

    async def _binding_cycle(self, fwk: Framework, state: fw.CycleState, q: QueuedPodInfo, assumed: PodInfo,
                             host: str, start: float) -> None:
        try:
            st = await fwk.run_pre_bind(state, assumed, host)
            if st is None:
                st = await fwk.run_bind(state, assumed, host)
        except Exception as e:
            st = fw.error_status(e)
        finally:
            self._binds.release()
        if st is not None:
            fwk.run_unreserve(state, assumed, host)
            self.cache.forget_pod(assumed)
            self.queue.move_all_to_active_or_backoff(fw.EVENT_ASSIGNED_POD_DELETE, assumed.pod, None)
            await self._failure(fwk, q, st, "", start)
            return
        self.cache.finish_binding(assumed)
        if self.metrics is not None:
            self.metrics.observe_attempt(SCHEDULED, fwk.profile_name, max(self.clock() - start, 0.0))
            self.metrics.pod_attempts.observe(q.attempts)
        self.api.event(assumed.pod, "Normal", "Scheduled",
                       f"Successfully assigned {assumed.namespace}/{assumed.name} to {host}")
        fwk.run_post_bind(state, assumed, host)
        self.queue.done(assumed.uid)

    # ------------------------------------------------------------------ failures
    async def _failure(self, fwk: Framework, q: QueuedPodInfo, status: fw.Status, nominated: str | None,
                       start: float) -> None:
        pod = q.pod_info
        rejected = status.is_rejected()
        reason = REASON_UNSCHEDULABLE if rejected else REASON_SCHEDULER_ERROR
        if self.metrics is not None:
            self.metrics.observe_attempt(UNSCHEDULABLE if rejected else ERROR, fwk.profile_name,
                                         max(self.clock() - start, 0.0))
        msg = status.message()
        if rejected:
            log.debug("unable to schedule pod %s: %s", pod.key, msg)
        else:
            log.warning("error scheduling pod %s; retrying: %s", pod.key, msg)
        cached = self.listers.get("pods", pod.namespace, pod.name)
        if cached is not None and not (cached.get("spec") or {}).get("nodeName"):
            q.pod_info = PodInfo.of(cached)
            self.queue.add_unschedulable_if_not_present(q)
        self.queue.done(pod.uid)
        if nominated is not None:
            self.queue.nominator.add(q.pod_info, nominated)
        self.api.event(pod.pod, "Warning", "FailedScheduling", truncate_message(msg))
        patch = condition_patch(q.pod_info.pod, reason, msg, nominated)
        if patch is not None:
            await self._spawn(self._patch_status(q.pod_info.pod, patch))

    async def _patch_status(self, pod: Obj, patch: Obj) -> None:
        try:
            await self.api.patch_pod_status(pod, patch)
        except Exception as e:
            log.warning("updating the status of pod %s failed: %s", (pod.get("metadata") or {}).get("name"), e)
