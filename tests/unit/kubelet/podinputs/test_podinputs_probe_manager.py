"""The probe manager with a scripted runner and a manual clock: schedule, gating, results, triggers."""

from __future__ import annotations

from typing import Any

from pocketkube.kubelet.clock import ManualClock
from pocketkube.kubelet.podinputs.probes.manager import ProbeManager, ProbeUpdate
from pocketkube.kubelet.podinputs.probes.spec import ProbeKind, Result

Obj = dict[str, Any]
S, F = Result.SUCCESS, Result.FAILURE
T0 = 1_700_000_000.0


class Script:
    """Answers per kind from a list (last answer repeats); records (time, kind, container id)."""

    def __init__(self, clock: ManualClock, **answers: list[tuple[Result, bool]]) -> None:
        self.clock, self.answers = clock, answers
        self.calls: list[tuple[float, str, str, str]] = []

    async def probe(self, kind: ProbeKind, pod: Obj, container: Obj, container_id: str,
                    pod_ip: str) -> tuple[Result, bool]:
        self.calls.append((round(self.clock.now() - T0, 3), kind.value, container_id, pod_ip))
        queue = self.answers.get(kind.value, [(S, False)])
        return queue.pop(0) if len(queue) > 1 else queue[0]


def make_pod(**probes: Obj) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"containers": [{"name": "c", **probes}, {"name": "plain"}],
                     "initContainers": [{"name": "side", "restartPolicy": "Always", "readinessProbe": {}},
                                        {"name": "init", "readinessProbe": {}}]}}


async def settle(mgr: ProbeManager) -> None:
    """What run() does at one instant: start what is due, let it finish, repeat until quiet."""
    while True:
        mgr.tick()
        if not mgr._inflight:
            return
        await mgr.wait_idle()


async def run_until(mgr: ProbeManager, clock: ManualClock, until: float, step: float = 0.5) -> None:
    while clock.now() - T0 < until:
        await settle(mgr)
        clock.advance(step)
    await settle(mgr)


def setup(**answers: list[tuple[Result, bool]]) -> tuple[ProbeManager, ManualClock, Script, list[ProbeUpdate]]:
    clock = ManualClock(T0)
    script = Script(clock, **answers)
    updates: list[ProbeUpdate] = []
    return ProbeManager(script, clock, updates.append), clock, script, updates


async def test_readiness_is_triggered_then_periodic() -> None:
    mgr, clock, script, updates = setup()
    pod = make_pod(readinessProbe={"periodSeconds": 10})
    mgr.add(pod, "c", "cid-1", T0, pod_ip="10.244.0.5")
    assert updates == [ProbeUpdate("u1", "c", "cid-1", ProbeKind.READINESS, F)]
    assert mgr.ready("u1", "c") is False and mgr.ready("u1", "plain") is None
    await run_until(mgr, clock, 25)
    assert [c[0] for c in script.calls] == [1.0, 10.0, 20.0]
    assert script.calls[0][1:] == ("Readiness", "cid-1", "10.244.0.5")
    assert updates[-1].result is S and mgr.ready("u1", "c") is True
    await mgr.close()


async def test_liveness_failure_threshold_then_hold_until_restart() -> None:
    mgr, clock, script, updates = setup(Liveness=[(S, False), (F, False)])
    pod = make_pod(livenessProbe={"periodSeconds": 5, "failureThreshold": 3})
    mgr.add(pod, "c", "cid-1", T0, pod_ip="10.244.0.5")
    await run_until(mgr, clock, 30)
    assert [c[0] for c in script.calls] == [5.0, 10.0, 15.0, 20.0]  # success, then 3 failures, then held
    assert [u.result for u in updates] == [S, F] and updates[-1].container_id == "cid-1"
    mgr.container_stopped("u1", "c")
    clock.advance(2)
    mgr.add(pod, "c", "cid-2", clock.now())
    assert updates[-1] == ProbeUpdate("u1", "c", "cid-2", ProbeKind.LIVENESS, S)
    await run_until(mgr, clock, 40)
    assert [c[0] for c in script.calls if c[2] == "cid-2"] == [35.0, 40.0]  # the same period grid
    await mgr.close()


async def test_startup_gates_liveness_and_readiness() -> None:
    mgr, clock, script, _ = setup(Startup=[(F, False), (F, False), (S, False)])
    pod = make_pod(startupProbe={"periodSeconds": 2, "failureThreshold": 10}, livenessProbe={"periodSeconds": 3},
                   readinessProbe={"periodSeconds": 4, "initialDelaySeconds": 1})
    mgr.add(pod, "c", "cid-1", T0, pod_ip="ip")
    assert not mgr.started("u1", "c")
    await run_until(mgr, clock, 6.5)
    kinds = [(c[0], c[1]) for c in script.calls]
    assert kinds[:3] == [(2.0, "Startup"), (4.0, "Startup"), (6.0, "Startup")]
    assert mgr.started("u1", "c") and (6.0, "Readiness") in kinds  # triggered by the startup success
    assert not any(k == "Liveness" for _, k in kinds)
    await run_until(mgr, clock, 13)
    assert [c[0] for c in script.calls if c[1] == "Liveness"] == [9.0, 12.0]
    assert [c[0] for c in script.calls if c[1] == "Startup"] == [2.0, 4.0, 6.0]
    await mgr.close()


async def test_errored_runs_do_not_count_and_deletion_quiets_liveness() -> None:
    mgr, clock, script, updates = setup(Liveness=[(F, True)])
    pod = make_pod(livenessProbe={"periodSeconds": 1, "failureThreshold": 1})
    mgr.add(pod, "c", "cid-1", T0, pod_ip="ip")
    await run_until(mgr, clock, 4)
    assert len(script.calls) == 4 and [u.result for u in updates] == [S]
    mgr.update_pod({**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2024-01-01T00:00:00Z"}})
    calls = len(script.calls)
    await run_until(mgr, clock, 8)
    assert len(script.calls) == calls
    await mgr.close()


async def test_sidecars_probed_plain_init_containers_not_and_removal() -> None:
    mgr, clock, script, _ = setup()
    pod = make_pod()
    mgr.add(pod, "side", "s1", T0, pod_ip="ip")
    mgr.add(pod, "init", "i1", T0, pod_ip="ip")
    await run_until(mgr, clock, 2)
    assert [c[2] for c in script.calls] == ["s1"]
    mgr.remove_pod("u1")
    await run_until(mgr, clock, 30)
    assert len(script.calls) == 1 and mgr.workers == {}
    await mgr.close()
