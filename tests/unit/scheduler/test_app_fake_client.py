"""The wired scheduler (informers, event handlers, REST API, events) against the client's FakeClient."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pocketkube.client import virtualtime
from pocketkube.client.fake import FakeClient
from pocketkube.client.rest import ResourceRef
from pocketkube.scheduler.app import SchedulerApp
from pocketkube.scheduler.testing import make_node, make_pod

NODES = ResourceRef("", "v1", "nodes", namespaced=False)
PODS = ResourceRef("", "v1", "pods")
EVENTS = ResourceRef("", "v1", "events")


async def until(predicate: Callable[[], bool], steps: int = 500) -> None:
    """Let the loop run (in virtual time) until `predicate` holds."""
    for _ in range(steps):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_schedules_binds_and_reports_over_the_api() -> None:
    virtualtime.run(scenario())


async def scenario() -> None:
    client = FakeClient()
    client.add(NODES, make_node("n1", cpu="2"))
    client.add(PODS, make_pod("small", cpu="1"))
    client.add(PODS, make_pod("big", cpu="8"))
    app = SchedulerApp(client)
    task = asyncio.create_task(app.run())
    try:
        def node_of(name: str) -> str:
            return str(((client.object(PODS, name, "default") or {}).get("spec") or {}).get("nodeName") or "")

        def condition(name: str) -> dict[str, str]:
            pod = client.object(PODS, name, "default") or {}
            return next((c for c in (pod.get("status") or {}).get("conditions") or ()
                         if c.get("type") == "PodScheduled"), {})

        await until(lambda: node_of("small") == "n1" and condition("big").get("status") == "False")
        assert condition("small")["status"] == "True"
        big = condition("big")
        assert big["reason"] == "Unschedulable"
        assert big["message"] == ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are "
                                  "available: 1 No preemption victims found for incoming pod.")
        await until(lambda: len(client.objects(EVENTS, "default")) >= 2)
        got = {(e["reason"], e["involvedObject"]["name"], e["message"]) for e in client.objects(EVENTS, "default")}
        assert ("Scheduled", "small", "Successfully assigned default/small to n1") in got
        assert ("FailedScheduling", "big", big["message"]) in got
        # a bigger node arrives: the pending pod is scheduled there
        client.add(NODES, make_node("n2", cpu="16"))
        await until(lambda: node_of("big") == "n2", steps=400)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
