"""Event correlation (client-go's correlator semantics) and the recorder against the fake API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pocketkube.client import rest, virtualtime
from pocketkube.client.eventcorrelator import AGGREGATE_PREFIX, EventCorrelator
from pocketkube.client.events import EVENTS, NORMAL, WARNING, EventRecorder, object_reference
from pocketkube.client.fake import Action, FakeClient

POD: dict[str, Any] = {"kind": "Pod", "apiVersion": "v1",
       "metadata": {"name": "web-1", "namespace": "ns", "uid": "u-1", "resourceVersion": "7"}}


class Clocks:
    def __init__(self) -> None:
        self.mono = 0.0
        self.base = datetime(2025, 1, 1, tzinfo=UTC)

    def clock(self) -> float:
        return self.mono

    def now(self) -> datetime:
        return self.base + timedelta(seconds=self.mono)


def make(recorder: EventRecorder, reason: str = "BackOff", message: str = "Back-off restarting",
         obj: dict[str, Any] = POD) -> dict[str, Any]:
    return recorder.make_event(object_reference(obj), WARNING, reason, message)


def test_repeats_count_up_on_the_first_event() -> None:
    clocks = Clocks()
    corr = EventCorrelator(clock=clocks.clock, now=clocks.now)
    rec = EventRecorder(FakeClient(), "kubelet", "node-1", now=clocks.now, correlator=corr)
    first = corr.correlate(make(rec))
    assert first.patch is None and first.event is not None and first.event["count"] == 1
    clocks.mono = 30
    second = corr.correlate(make(rec))
    assert second.event is not None and second.patch is not None
    assert second.event["metadata"]["name"] == first.event["metadata"]["name"]
    assert second.event["count"] == 2
    assert second.event["firstTimestamp"] == "2025-01-01T00:00:00Z"
    assert second.patch == {"count": 2, "lastTimestamp": "2025-01-01T00:00:30Z", "message": "Back-off restarting"}
    other = corr.correlate(make(rec, reason="Pulled"))
    assert other.patch is None


def test_similar_events_are_aggregated_after_ten_messages() -> None:
    clocks = Clocks()
    corr = EventCorrelator(clock=clocks.clock, now=clocks.now)
    rec = EventRecorder(FakeClient(), "c", now=clocks.now, correlator=corr)
    results = [corr.correlate(make(rec, message=f"msg {i}")) for i in range(12)]
    assert all(r.event and not r.event["message"].startswith("(") for r in results[:9])
    tenth, eleventh = results[9].event, results[10].event
    assert tenth is not None and eleventh is not None
    assert tenth["message"] == AGGREGATE_PREFIX + "msg 9" and tenth["count"] == 1
    assert eleventh["message"] == AGGREGATE_PREFIX + "msg 10" and eleventh["count"] == 2
    assert eleventh["metadata"]["name"] == tenth["metadata"]["name"]
    assert results[10].patch == {"count": 2, "lastTimestamp": "2025-01-01T00:00:00Z",
                                 "message": AGGREGATE_PREFIX + "msg 10"}
    clocks.mono = 601  # ten quiet minutes start a new window
    fresh = corr.correlate(make(rec, message="msg 99"))
    assert fresh.event is not None and fresh.event["message"] == "msg 99"


def test_spam_filter_allows_burst_then_one_per_five_minutes() -> None:
    clocks = Clocks()
    corr = EventCorrelator(clock=clocks.clock, now=clocks.now)
    rec = EventRecorder(FakeClient(), "c", now=clocks.now, correlator=corr)
    allowed = [not corr.correlate(make(rec, reason=f"R{i}")).skip for i in range(30)]
    assert allowed == [True] * 25 + [False] * 5
    other_pod = {**POD, "metadata": {**POD["metadata"], "name": "web-2", "uid": "u-2"}}
    assert not corr.correlate(make(rec, obj=other_pod)).skip  # per object
    clocks.mono = 300
    assert not corr.correlate(make(rec, reason="Later")).skip
    assert corr.correlate(make(rec, reason="Later2")).skip


@contextlib.asynccontextmanager
async def recording(rec: EventRecorder) -> AsyncIterator[None]:
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(rec.run())
        try:
            yield
        finally:
            task.cancel()


def test_recorder_creates_then_patches_repeats() -> None:
    async def main() -> None:
        fake = FakeClient()
        rec = EventRecorder(fake, "deployment-controller")
        async with recording(rec):
            for _ in range(3):
                rec.event(POD, NORMAL, "ScalingReplicaSet", "Scaled up replica set web-abc to 3")
                await asyncio.sleep(5)
            await rec.flush()
        events = fake.objects(EVENTS, "ns")
        assert len(events) == 1
        ev = events[0]
        assert ev["count"] == 3 and ev["reason"] == "ScalingReplicaSet" and ev["type"] == "Normal"
        assert ev["involvedObject"] == {"kind": "Pod", "apiVersion": "v1", "namespace": "ns", "name": "web-1",
                                        "uid": "u-1", "resourceVersion": "7"}
        assert ev["source"] == {"component": "deployment-controller"}
        assert ev["reportingComponent"] == "deployment-controller"
        assert ev["metadata"]["name"].startswith("web-1.")
        assert ev["firstTimestamp"] < ev["lastTimestamp"]
        assert [(a.verb, a.patch_type) for a in fake.mutations()] == [
            ("create", ""), ("patch", rest.STRATEGIC_MERGE_PATCH), ("patch", rest.STRATEGIC_MERGE_PATCH)]
    virtualtime.run(main())


def test_recorder_recreates_an_expired_event_and_retries_transport_errors() -> None:
    async def main() -> None:
        fake = FakeClient()
        rec = EventRecorder(fake, "kubelet", "node-1")
        failures = [ConnectionResetError("down"), ConnectionResetError("down")]

        def flaky(action: Action) -> tuple[bool, Any]:
            if failures:
                raise failures.pop()
            return False, None
        async with recording(rec):
            rec.event(POD, WARNING, "Failed", "boom")
            await rec.flush()
            name = fake.objects(EVENTS, "ns")[0]["metadata"]["name"]
            await fake.delete(EVENTS, name, "ns")
            fake.prepend_reactor("create", "events", flaky)
            rec.event(POD, WARNING, "Failed", "boom")
            start = asyncio.get_running_loop().time()
            await rec.flush()
            waited = asyncio.get_running_loop().time() - start
        events = fake.objects(EVENTS, "ns")
        assert len(events) == 1 and events[0]["metadata"]["name"] == name and events[0]["count"] == 2
        assert events[0]["source"] == {"component": "kubelet", "host": "node-1"}
        assert 10 <= waited <= 20  # a random part of 10 s, then 10 s
    virtualtime.run(main())


def test_recorder_refuses_bad_types_and_drops_when_full() -> None:
    async def main() -> None:
        rec = EventRecorder(FakeClient(), "c", queue_limit=2)
        rec.event(POD, "Info", "X", "y")
        assert rec.queue.qsize() == 0
        for i in range(3):
            rec.event(POD, NORMAL, "X", str(i))
        assert rec.queue.qsize() == 2 and rec.dropped == 1
    virtualtime.run(main())


def test_event_names_are_unique_within_one_clock_tick() -> None:
    clocks = Clocks()
    corr = EventCorrelator(clock=clocks.clock, now=clocks.now)
    names = {corr.event_name("p") for _ in range(5)}
    assert len(names) == 5


@pytest.mark.parametrize("namespace,expected", [("", "default"), ("kube-system", "kube-system")])
def test_cluster_scoped_objects_get_events_in_default(namespace: str, expected: str) -> None:
    rec = EventRecorder(FakeClient(), "c")
    node = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n1", "namespace": namespace}}
    assert make(rec, obj=node)["metadata"]["namespace"] == expected
