"""The in-tree plugin registry: plugin name -> factory(args, handle).

Each plugin is one module (or package) with a pure core the unit tests call
directly; see the module docstrings. `in_tree_registry()` is what profiles
resolve their plugin names against; out-of-tree plugins can be added to a
copy of it.
"""

from __future__ import annotations

from pocketkube.scheduler.plugins.defaultbinder import DefaultBinder
from pocketkube.scheduler.plugins.defaultpreemption import DefaultPreemption
from pocketkube.scheduler.plugins.imagelocality import ImageLocality
from pocketkube.scheduler.plugins.interpodaffinity import InterPodAffinity
from pocketkube.scheduler.plugins.nodeaffinity import NodeAffinity
from pocketkube.scheduler.plugins.nodename import NodeName
from pocketkube.scheduler.plugins.nodeports import NodePorts
from pocketkube.scheduler.plugins.noderesources import NodeResourcesBalancedAllocation, NodeResourcesFit
from pocketkube.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from pocketkube.scheduler.plugins.podtopologyspread import PodTopologySpread
from pocketkube.scheduler.plugins.queuesort import PrioritySort
from pocketkube.scheduler.plugins.schedulinggates import SchedulingGates
from pocketkube.scheduler.plugins.tainttoleration import TaintToleration
from pocketkube.scheduler.runtime import Factory

_PLUGINS: tuple[type, ...] = (
    SchedulingGates, PrioritySort, NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts,
    NodeResourcesFit, PodTopologySpread, InterPodAffinity, DefaultPreemption, NodeResourcesBalancedAllocation,
    ImageLocality, DefaultBinder,
)


def in_tree_registry() -> dict[str, Factory]:
    return {cls.name: cls for cls in _PLUGINS}  # type: ignore[attr-defined]
