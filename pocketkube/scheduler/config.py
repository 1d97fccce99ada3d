"""Scheduler configuration as data: profiles, their plugins, weights and arguments.

Theory of operation: a profile (upstream KubeSchedulerProfile) names a
scheduler (`schedulerName` that pods select) and lists its plugins in
"multi-point" order -- the order in which every extension point runs them --
with a score weight and plugin arguments each. `default_profile()` is
kube-scheduler v1.32's default plugin set and weights (the volume plugins are
left out: pocketkube has no volume binding). `load_config(doc)` reads the
subset of a `KubeSchedulerConfiguration` (kubescheduler.config.k8s.io/v1) that
matters here: profiles[].schedulerName, plugins.multiPoint.enabled/disabled
(with weights), pluginConfig[].args, percentageOfNodesToScore and the pod
backoff durations. Pure code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_SCHEDULER_NAME = "default-scheduler"


@dataclass(frozen=True)
class PluginSpec:
    name: str
    weight: int = 0
    args: Mapping[str, Any] = field(default_factory=dict)


# kube-scheduler v1.32 default multi-point plugins, in order, with score weights.
DEFAULT_PLUGINS: tuple[PluginSpec, ...] = (
    PluginSpec("SchedulingGates"),
    PluginSpec("PrioritySort"),
    PluginSpec("NodeUnschedulable"),
    PluginSpec("NodeName"),
    PluginSpec("TaintToleration", 3),
    PluginSpec("NodeAffinity", 2),
    PluginSpec("NodePorts"),
    PluginSpec("NodeResourcesFit", 1),
    PluginSpec("PodTopologySpread", 2),
    PluginSpec("InterPodAffinity", 2),
    PluginSpec("DefaultPreemption"),
    PluginSpec("NodeResourcesBalancedAllocation", 1),
    PluginSpec("ImageLocality", 1),
    PluginSpec("DefaultBinder"),
)


@dataclass(frozen=True)
class ProfileConfig:
    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    plugins: tuple[PluginSpec, ...] = DEFAULT_PLUGINS
    percentage_of_nodes_to_score: int | None = None


@dataclass(frozen=True)
class SchedulerConfig:
    profiles: tuple[ProfileConfig, ...] = (ProfileConfig(),)
    percentage_of_nodes_to_score: int = 0
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0


def default_profile(scheduler_name: str = DEFAULT_SCHEDULER_NAME) -> ProfileConfig:
    return ProfileConfig(scheduler_name=scheduler_name)


def _apply_plugins(base: tuple[PluginSpec, ...], multi_point: Mapping[str, Any]) -> tuple[PluginSpec, ...]:
    disabled = {p.get("name", "") for p in multi_point.get("disabled") or []}
    out = [] if "*" in disabled else [p for p in base if p.name not in disabled]
    for p in multi_point.get("enabled") or []:
        name = p.get("name", "")
        weight = int(p.get("weight") or 0)
        existing = next((i for i, q in enumerate(out) if q.name == name), None)
        if existing is not None:
            out[existing] = replace(out[existing], weight=weight or out[existing].weight)
        else:
            out.append(PluginSpec(name, weight))
    return tuple(out)


def _profile(doc: Mapping[str, Any]) -> ProfileConfig:
    plugins = _apply_plugins(DEFAULT_PLUGINS, (doc.get("plugins") or {}).get("multiPoint") or {})
    args = {pc.get("name", ""): pc.get("args") or {} for pc in doc.get("pluginConfig") or []}
    plugins = tuple(replace(p, args=args.get(p.name, p.args)) for p in plugins)
    pct = doc.get("percentageOfNodesToScore")
    return ProfileConfig(doc.get("schedulerName") or DEFAULT_SCHEDULER_NAME, plugins,
                         int(pct) if pct is not None else None)


def load_config(doc: Mapping[str, Any] | None) -> SchedulerConfig:
    """A SchedulerConfig from a KubeSchedulerConfiguration document (None -> defaults)."""
    if not doc:
        return SchedulerConfig()
    profiles = tuple(_profile(p) for p in doc.get("profiles") or []) or (ProfileConfig(),)
    return SchedulerConfig(profiles=profiles,
                           percentage_of_nodes_to_score=int(doc.get("percentageOfNodesToScore") or 0),
                           pod_initial_backoff_seconds=float(doc.get("podInitialBackoffSeconds") or 1),
                           pod_max_backoff_seconds=float(doc.get("podMaxBackoffSeconds") or 10))
