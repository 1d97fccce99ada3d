"""The profile runtime: builds a profile's plugins and runs them at each extension point.

Theory of operation (upstream frameworkImpl): `Framework(profile, registry,
...)` instantiates the profile's plugins through the registry (name ->
factory(args, handle)) in multi-point order, then sorts them into per-point
lists by the methods each implements. The run_* methods below are the only
way the scheduler calls plugins; they apply upstream's rules:

- PreFilter: Skip removes the plugin's Filter for this cycle; Unresolvable
  stops at once; Unschedulable still runs the rest (so preemption sees their
  state); PreFilterResults are intersected, and an empty intersection is
  "node(s) didn't satisfy plugin(s) [...] simultaneously".
- Filter: plugins run in order and the first rejection wins; with nominated
  pods on the node, filters run twice (with and without those pods).
- Score: per plugin over all feasible nodes, then NormalizeScore, then the
  weight; Skip from PreScore removes the plugin's Score.
- Bind: the first bind plugin that does not Skip decides.

The Framework is also the plugins' Handle (handle.py): it carries the shared
snapshot, the nominator, listers and the API. Filtering is sequential: on one
asyncio loop, parallelism buys nothing, so the inner loops are kept tight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.config import ProfileConfig
from pocketkube.scheduler.handle import Listers, SchedulerAPI
from pocketkube.scheduler.nodeinfo import NodeInfo
from pocketkube.scheduler.nominator import Nominator
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.snapshot import Snapshot

log = logging.getLogger("pocketkube.scheduler.runtime")

Factory = Callable[[Mapping[str, Any], Any], Any]
Registry = Mapping[str, Factory]
_FILTERS_KEY = "__filters__"


class Framework:
    def __init__(self, profile: ProfileConfig, registry: Registry, *, snapshot: Snapshot, nominator: Nominator,
                 listers: Listers, api: SchedulerAPI) -> None:
        self.profile = profile
        self.profile_name = profile.scheduler_name
        self.percentage_of_nodes_to_score = profile.percentage_of_nodes_to_score
        self._snapshot, self._nominator, self._listers, self._api = snapshot, nominator, listers, api
        self.plugins: list[Any] = []
        self.weights: dict[str, int] = {}
        for spec in profile.plugins:
            factory = registry.get(spec.name)
            if factory is None:
                raise ValueError(f"plugin {spec.name!r} is not registered")
            plugin = factory(spec.args, self)
            self.plugins.append(plugin)
            self.weights[spec.name] = spec.weight or 1

        def having(method: str) -> list[Any]:
            return [p for p in self.plugins if callable(getattr(p, method, None))]

        self.pre_enqueue_plugins = having("pre_enqueue")
        sorts = having("sort_key")
        self.queue_sort = sorts[0] if sorts else None
        self.pre_filter_plugins = having("pre_filter")
        self.filter_plugins = having("filter")
        self.post_filter_plugins = having("post_filter")
        self.pre_score_plugins = having("pre_score")
        self.score_plugins = having("score")
        self.reserve_plugins = having("reserve")
        self.permit_plugins = having("permit")
        self.pre_bind_plugins = having("pre_bind")
        self.bind_plugins = having("bind")
        self.post_bind_plugins = having("post_bind")
        self._extensions = {p.name: p.pre_filter_extensions() for p in self.pre_filter_plugins
                            if callable(getattr(p, "pre_filter_extensions", None))}

    # ------------------------------------------------------------------ Handle
    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def nominator(self) -> Nominator:
        return self._nominator

    @property
    def listers(self) -> Listers:
        return self._listers

    @property
    def api(self) -> SchedulerAPI:
        return self._api

    def events_to_register(self) -> dict[str, list[fw.ClusterEventWithHint]]:
        out = {}
        for p in self.plugins:
            if callable(getattr(p, "events_to_register", None)):
                out[p.name] = p.events_to_register()
        return out

    # ------------------------------------------------------------------ queue side
    def run_pre_enqueue(self, pod: PodInfo) -> fw.Status | None:
        for p in self.pre_enqueue_plugins:
            s = p.pre_enqueue(pod)
            if s is not None and not s.is_success():
                return s.with_plugin(p.name)
        return None

    # ------------------------------------------------------------------ filtering
    def run_pre_filter(self, state: fw.CycleState,
                       pod: PodInfo) -> tuple[fw.PreFilterResult | None, fw.Status | None, set[str]]:
        nodes = self._snapshot.node_info_list
        result: fw.PreFilterResult | None = None
        with_nodes: list[str] = []
        returned: fw.Status | None = None
        for p in self.pre_filter_plugins:
            r, s = p.pre_filter(state, pod, nodes)
            if s is not None and s.code == fw.Code.SKIP:
                state.skip_filter_plugins.add(p.name)
                continue
            if s is not None and not s.is_success():
                s = fw.Status(s.code, s.reasons, p.name, s.error)
                if s.code == fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                    return None, s, set()
                if s.code == fw.Code.UNSCHEDULABLE:
                    returned = s
                    continue
                err = RuntimeError(f'running PreFilter plugin "{p.name}": {s.message()}')
                return None, fw.Status(fw.Code.ERROR, (str(err),), p.name, err), set()
            if r is not None and not r.all_nodes():
                with_nodes.append(p.name)
            result = r if result is None else result.merge(r)
            if result is not None and not result.all_nodes() and not result.node_names:
                msg = (f"node(s) didn't satisfy plugin {with_nodes[0]}" if len(with_nodes) == 1 else
                       f"node(s) didn't satisfy plugin(s) [{' '.join(with_nodes)}] simultaneously")
                return result, fw.unresolvable(msg), set(with_nodes)
        return result, returned, set(with_nodes)

    def active_filters(self, state: fw.CycleState) -> list[tuple[str, Any]]:
        """(name, bound filter method) of the filters not skipped in this cycle."""
        cached = state.read(_FILTERS_KEY)
        if cached is None:
            cached = [(p.name, p.filter) for p in self.filter_plugins if p.name not in state.skip_filter_plugins]
            state.write(_FILTERS_KEY, cached)
        return cached

    def run_filter(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> fw.Status | None:
        for name, run in self.active_filters(state):
            s = run(state, pod, node)
            if s is not None and s.code != fw.Code.SUCCESS:
                if not s.is_rejected():
                    err = RuntimeError(f'running "{name}" filter plugin: {s.message()}')
                    return fw.Status(fw.Code.ERROR, (str(err),), name, err)
                if s.plugin != name:
                    s = fw.Status(s.code, s.reasons, name, s.error)
                return s
        return None

    def run_filter_with_nominated(self, state: fw.CycleState, pod: PodInfo, node: NodeInfo) -> fw.Status | None:
        if not self._nominator:
            return self.run_filter(state, pod, node)
        nominated = [p for p in self._nominator.pods_for_node(node.name)
                     if p.uid != pod.uid and p.priority >= pod.priority]
        if not nominated:
            return self.run_filter(state, pod, node)
        state2, node2 = state.clone(), node.clone()
        for p in nominated:
            node2.add_pod(p)
            s = self.run_pre_filter_extension_add_pod(state2, pod, p, node2)
            if s is not None and not s.is_success():
                return s
        s = self.run_filter(state2, pod, node2)
        if s is not None and not s.is_success():
            return s
        return self.run_filter(state, pod, node)

    def run_pre_filter_extension_add_pod(self, state: fw.CycleState, pod: PodInfo, to_add: PodInfo,
                                         node: NodeInfo) -> fw.Status | None:
        return self._run_pre_filter_extensions("AddPod", state, pod, to_add, node)

    def run_pre_filter_extension_remove_pod(self, state: fw.CycleState, pod: PodInfo, to_remove: PodInfo,
                                            node: NodeInfo) -> fw.Status | None:
        return self._run_pre_filter_extensions("RemovePod", state, pod, to_remove, node)

    def _run_pre_filter_extensions(self, op: str, state: fw.CycleState, pod: PodInfo, other: PodInfo,
                                   node: NodeInfo) -> fw.Status | None:
        for name, ext in self._extensions.items():
            if ext is None or name in state.skip_filter_plugins:
                continue
            call = ext.add_pod if op == "AddPod" else ext.remove_pod
            s = call(state, pod, other, node)
            if s is not None and not s.is_success():
                return fw.error_status(f'running {op} on PreFilter plugin "{name}": {s.message()}')
        return None

    async def run_post_filter(self, state: fw.CycleState, pod: PodInfo,
                              statuses: fw.NodeToStatus) -> tuple[fw.PostFilterResult | None, fw.Status]:
        result: fw.PostFilterResult | None = None
        reasons: list[str] = []
        rejector = ""
        for p in self.post_filter_plugins:
            try:
                r, s = await p.post_filter(state, pod, statuses)
            except Exception as e:
                return None, fw.Status(fw.Code.ERROR, (f'running PostFilter plugin "{p.name}": {e}',), p.name, e)
            if s is None or s.is_success():
                return r, fw.SUCCESS
            if s.code == fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return r, fw.Status(s.code, s.reasons, p.name)
            if not s.is_rejected():
                return None, fw.Status(fw.Code.ERROR, s.reasons, p.name, s.error)
            if r is not None:
                result = r
            reasons.extend(s.reasons)
            rejector = rejector or p.name
        return result, fw.Status(fw.Code.UNSCHEDULABLE, tuple(reasons), rejector)

    # ------------------------------------------------------------------ scoring
    def run_pre_score(self, state: fw.CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> fw.Status | None:
        for p in self.pre_score_plugins:
            s = p.pre_score(state, pod, nodes)
            if s is None or s.code == fw.Code.SUCCESS:
                continue
            if s.code == fw.Code.SKIP:
                state.skip_score_plugins.add(p.name)
                continue
            return fw.error_status(f'running PreScore plugin "{p.name}": {s.message()}')
        return None

    def run_score(self, state: fw.CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        """Total weighted score per node (same order as `nodes`); raises on a plugin error."""
        totals = [0] * len(nodes)
        for p in self.score_plugins:
            if p.name in state.skip_score_plugins:
                continue
            batch = getattr(p, "score_nodes", None)
            raw = batch(state, pod, nodes) if batch is not None else [p.score(state, pod, n) for n in nodes]
            if callable(getattr(p, "normalize_score", None)):
                scores = [fw.NodeScore(n.name, v) for n, v in zip(nodes, raw, strict=True)]
                s = p.normalize_score(state, pod, scores)
                if s is not None and not s.is_success():
                    raise RuntimeError(f"running Normalize on Score plugins: {s.message()}")
                raw = [ns.score for ns in scores]
            weight = self.weights[p.name]
            for i, v in enumerate(raw):
                if v > fw.MAX_NODE_SCORE or v < fw.MIN_NODE_SCORE:
                    raise RuntimeError(f'plugin "{p.name}" returns an invalid score {v}, it should in the '
                                       f"range of [{fw.MIN_NODE_SCORE}, {fw.MAX_NODE_SCORE}] after normalizing")
                totals[i] += v * weight
        return totals

    # ------------------------------------------------------------------ reserve .. bind
    def run_reserve(self, state: fw.CycleState, pod: PodInfo, node_name: str) -> fw.Status | None:
        for p in self.reserve_plugins:
            s = p.reserve(state, pod, node_name)
            if s is not None and not s.is_success():
                if s.is_rejected():
                    return fw.Status(s.code, s.reasons, p.name)
                return fw.error_status(f'running Reserve plugin "{p.name}": {s.message()}')
        return None

    def run_unreserve(self, state: fw.CycleState, pod: PodInfo, node_name: str) -> None:
        for p in reversed(self.reserve_plugins):
            p.unreserve(state, pod, node_name)

    def run_permit(self, state: fw.CycleState, pod: PodInfo, node_name: str) -> fw.Status | None:
        for p in self.permit_plugins:
            s, _timeout = p.permit(state, pod, node_name)
            if s is None or s.is_success():
                continue
            if s.code == fw.Code.WAIT:
                log.warning("permit plugin %s asked to wait; waiting pods are not supported, admitting", p.name)
                continue
            if s.is_rejected():
                return fw.Status(s.code, s.reasons, p.name)
            return fw.error_status(f'running Permit plugin "{p.name}": {s.message()}')
        return None

    async def run_pre_bind(self, state: fw.CycleState, pod: PodInfo, node_name: str) -> fw.Status | None:
        for p in self.pre_bind_plugins:
            s = await p.pre_bind(state, pod, node_name)
            if s is not None and not s.is_success():
                if s.is_rejected():
                    return fw.Status(s.code, s.reasons, p.name, s.error)
                return fw.Status(fw.Code.ERROR, (f'running PreBind plugin "{p.name}": {s.message()}',), p.name, s.error)
        return None

    async def run_bind(self, state: fw.CycleState, pod: PodInfo, node_name: str) -> fw.Status | None:
        for p in self.bind_plugins:
            s = await p.bind(state, pod, node_name)
            if s is not None and s.code == fw.Code.SKIP:
                continue
            if s is not None and not s.is_success():
                if s.is_rejected():
                    return fw.Status(s.code, s.reasons, p.name, s.error)
                return fw.Status(fw.Code.ERROR, (f'running Bind plugin "{p.name}": {s.message()}',), p.name, s.error)
            return None
        return fw.error_status("no bind plugin bound the pod")

    def run_post_bind(self, state: fw.CycleState, pod: PodInfo, node_name: str) -> None:
        for p in self.post_bind_plugins:
            p.post_bind(state, pod, node_name)
