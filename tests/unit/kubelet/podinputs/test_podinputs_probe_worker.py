"""The probe worker state machine (upstream worker.go): guards, thresholds, hold, ticks."""

from __future__ import annotations

from pocketkube.kubelet.podinputs.probes.spec import ProbeKind, ProbeTiming, Result, kill_message
from pocketkube.kubelet.podinputs.probes.worker import Worker

S, F, U = Result.SUCCESS, Result.FAILURE, Result.UNKNOWN


def worker(kind: ProbeKind, **timing: int) -> Worker:
    w = Worker(kind, ProbeTiming(**timing), created_at=100.0)
    return w


def test_timing_defaults_as_the_api() -> None:
    assert ProbeTiming.of({}) == ProbeTiming(0, 10, 1, 1, 3)
    assert ProbeTiming.of({"initialDelaySeconds": 5, "periodSeconds": 0, "timeoutSeconds": 3,
                           "successThreshold": 2, "failureThreshold": 1}) == ProbeTiming(5, 10, 3, 2, 1)


def test_initial_values_per_kind() -> None:
    assert worker(ProbeKind.READINESS).new_container("c1", 100) is F
    assert worker(ProbeKind.LIVENESS).new_container("c1", 100) is S
    assert worker(ProbeKind.STARTUP).new_container("c1", 100) is U
    w = worker(ProbeKind.READINESS)
    w.new_container("c1", 100)
    assert w.new_container("c1", 100) is None  # same instance: nothing new


def test_failure_threshold_counts_consecutive_failures() -> None:
    w = worker(ProbeKind.READINESS, failure_threshold=3, success_threshold=2)
    w.new_container("c1", 100)
    assert w.record(S) is None  # 1 of 2 successes
    assert w.record(S) is S
    assert w.record(F) is None and w.record(F) is None
    assert w.record(S) is None  # the run of failures is broken
    assert w.record(F) is None and w.record(F) is None and w.record(F) is F
    assert w.record(F) is None  # already published: no change
    assert not w.on_hold  # readiness never holds


def test_liveness_failure_holds_until_a_new_container() -> None:
    w = worker(ProbeKind.LIVENESS, failure_threshold=1)
    w.new_container("c1", 100)
    assert w.should_probe(101, started=True)
    assert w.record(F) is F and w.on_hold and w.result_run == 0
    assert not w.should_probe(120, started=True)
    assert w.new_container("c2", 130) is S and not w.on_hold
    assert w.should_probe(131, started=True)


def test_guards_initial_delay_and_startup_gating() -> None:
    live, start = worker(ProbeKind.LIVENESS, initial_delay=5), worker(ProbeKind.STARTUP)
    assert not live.should_probe(100, started=True)  # no container yet
    live.new_container("c1", 100.0)
    start.new_container("c1", 100.0)
    assert not live.should_probe(104.9, started=True)  # int(4.9) < 5
    assert live.should_probe(105.0, started=True)
    assert not live.should_probe(105.0, started=False)  # waits for the startup probe
    assert start.should_probe(101, started=False) and not start.should_probe(101, started=True)


def test_stopped_container_and_pod_deletion() -> None:
    ready, live = worker(ProbeKind.READINESS), worker(ProbeKind.LIVENESS)
    for w in (ready, live):
        w.new_container("c1", 100)
    ready.record(S)
    assert ready.container_stopped() is F and not ready.should_probe(200, started=True)
    assert live.pod_deleting() is None and live.done  # already success: no change, but stops
    assert not live.should_probe(200, started=True)
    failing = worker(ProbeKind.STARTUP, failure_threshold=1)
    failing.new_container("c1", 100)
    assert failing.pod_deleting() is S
    assert ready.pod_deleting() is None and not ready.done


def test_tick_grid() -> None:
    w = worker(ProbeKind.READINESS, period=10)
    assert w.tick_after(100) == 110 and w.tick_after(109.9) == 110 and w.tick_after(110) == 120
    assert w.tick_after(95) == 110  # never before the first period


def test_kill_messages() -> None:
    assert kill_message(ProbeKind.LIVENESS, "web", True) == "Container web failed liveness probe, will be restarted"
    assert kill_message(ProbeKind.STARTUP, "web", False) == "Container web failed startup probe"
