"""The scheduling framework: extension points, statuses, cycle state and cluster events.

Theory of operation (kube-scheduler v1.32's framework, reduced to Python): a
profile is an ordered list of plugins; each plugin implements some of the
extension points below, and the runtime (runtime.py) calls them in profile
order. One scheduling attempt is

    PreEnqueue (queue admission) -> QueueSort (activeQ order)
    PreFilter -> Filter (per node) -> PostFilter (only when no node fits)
    PreScore -> Score (per node) -> NormalizeScore -> weights
    Reserve -> Permit            (end of the serial scheduling cycle)
    PreBind -> Bind -> PostBind  (the concurrent binding cycle)

Statuses: a plugin returns `None` for success (the common case costs nothing),
or a `Status` whose code says what happened. `Unschedulable` means the node (or
pod) may fit after the cluster changes, including by preemption;
`UnschedulableAndUnresolvable` means preemption cannot help; `Error` is an
internal failure; `Skip` from PreFilter/PreScore means "this plugin has nothing
to do for this pod" and the runtime then skips its Filter/Score. Reasons are
the exact upstream strings; `FitError` composes them into the upstream
FailedScheduling message ("0/3 nodes are available: ...").

Queueing hints: a plugin that can reject pods lists the cluster events that can
make such pods schedulable again (`events_to_register`), each with an optional
hint function deciding, for one rejected pod and one event, whether to requeue
it. The queue (queue.py) calls them for pods the plugin rejected.

Everything here is pure data: no I/O, no asyncio.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from pocketkube.scheduler.nodeinfo import NodeInfo
    from pocketkube.scheduler.podinfo import PodInfo

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0
MAX_TOTAL_SCORE = 2**63 - 1
NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"


class Code(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5
    PENDING = 6


_REJECTED = frozenset({Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, Code.PENDING})


@dataclass(slots=True)
class Status:
    """A non-success outcome of a plugin (success is `None`)."""

    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""
    error: BaseException | None = None

    def message(self) -> str:
        if self.error is not None and not self.reasons:
            return str(self.error)
        return ", ".join(self.reasons)

    def is_rejected(self) -> bool:
        return self.code in _REJECTED

    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    def with_plugin(self, plugin: str) -> Status:
        self.plugin = plugin
        return self


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)


def error_status(err: BaseException | str) -> Status:
    exc = err if isinstance(err, BaseException) else RuntimeError(err)
    return Status(Code.ERROR, (str(exc),), error=exc)


SKIP = Status(Code.SKIP)
SUCCESS = Status(Code.SUCCESS)


def is_success(status: Status | None) -> bool:
    return status is None or status.code == Code.SUCCESS


class CycleState:
    """Per-attempt scratch space shared by the plugins of one scheduling cycle.

    Values that PreFilter extensions mutate (AddPod/RemovePod during preemption)
    must offer `clone()`; `CycleState.clone()` deep-copies exactly those.
    """

    __slots__ = ("_data", "skip_filter_plugins", "skip_score_plugins")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()

    def read(self, key: str) -> Any:
        return self._data.get(key)

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def clone(self) -> CycleState:
        c = CycleState()
        c._data = {k: (v.clone() if hasattr(v, "clone") else v) for k, v in self._data.items()}
        c.skip_filter_plugins = set(self.skip_filter_plugins)
        c.skip_score_plugins = set(self.skip_score_plugins)
        return c


@dataclass(slots=True)
class PreFilterResult:
    """Restricts the nodes to evaluate; `node_names=None` means all nodes."""

    node_names: frozenset[str] | None = None

    def all_nodes(self) -> bool:
        return self.node_names is None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return other
        return PreFilterResult(self.node_names & other.node_names)


@dataclass(slots=True)
class PostFilterResult:
    """What PostFilter (preemption) decided: `nominated_node_name` ("" clears it), or nothing."""

    nominated_node_name: str | None = None


class NodeToStatus:
    """Per-node filter statuses of one attempt; nodes not listed have `absent` status."""

    __slots__ = ("absent", "statuses")

    def __init__(self, absent: Status | None = None) -> None:
        self.statuses: dict[str, Status] = {}
        self.absent = absent or Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def set(self, node: str, status: Status) -> None:
        self.statuses[node] = status

    def get(self, node: str) -> Status:
        return self.statuses.get(node) or self.absent

    def __len__(self) -> int:
        return len(self.statuses)

    def nodes_for_code(self, nodes: Iterable[NodeInfo], code: Code) -> list[NodeInfo]:
        """The nodes whose status has `code` (absent nodes count when the absent status has it)."""
        absent_matches = self.absent.code == code
        out = []
        for ni in nodes:
            st = self.statuses.get(ni.name)
            if (st is not None and st.code == code) or (st is None and absent_matches):
                out.append(ni)
        return out


@dataclass
class Diagnosis:
    node_to_status: NodeToStatus = field(default_factory=NodeToStatus)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def add_plugin_status(self, status: Status) -> None:
        if not status.plugin:
            return
        if status.code == Code.PENDING:
            self.pending_plugins.add(status.plugin)
        elif status.is_rejected():
            self.unschedulable_plugins.add(status.plugin)


class FitError(Exception):
    """No node fits the pod; `str()` is upstream's FailedScheduling message."""

    def __init__(self, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        return fit_error_message(self.num_all_nodes, self.diagnosis)


def reasons_histogram(num_all_nodes: int, statuses: NodeToStatus) -> list[str]:
    """`["2 Insufficient cpu", "1 node(s) had untolerated taint {...}"]`, sorted as strings (upstream)."""
    counts: dict[str, int] = {}
    for st in statuses.statuses.values():
        for r in st.reasons:
            counts[r] = counts.get(r, 0) + 1
    missing = num_all_nodes - len(statuses)
    if missing > 0:
        for r in statuses.absent.reasons:
            counts[r] = counts.get(r, 0) + missing
    return sorted(f"{n} {r}" for r, n in counts.items())


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    msg = NO_NODE_AVAILABLE_MSG.format(num_all_nodes) + ":"
    if diagnosis.pre_filter_msg:
        msg += f" {diagnosis.pre_filter_msg}."
    else:
        reasons = reasons_histogram(num_all_nodes, diagnosis.node_to_status)
        if reasons:
            msg += f" {', '.join(reasons)}."
    if diagnosis.post_filter_msg:
        msg += f" {diagnosis.post_filter_msg}"
    return msg


# ---------------------------------------------------------------------------- cluster events


class ActionType(enum.IntFlag):
    ADD = 1
    DELETE = 2
    UPDATE_NODE_ALLOCATABLE = 4
    UPDATE_NODE_LABEL = 8
    UPDATE_NODE_TAINT = 16
    UPDATE_NODE_CONDITION = 32
    UPDATE_NODE_ANNOTATION = 64
    UPDATE_POD_LABEL = 128
    UPDATE_POD_SCALE_DOWN = 256
    UPDATE_POD_TOLERATIONS = 512
    UPDATE_POD_SCHEDULING_GATES_ELIMINATED = 1024
    UPDATE_POD_OTHER = 2048
    UPDATE = 4 | 8 | 16 | 32 | 64 | 128 | 256 | 512 | 1024 | 2048
    ALL = 1 | 2 | UPDATE


# Event resources: "Pod" is an assigned (bound) pod, "UnscheduledPod" the pending pod itself.
POD = "Pod"
UNSCHEDULED_POD = "UnscheduledPod"
NODE = "Node"
NAMESPACE = "Namespace"
WILDCARD = "*"


class ClusterEvent(NamedTuple):
    resource: str
    action: ActionType
    label: str = ""

    def matches(self, other: ClusterEvent) -> bool:
        """True if this registered event covers the incoming event `other`."""
        if self.resource == WILDCARD:
            return True
        return self.resource == other.resource and bool(self.action & other.action)

    def is_wildcard(self) -> bool:
        return self.resource == WILDCARD and self.action == ActionType.ALL


EVENT_UNSCHEDULABLE_TIMEOUT = ClusterEvent(WILDCARD, ActionType.ALL, "UnschedulableTimeout")
EVENT_FORCE_ACTIVATE = ClusterEvent(WILDCARD, ActionType.ALL, "ForceActivate")
EVENT_NODE_ADD = ClusterEvent(NODE, ActionType.ADD, "NodeAdd")
EVENT_NODE_DELETE = ClusterEvent(NODE, ActionType.DELETE, "NodeDelete")
EVENT_ASSIGNED_POD_ADD = ClusterEvent(POD, ActionType.ADD, "AssignedPodAdd")
EVENT_ASSIGNED_POD_DELETE = ClusterEvent(POD, ActionType.DELETE, "AssignedPodDelete")


class QueueingHint(enum.Enum):
    SKIP = 0
    QUEUE = 1


# (the rejected pod, the old object, the new object) -> hint; None objects for add/delete.
HintFn = Callable[[dict[str, Any], Any, Any], QueueingHint]


@dataclass(frozen=True)
class ClusterEventWithHint:
    event: ClusterEvent
    hint: HintFn | None = None


# ---------------------------------------------------------------------------- extension points


@dataclass(slots=True)
class NodeScore:
    name: str
    score: int


class Plugin(Protocol):
    name: str


class PreEnqueuePlugin(Plugin, Protocol):
    def pre_enqueue(self, pod: PodInfo) -> Status | None: ...


class QueueSortPlugin(Plugin, Protocol):
    def sort_key(self, pod: PodInfo, timestamp: float) -> tuple[Any, ...]: ...


class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]: ...


class PreFilterExtensions(Protocol):
    """Incremental updates of a plugin's PreFilter state when a pod is added/removed on a node."""

    def add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo, node: NodeInfo) -> Status | None: ...

    def remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo, node: NodeInfo) -> Status | None: ...


class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None: ...


class PostFilterPlugin(Plugin, Protocol):
    async def post_filter(self, state: CycleState, pod: PodInfo,
                          statuses: NodeToStatus) -> tuple[PostFilterResult | None, Status | None]: ...


class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None: ...


class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...


class NormalizeScorePlugin(Plugin, Protocol):
    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> Status | None: ...


class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None: ...

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None: ...


class PermitPlugin(Plugin, Protocol):
    def permit(self, state: CycleState, pod: PodInfo, node_name: str) -> tuple[Status | None, float]: ...


class PreBindPlugin(Plugin, Protocol):
    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None: ...


class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None: ...


class PostBindPlugin(Plugin, Protocol):
    def post_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> None: ...


class EnqueueExtensions(Plugin, Protocol):
    def events_to_register(self) -> list[ClusterEventWithHint]: ...


def default_normalize_score(max_priority: int, reverse: bool, scores: list[NodeScore]) -> None:
    """Upstream helper.DefaultNormalizeScore: scale to [0, max_priority], optionally reversed."""
    max_count = max((s.score for s in scores), default=0)
    if max_count == 0:
        if reverse:
            for s in scores:
                s.score = max_priority
        return
    for s in scores:
        v = max_priority * s.score // max_count
        s.score = max_priority - v if reverse else v
