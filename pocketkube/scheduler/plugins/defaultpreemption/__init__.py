"""DefaultPreemption: the PostFilter that evicts lower-priority pods to make room.

Theory of operation (upstream preemption.Evaluator.Preempt, synchronous mode):
1. Re-read the pod; stop if it may not preempt (victims.eligibility).
2. Potential nodes are those the filters rejected as Unschedulable (not
   Unresolvable). None: the answer is a FitError in which every node says
   "Preemption is not helpful for scheduling".
3. Dry-run on copies of the potential nodes, starting at a random offset,
   until enough candidates are found (10% of the nodes, at least 100).
   No candidate: a FitError built from the dry-run statuses (e.g. "3 No
   preemption victims found for incoming pod").
4. Pick the best candidate; mark each victim DisruptionTarget
   (PreemptionByScheduler), delete it and record a `Preempted` event; clear
   the nomination of lower-priority pods nominated to that node; nominate the
   preemptor there.
Every message returned is prefixed "preemption: ", so the pod's FailedScheduling
event reads "... preemption: 0/3 nodes are available: ...". Args:
minCandidateNodesPercentage (10), minCandidateNodesAbsolute (100).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.handle import Handle
from pocketkube.scheduler.plugins.defaultpreemption import victims as v
from pocketkube.scheduler.podinfo import PodInfo

log = logging.getLogger("pocketkube.scheduler.preemption")

NAME = "DefaultPreemption"


class DefaultPreemption:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Handle, rng: random.Random | None = None) -> None:
        self.handle = handle
        self.min_percentage = int(args.get("minCandidateNodesPercentage", 10))
        self.min_absolute = int(args.get("minCandidateNodesAbsolute", 100))
        self.rng = rng or random.Random()

    async def post_filter(self, state: fw.CycleState, pod: PodInfo,
                          statuses: fw.NodeToStatus) -> tuple[fw.PostFilterResult | None, fw.Status | None]:
        result, status = await self.preempt(state, pod, statuses)
        msg = status.message() if status is not None else ""
        if status is not None and msg:
            return result, fw.Status(status.code, (f"preemption: {msg}",), NAME, status.error)
        return result, status

    async def preempt(self, state: fw.CycleState, pod: PodInfo,
                      statuses: fw.NodeToStatus) -> tuple[fw.PostFilterResult | None, fw.Status | None]:
        latest = self.handle.listers.get("pods", pod.namespace, pod.name)
        if latest is None:
            return None, fw.error_status(f"pod {pod.key} not found in the informer cache")
        pod = PodInfo.of(latest)
        snap = self.handle.snapshot
        nominated = str((pod.pod.get("status") or {}).get("nominatedNodeName") or "")
        reason = v.eligibility(pod, statuses.get(nominated) if nominated else None,
                               snap.get(nominated) if nominated else None)
        if reason:
            return None, fw.unschedulable(reason)
        candidates, dry_run = self.find_candidates(state, pod, statuses)
        if not candidates:
            dry_run.absent = fw.unresolvable(v.NOT_HELPFUL)
            msg = fw.fit_error_message(snap.num_nodes(), fw.Diagnosis(node_to_status=dry_run))
            return fw.PostFilterResult(""), fw.unschedulable(msg)
        best = v.pick_node(candidates)
        if best is None:
            return None, fw.unschedulable("no candidate node for preemption")
        await self.prepare_candidate(best, pod)
        return fw.PostFilterResult(best.node_name), None

    def find_candidates(self, state: fw.CycleState, pod: PodInfo,
                        statuses: fw.NodeToStatus) -> tuple[list[v.Candidate], fw.NodeToStatus]:
        snap = self.handle.snapshot
        potential = statuses.nodes_for_code(snap.node_info_list, fw.Code.UNSCHEDULABLE)
        dry_run = fw.NodeToStatus()
        if not potential:
            return [], dry_run
        pdbs = self.handle.listers.list("poddisruptionbudgets")
        wanted = v.num_candidates(len(potential), self.min_percentage, self.min_absolute)
        offset = self.rng.randrange(len(potential))
        h = self.handle
        good: list[v.Candidate] = []
        violating: list[v.Candidate] = []
        for i in range(len(potential)):
            node = potential[(offset + i) % len(potential)].clone()
            pods, n_violating, status = v.select_victims(
                state.clone(), pod, node, pdbs, h.run_filter_with_nominated,
                h.run_pre_filter_extension_add_pod, h.run_pre_filter_extension_remove_pod)
            if status is None and pods:
                (good if n_violating == 0 else violating).append(v.Candidate(node.name, pods, n_violating))
                if good and len(good) + len(violating) >= wanted:
                    break
                continue
            if status is None:
                status = fw.error_status(f'expected at least one victim pod on node "{node.name}"')
            dry_run.set(node.name, status)
        return good + violating, dry_run

    async def prepare_candidate(self, c: v.Candidate, pod: PodInfo) -> None:
        api = self.handle.api
        for victim in c.victims:
            condition = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                         "message": f"{pod.scheduler_name}: preempting to accommodate a higher priority pod",
                         "lastProbeTime": None,
                         "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
            try:
                await api.patch_pod_status(victim.pod, {"status": {"conditions": [condition]}})
                await api.delete_pod(victim.pod)
            except Exception as e:  # upstream aborts this preemption; the pod retries later
                log.warning("preempting %s for %s failed: %s", victim.key, pod.key, e)
                raise
            api.event(victim.pod, "Normal", "Preempted", f"Preempted by pod {pod.uid} on node {c.node_name}")
        for other in self.handle.nominator.pods_for_node(c.node_name):
            if other.priority < pod.priority:
                self.handle.nominator.delete(other.uid)
                try:
                    await api.patch_pod_status(other.pod, {"status": {"nominatedNodeName": None}})
                except Exception as e:
                    log.warning("clearing the nomination of %s failed: %s", other.key, e)
