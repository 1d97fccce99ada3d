"""Lease-based leader election against the fake API, in virtual time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pocketkube.client import virtualtime
from pocketkube.client.events import EVENTS, EventRecorder
from pocketkube.client.fake import Action, FakeClient
from pocketkube.client.leaderelection import LEASES, LeaderElectionConfig, LeaderElector
from pocketkube.client.rest import ApiError


class Candidate:
    def __init__(self, fake: FakeClient, identity: str, *, release: bool = True,
                 recorder: EventRecorder | None = None) -> None:
        self.log: list[str] = []
        self.leading = asyncio.Event()
        self.elector = LeaderElector(fake, LeaderElectionConfig("demo", "kube-system", identity,
                                                                release_on_cancel=release),
                                     on_started_leading=self._lead, on_stopped_leading=self._stopped,
                                     on_new_leader=lambda who: self.log.append(f"leader {who}"),
                                     recorder=recorder)

    async def _lead(self) -> None:
        self.log.append("started")
        self.leading.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.log.append("leading cancelled")

    def _stopped(self) -> None:
        self.log.append("stopped")
        self.leading.clear()


def lease(fake: FakeClient) -> dict[str, Any]:
    obj = fake.object(LEASES, "demo", "kube-system")
    assert obj is not None
    return dict(obj["spec"])


def test_acquires_renews_and_releases() -> None:
    async def main() -> None:
        fake = FakeClient()
        a = Candidate(fake, "host_a")
        task = asyncio.create_task(a.elector.run())
        await a.leading.wait()
        spec = lease(fake)
        assert spec["holderIdentity"] == "host_a" and spec["leaseDurationSeconds"] == 15
        assert spec["leaseTransitions"] == 0 and spec["acquireTime"] == spec["renewTime"]
        assert spec["renewTime"].endswith("Z") and len(spec["renewTime"]) == len("2025-01-01T00:00:00.000000Z")
        first = spec["renewTime"]
        await asyncio.sleep(4.5)
        renewed = lease(fake)
        assert renewed["renewTime"] > first and renewed["acquireTime"] == spec["acquireTime"]
        assert a.elector.is_leader()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        released = lease(fake)
        assert released["holderIdentity"] == "" and released["leaseDurationSeconds"] == 1
        assert a.log == ["leader host_a", "started", "leading cancelled", "stopped"]
    virtualtime.run(main())


def test_standby_takes_over_quickly_after_release() -> None:
    async def main() -> None:
        fake = FakeClient()
        a, b = Candidate(fake, "host_a"), Candidate(fake, "host_b")
        ta = asyncio.create_task(a.elector.run())
        await a.leading.wait()
        tb = asyncio.create_task(b.elector.run())
        await asyncio.sleep(30)
        assert not b.leading.is_set() and b.elector.leader() == "host_a"
        loop = asyncio.get_running_loop()
        ta.cancel()
        with pytest.raises(asyncio.CancelledError):
            await ta
        stopped = loop.time()
        await b.leading.wait()
        assert loop.time() - stopped <= 2.0 * 2.2  # its next retry, not a whole lease duration
        assert lease(fake)["holderIdentity"] == "host_b" and lease(fake)["leaseTransitions"] == 1
        assert b.log[:3] == ["leader host_a", "leader host_b", "started"]
        tb.cancel()
        with pytest.raises(asyncio.CancelledError):
            await tb
    virtualtime.run(main())


def test_standby_waits_a_lease_duration_when_the_leader_vanishes() -> None:
    async def main() -> None:
        fake = FakeClient()
        a, b = Candidate(fake, "host_a", release=False), Candidate(fake, "host_b")
        ta = asyncio.create_task(a.elector.run())
        await a.leading.wait()
        tb = asyncio.create_task(b.elector.run())
        await asyncio.sleep(10)
        loop = asyncio.get_running_loop()
        ta.cancel()  # a crash: no release
        with pytest.raises(asyncio.CancelledError):
            await ta
        assert lease(fake)["holderIdentity"] == "host_a"
        gone = loop.time()
        await b.leading.wait()
        # b's clock starts at its first poll after a's last renewal (up to one jittered retry,
        # 2.0 s * 2.2, after `gone`) and it acquires at its first poll a lease duration later.
        max_retry = 2.0 * 2.2
        assert 15 - 2.0 <= loop.time() - gone <= 15 + 2 * max_retry
        tb.cancel()
        with pytest.raises(asyncio.CancelledError):
            await tb
    virtualtime.run(main())


def test_leadership_is_lost_when_renewals_fail_past_the_deadline() -> None:
    async def main() -> None:
        fake = FakeClient()
        a = Candidate(fake, "host_a")
        task = asyncio.create_task(a.elector.run())
        await a.leading.wait()
        loop = asyncio.get_running_loop()
        broken = loop.time()

        def apiserver_down(action: Action) -> tuple[bool, Any]:
            raise ApiError(503, {"reason": "ServiceUnavailable", "message": "down"})
        fake.prepend_reactor("*", "leases", apiserver_down)
        await task  # returns (not raises) once leadership is lost
        assert 10.0 <= loop.time() - broken <= 10.0 + 2.0 + 0.1
        assert a.log[-2:] == ["leading cancelled", "stopped"]
    virtualtime.run(main())


def test_leading_coroutine_ending_ends_leadership() -> None:
    async def main() -> None:
        fake = FakeClient()
        done: list[str] = []

        async def short_job() -> None:
            await asyncio.sleep(3)
        elector = LeaderElector(fake, LeaderElectionConfig("demo", identity="solo"),
                                on_started_leading=short_job, on_stopped_leading=lambda: done.append("stopped"))
        await elector.run()
        assert done == ["stopped"] and lease(fake)["holderIdentity"] == ""
    virtualtime.run(main())


def test_leader_events_and_default_identity() -> None:
    async def main() -> None:
        fake = FakeClient()
        recorder = EventRecorder(fake, "kube-controller-manager")
        a = Candidate(fake, "host_a", recorder=recorder)
        async with asyncio.TaskGroup() as tg:
            rec = tg.create_task(recorder.run())
            task = tg.create_task(a.elector.run())
            await a.leading.wait()
            task.cancel()
            await asyncio.sleep(0.1)
            await recorder.flush()
            rec.cancel()
        messages = sorted(e["message"] for e in fake.objects(EVENTS, "kube-system"))
        assert messages == ["host_a became leader", "host_a stopped leading"]
        ev = fake.objects(EVENTS, "kube-system")[0]
        assert ev["reason"] == "LeaderElection" and ev["involvedObject"]["kind"] == "Lease"
        identity = LeaderElectionConfig("x").identity
        host, _, uid = identity.partition("_")
        assert host and len(uid) == 36
    virtualtime.run(main())


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        LeaderElectionConfig("x", lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError):
        LeaderElectionConfig("x", renew_deadline=2, retry_period=2)


def test_healthz_check_fails_only_for_a_stuck_leader() -> None:
    async def main() -> None:
        elector = LeaderElector(FakeClient(), LeaderElectionConfig("demo", identity="me"))
        assert elector.healthy()  # not leading
        elector.observed = {"holderIdentity": "me", "leaseDurationSeconds": 15}
        elector.observed_time = asyncio.get_running_loop().time()
        await asyncio.sleep(30)
        assert elector.healthy()
        await asyncio.sleep(6)
        assert not elector.healthy()
    virtualtime.run(main())
