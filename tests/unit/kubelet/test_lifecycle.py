"""The stage table: which stage a pod is in for each combination of facts, and the back-off rule."""

from __future__ import annotations

from typing import Any

import pytest

from pocketkube.kubelet import lifecycle
from pocketkube.kubelet.lifecycle import STAGES, Action, Facts, InitPhase, Select, Wait
from pocketkube.kubelet.runtime.interface import (
    ContainerState,
    ContainerStatus,
    PodRuntimeStatus,
    SandboxStatus,
)

SANDBOX = SandboxStatus("sb", True, "10.244.0.2", 0.0)


def c(name: str, state: ContainerState, *, attempt: int = 0, code: int = 0, started: float = 10.0,
      finished: float | None = None, cid: str = "", init: bool = False) -> ContainerStatus:
    return ContainerStatus(id=cid or f"{name}-{attempt}", name=name, attempt=attempt, image="img", image_ref="ref",
                           state=state, created_at=started, started_at=started,
                           finished_at=finished if state is ContainerState.EXITED else None, exit_code=code,
                           init=init)


def pod(restart: str = "Always", init: list[str] | None = None, deleting: bool = False,
        containers: tuple[str, ...] = ("app",)) -> dict[str, Any]:
    spec: dict[str, Any] = {"restartPolicy": restart, "containers": [{"name": n} for n in containers]}
    if init:
        spec["initContainers"] = [{"name": n} for n in init]
    meta: dict[str, Any] = {"name": "p", "uid": "u"}
    if deleting:
        meta["deletionTimestamp"] = "2023-01-01T00:00:00Z"
    return {"metadata": meta, "spec": spec}


def stage_of(p: dict[str, Any] | None, *containers: ContainerStatus, sandbox: bool = True, terminal: bool = False,
             stopping: frozenset[str] = frozenset(), confirmed: bool = False) -> str:
    rt = PodRuntimeStatus(SANDBOX if sandbox else None, tuple(containers))
    facts = lifecycle.observe(p, rt, terminal=terminal, stopping=stopping, confirmed=confirmed)
    return lifecycle.select(facts).name


RUN, EXIT = ContainerState.RUNNING, ContainerState.EXITED


def test_the_life_of_a_plain_pod() -> None:
    assert stage_of(pod(), sandbox=False) == "create-sandbox"
    assert stage_of(pod()) == "start"
    assert stage_of(pod(), c("app", RUN)) == "steady"
    assert stage_of(pod(deleting=True), c("app", RUN)) == "kill"
    assert stage_of(pod(deleting=True), c("app", RUN), stopping=frozenset({"app-0"})) == "deleting"
    assert stage_of(pod(deleting=True), c("app", EXIT, finished=20)) == "confirm-deletion"
    assert stage_of(pod(deleting=True), c("app", EXIT, finished=20), confirmed=True) == "deleting"
    assert stage_of(None, c("app", EXIT, finished=20)) == "forget"


def test_init_containers_then_regular_ones() -> None:
    p = pod(init=["a", "b"])
    assert stage_of(p) == "start-init"
    assert stage_of(p, c("a", RUN, init=True)) == "initializing"
    assert stage_of(p, c("a", EXIT, finished=11, init=True)) == "start-init"
    assert stage_of(p, c("a", EXIT, finished=11, init=True), c("b", EXIT, finished=12, init=True)) == "start"
    failed = c("a", EXIT, code=1, finished=11, init=True)
    assert stage_of(p, failed) == "retry-init"
    assert stage_of(pod(restart="Never", init=["a"]), failed) == "finish"


@pytest.mark.parametrize(("restart", "code", "stage"), [
    ("Always", 0, "restart"), ("Always", 1, "restart"),
    ("OnFailure", 0, "finish"), ("OnFailure", 2, "restart"),
    ("Never", 0, "finish"), ("Never", 2, "finish"),
])
def test_exits_follow_the_restart_policy(restart: str, code: int, stage: str) -> None:
    assert stage_of(pod(restart=restart), c("app", EXIT, code=code, finished=20)) == stage


def test_terminal_pods_rest_and_all_containers_must_exit_first() -> None:
    p = pod(restart="Never", containers=("a", "b"))
    assert stage_of(p, c("a", EXIT, finished=20), c("b", RUN)) == "steady"
    assert stage_of(p, c("a", EXIT, finished=20), c("b", EXIT, finished=21)) == "finish"
    assert stage_of(p, c("a", EXIT, finished=20), c("b", EXIT, finished=21), sandbox=False, terminal=True) == \
        "terminal"


def test_crash_backoff_doubles_to_five_minutes() -> None:
    def exited(attempt: int, ran: float = 1.0) -> ContainerStatus:
        return c("app", EXIT, attempt=attempt, started=100.0, finished=100.0 + ran)
    assert [lifecycle.crash_backoff(exited(a)) for a in range(8)] == [0, 10, 20, 40, 80, 160, 300, 300]
    assert lifecycle.crash_backoff(exited(5, ran=700.0)) == 0.0  # ran long enough: back-off reset
    assert lifecycle.restart_at(exited(2)) == 121.0


def test_due_times() -> None:
    stage = lifecycle.select(Facts(sandbox=True, unstarted=True))
    assert (stage.action, stage.wait) == (Action.START_CONTAINERS, Wait.START)
    assert lifecycle.due(stage, Facts(), armed_at=5.0, delays={Wait.START: 0.5}) == 5.5
    restart = lifecycle.select(Facts(sandbox=True, restart_due=True, backoff_due=42.0))
    assert lifecycle.due(restart, Facts(backoff_due=42.0), armed_at=0.0, delays={}) == 42.0


def test_table_shape() -> None:
    assert STAGES[-1].select == Select()  # a catch-all ends the table
    names = [s.name for s in STAGES]
    assert len(names) == len(set(names))
    assert all(s.wait is Wait.NOW for s in STAGES if s.action in (Action.NONE, Action.KILL, Action.FORGET))
    assert Select(init=InitPhase.NEXT).matches(Facts(init=InitPhase.NEXT))
    assert not Select(init=InitPhase.NEXT, sandbox=False).matches(Facts(init=InitPhase.NEXT, sandbox=True))
