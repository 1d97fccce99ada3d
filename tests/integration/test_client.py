"""pocketkube.client against a real cluster: informers, leader election and events, checked with kubectl."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from cluster import Cluster

from pocketkube.client.events import NORMAL, WARNING, EventRecorder
from pocketkube.client.informer import Handlers, Informer
from pocketkube.client.leaderelection import LeaderElectionConfig, LeaderElector
from pocketkube.client.rest import ClientConfig, ResourceRef, RESTClient

CM = ResourceRef("", "v1", "configmaps")


@contextlib.asynccontextmanager
async def client_for(cluster: Cluster) -> AsyncIterator[RESTClient]:
    client = RESTClient(ClientConfig.from_kubeconfig(cluster.kubeconfig, user_agent="pocketkube-itest"))
    try:
        yield client
    finally:
        await client.close()


async def kubectl(cluster: Cluster, *args: str) -> str:
    return (await asyncio.to_thread(cluster.kubectl, *args)).out


async def until(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.05)


async def test_informer_follows_kubectl_and_resumes_a_broken_watch(cluster: Cluster, ns: str) -> None:
    seen: list[tuple[str, str]] = []
    async with client_for(cluster) as client, asyncio.TaskGroup() as tg:
        inf = Informer(client, CM, namespace=ns)
        inf.add_handlers(Handlers(on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
                                  on_update=lambda old, new: seen.append(("update", new["metadata"]["name"])),
                                  on_delete=lambda o: seen.append(("delete", o["metadata"]["name"]))))
        task = tg.create_task(inf.run())
        assert await inf.wait_synced(timeout=20)
        await kubectl(cluster, "create", "configmap", "a", "-n", ns, "--from-literal=k=v")
        await kubectl(cluster, "label", "configmap", "a", "-n", ns, "tier=web")
        await until(lambda: ("update", "a") in seen)
        assert inf.get(f"{ns}/a")["metadata"]["labels"] == {"tier": "web"}  # type: ignore[index]

        assert client.abort_watches() == 1  # cut the watch's connection
        await kubectl(cluster, "create", "configmap", "b", "-n", ns)
        await kubectl(cluster, "delete", "configmap", "a", "-n", ns)
        await until(lambda: ("delete", "a") in seen and f"{ns}/b" in inf.cache)
        task.cancel()
    named = [e for e in seen if e[1] in ("a", "b")]
    assert named == [("add", "a"), ("update", "a"), ("add", "b"), ("delete", "a")]
    assert inf.stats.lists == 1 and inf.stats.watches >= 2  # resumed from its resourceVersion
    assert sorted(inf.cache) == [f"{ns}/b", f"{ns}/kube-root-ca.crt"]


async def test_metadata_only_informer(cluster: Cluster, ns: str) -> None:
    await kubectl(cluster, "create", "configmap", "m", "-n", ns, "--from-literal=secret=value")
    async with client_for(cluster) as client, asyncio.TaskGroup() as tg:
        inf = Informer(client, CM, namespace=ns, metadata_only=True)
        task = tg.create_task(inf.run())
        assert await inf.wait_synced(timeout=20)
        await kubectl(cluster, "annotate", "configmap", "m", "-n", ns, "note=x")
        await until(lambda: ((inf.get(f"{ns}/m") or {}).get("metadata", {}).get("annotations") or {}).get(
            "note") == "x")
        task.cancel()
    obj = inf.get(f"{ns}/m")
    assert obj is not None and obj["kind"] == "PartialObjectMetadata" and "data" not in obj


def _elector(client: RESTClient, ns: str, identity: str, leading: asyncio.Event, release: bool = True,
             ) -> LeaderElector:
    async def lead() -> None:
        leading.set()
        await asyncio.Event().wait()

    config = LeaderElectionConfig("itest-lock", ns, identity, lease_duration=4.0, renew_deadline=3.0,
                                  retry_period=0.5, release_on_cancel=release)
    return LeaderElector(client, config, on_started_leading=lead, on_stopped_leading=leading.clear)


async def _lease(cluster: Cluster, ns: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(await kubectl(cluster, "get", "lease", "itest-lock", "-n", ns,
                                                    "-o", "json"))["spec"]
    return spec


async def test_leader_election_hands_over(cluster: Cluster, ns: str) -> None:
    a_leads, b_leads, c_leads = asyncio.Event(), asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    async with client_for(cluster) as client, asyncio.TaskGroup() as tg:
        a = tg.create_task(_elector(client, ns, "host_a", a_leads).run())
        await asyncio.wait_for(a_leads.wait(), 20)
        b = tg.create_task(_elector(client, ns, "host_b", b_leads, release=False).run())
        await asyncio.sleep(2.0)  # b keeps observing a's renewals
        assert not b_leads.is_set()
        assert (await _lease(cluster, ns))["holderIdentity"] == "host_a"

        a.cancel()  # clean shutdown: a releases the lease
        stopped = loop.time()
        await asyncio.wait_for(b_leads.wait(), 10)
        assert loop.time() - stopped < 2.5  # the next retry, not a whole lease duration
        spec = await _lease(cluster, ns)
        assert spec["holderIdentity"] == "host_b" and spec["leaseTransitions"] == 1

        c = tg.create_task(_elector(client, ns, "host_c", c_leads).run())
        await asyncio.sleep(1.0)
        b.cancel()  # b "crashes": no release, c waits for the lease to expire
        crashed = loop.time()
        await asyncio.wait_for(c_leads.wait(), 15)
        assert loop.time() - crashed >= 2.5
        assert (await _lease(cluster, ns))["holderIdentity"] == "host_c"
        c.cancel()
    out = await kubectl(cluster, "get", "lease", "itest-lock", "-n", ns)
    assert "itest-lock" in out


async def test_recorded_events_aggregate_in_describe(cluster: Cluster, ns: str) -> None:
    await kubectl(cluster, "create", "configmap", "ev", "-n", ns)
    async with client_for(cluster) as client, asyncio.TaskGroup() as tg:
        obj = await client.get(CM, "ev", ns)
        recorder = EventRecorder(client, "itest-controller")
        task = tg.create_task(recorder.run())
        for _ in range(3):
            recorder.event(obj, WARNING, "ItestBackOff", "Back-off doing the thing")
            await recorder.flush()
            await asyncio.sleep(1.1)
        recorder.event(obj, NORMAL, "ItestDone", "Finished the thing")
        await recorder.flush()
        task.cancel()
    events = json.loads(await kubectl(cluster, "get", "events", "-n", ns, "-o", "json"))["items"]
    backoff = [e for e in events if e["reason"] == "ItestBackOff"]
    assert len(backoff) == 1 and backoff[0]["count"] == 3
    assert backoff[0]["firstTimestamp"] < backoff[0]["lastTimestamp"]
    described = await kubectl(cluster, "describe", "configmap", "ev", "-n", ns)
    line = next(li for li in described.splitlines() if "ItestBackOff" in li)
    assert line.split()[0] == "Warning" and "(x3 over" in line and "itest-controller" in line
    assert "Back-off doing the thing" in line
    assert any("ItestDone" in li and "Normal" in li for li in described.splitlines())
