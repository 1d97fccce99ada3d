"""The pod workers with a node prober: instances registered and reported stopped, readiness and startup
from its results, a failed liveness probe killing (only) the failed instance, which then restarts."""

from __future__ import annotations

from typing import Any

from kubelet_harness import Harness, make_pod

from pocketkube.kubelet.simulate import EXIT_AFTER, EXIT_CODE


class FakeProber:
    def __init__(self) -> None:
        self.added: list[tuple[str, str]] = []
        self.stopped: list[str] = []
        self.removed: list[str] = []
        self.is_ready: bool | None = None
        self.is_started = True

    def add(self, pod: dict[str, Any], container: str, container_id: str, started_at: float, *,
            pod_ip: str = "") -> None:
        self.added.append((container, container_id))

    def container_stopped(self, pod_uid: str, container: str) -> None:
        self.stopped.append(container)

    def update_pod(self, pod: dict[str, Any], pod_ip: str | None = None) -> None:
        pass

    def remove_pod(self, pod_uid: str) -> None:
        self.removed.append(pod_uid)

    def started(self, pod_uid: str, container: str) -> bool:
        return self.is_started

    def ready(self, pod_uid: str, container: str) -> bool | None:
        return self.is_ready


def with_prober(harness: Harness) -> FakeProber:
    prober = FakeProber()
    harness.workers.probes = lambda node: prober
    return prober


async def test_readiness_and_startup_come_from_the_prober(harness: Harness) -> None:
    prober = with_prober(harness)
    prober.is_ready = False
    harness.pods.put(make_pod())
    await harness.run(0.6)
    assert prober.added and prober.added[0][0] == "web"
    assert harness.row() == ("0/1", "Running", "0")
    cs = harness.pod()["status"]["containerStatuses"][0]
    assert cs["started"] is True and cs["ready"] is False
    prober.is_ready = True
    harness.workers.enqueue("default/web")
    await harness.run()
    assert harness.row() == ("1/1", "Running", "0")
    prober.is_started = False
    harness.workers.enqueue("default/web")
    await harness.run()
    assert harness.pod()["status"]["containerStatuses"][0]["started"] is False


async def test_a_failed_liveness_probe_kills_the_instance_and_it_restarts(harness: Harness) -> None:
    prober = with_prober(harness)
    harness.pods.put(make_pod())
    await harness.run(0.6)
    first = prober.added[-1][1]
    harness.workers.request_kill("uid-web", "not-a-probed-id", "ignored")
    harness.workers.request_kill("uid-web", first, "Container web failed liveness probe, will be restarted")
    await harness.run()
    assert ("Normal", "Killing", "Container web failed liveness probe, will be restarted",
            "spec.containers{web}") in harness.events.recorded
    assert harness.events.reasons().count("Killing") == 1
    await harness.run(1.0)  # stopped after 0.2 s, restarted at once (first restart), started after 0.5 s
    assert harness.row()[:2] == ("1/1", "Running") and harness.row()[2].startswith("1 (")
    assert prober.added[-1][1] != first and prober.stopped == []  # the worker moved on to the new instance
    await harness.run(5.0)
    assert harness.events.reasons().count("Killing") == 1


async def test_an_exited_instance_is_reported_stopped_and_a_gone_pod_removed(harness: Harness) -> None:
    prober = with_prober(harness)
    harness.pods.put(make_pod(restart="Never", annotations={EXIT_AFTER: "1s", EXIT_CODE: "0"}))
    await harness.run(2.0)
    assert harness.row()[1] == "Completed" and prober.stopped == ["web"]
    harness.delete(grace=0)
    await harness.run()
    harness.pods.remove("default/web")
    await harness.run()
    assert prober.removed == ["uid-web"]
