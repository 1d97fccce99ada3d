"""Runtime conformance: the `Runtime` seam behaves the same on the simulated runtime and on CRI.

Each test runs against every implementation through a small harness that knows how to express
"a container that runs until stopped", "one that exits with code N", "one that ignores SIGTERM"
for that runtime, and how to wait for the runtime to settle:
- simulated: behaviour as pod annotations, time is a ManualClock advanced in small steps;
- cri: a real node stack (private containerd, runc, CNI on 10.244.0.0/24, local registry with
  busybox; tests/e2e/nodekit.py), behaviour as busybox shell commands, waiting polls real time.
  Marked e2e; needs root and containerd/runc/CNI (POCKETKUBE_SKIP_E2E=1 skips when missing).
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))

from nodekit import Node, e2e_mark, require_e2e

from pocketkube.kubelet import simulate
from pocketkube.kubelet.clock import ManualClock
from pocketkube.kubelet.hostcleanup import restore_host, snapshot_host
from pocketkube.kubelet.runtime.cri_types import ContainerSpec
from pocketkube.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    PodRuntimeStatus,
    PodSandboxConfig,
    Runtime,
    RuntimeFailure,
)
from pocketkube.kubelet.runtime.simulated import SimulatedRuntime

POD_CIDR = ipaddress.ip_network("10.244.0.0/24")
Check = Callable[[], Awaitable[bool]]


class Harness(Protocol):
    runtime: Runtime

    def running(self, name: str, attempt: int = 0) -> Any: ...
    def exits(self, name: str, code: int, attempt: int = 0) -> Any: ...
    def stubborn(self, name: str) -> Any: ...
    async def settle(self, check: Check, within: float = 20.0) -> None: ...


class SimulatedHarness:
    def __init__(self) -> None:
        self.clock = ManualClock(1_700_000_000.0)
        self.runtime: Runtime = SimulatedRuntime(str(POD_CIDR), self.clock.now)

    def running(self, name: str, attempt: int = 0) -> ContainerConfig:
        return ContainerConfig(name, "busybox", attempt)

    def exits(self, name: str, code: int, attempt: int = 0) -> ContainerConfig:
        return ContainerConfig(name, "busybox", attempt,
                               annotations={simulate.EXIT_AFTER: "100ms", simulate.EXIT_CODE: str(code)})

    def stubborn(self, name: str) -> ContainerConfig:
        return ContainerConfig(name, "busybox", 0, annotations={simulate.STOP_AFTER: "1h"})

    async def settle(self, check: Check, within: float = 20.0) -> None:
        end = self.clock.now() + within
        while not await check():
            assert self.clock.now() < end, "runtime did not settle"
            self.clock.advance(0.05)


class CRIHarness:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.runtime: Runtime = node.runtime

    @staticmethod
    def _spec(name: str, attempt: int, script: str) -> ContainerSpec:
        return ContainerSpec(name=name, image="docker.io/library/busybox:latest", attempt=attempt,
                             command=("sh", "-c", script), log_path=f"{name}/{attempt}.log",
                             labels={"io.kubernetes.container.name": name})

    def running(self, name: str, attempt: int = 0) -> ContainerSpec:
        return self._spec(name, attempt, "trap 'exit 0' TERM; sleep 3600 & wait")

    def exits(self, name: str, code: int, attempt: int = 0) -> ContainerSpec:
        return self._spec(name, attempt, f"exit {code}")

    def stubborn(self, name: str) -> ContainerSpec:
        return self._spec(name, 0, "trap '' TERM; sleep 3600 & wait")

    async def settle(self, check: Check, within: float = 20.0) -> None:
        end = time.monotonic() + within
        while not await check():
            assert time.monotonic() < end, "runtime did not settle"
            await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def cri_host() -> Any:
    require_e2e()
    before = snapshot_host()
    yield before
    restore_host(before)


@pytest.fixture(params=["simulated", pytest.param("cri", marks=e2e_mark())])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "simulated":
        yield SimulatedHarness()
        return
    request.getfixturevalue("cri_host")
    node = await Node.start()
    try:
        await node.cri.pull_image("busybox:latest")
        yield CRIHarness(node)
    finally:
        left = await node.teardown()
    assert left == []


def sandbox_config(name: str) -> PodSandboxConfig:
    return PodSandboxConfig(uid=str(uuid.uuid4()), name=name, namespace="conformance")


async def latest_state(h: Harness, uid: str, name: str) -> ContainerState | None:
    c = (await h.runtime.pod_status(uid)).latest(name)
    return None if c is None else c.state


async def test_sandbox_gets_a_pod_ip_and_is_reused(harness: Harness) -> None:
    cfg = sandbox_config("net")
    sb = await harness.runtime.run_pod_sandbox(cfg)
    assert sb.ready and ipaddress.ip_address(sb.ip) in POD_CIDR and sb.created_at > 1e9
    assert (await harness.runtime.run_pod_sandbox(cfg)).id == sb.id
    other = await harness.runtime.run_pod_sandbox(sandbox_config("net2"))
    assert other.ip != sb.ip and other.id != sb.id
    assert (await harness.runtime.pod_status(cfg.uid)).sandbox == sb


async def test_container_runs_and_stops_within_its_grace_period(harness: Harness) -> None:
    cfg = sandbox_config("run")
    await harness.runtime.run_pod_sandbox(cfg)
    cid = await harness.runtime.create_container(cfg.uid, harness.running("app"))
    created = (await harness.runtime.pod_status(cfg.uid)).latest("app")
    assert created is not None and created.id == cid and created.state is ContainerState.CREATED
    assert created.image == "docker.io/library/busybox:latest" and created.attempt == 0
    await harness.runtime.start_container(cid)
    running = (await harness.runtime.pod_status(cfg.uid)).latest("app")
    assert running is not None and running.state is ContainerState.RUNNING and running.started_at is not None
    await harness.runtime.stop_container(cid, 10)  # returns at once; the exit shows up later

    async def stopped() -> bool:
        return await latest_state(harness, cfg.uid, "app") is ContainerState.EXITED

    await harness.settle(stopped)
    done = (await harness.runtime.pod_status(cfg.uid)).latest("app")
    assert done is not None and (done.exit_code, done.reason) == (0, "Completed") and done.finished_at is not None


async def test_stop_beyond_the_grace_period_kills(harness: Harness) -> None:
    cfg = sandbox_config("kill")
    await harness.runtime.run_pod_sandbox(cfg)
    cid = await harness.runtime.create_container(cfg.uid, harness.stubborn("app"))
    await harness.runtime.start_container(cid)
    await harness.runtime.stop_container(cid, 1)

    async def killed() -> bool:
        return await latest_state(harness, cfg.uid, "app") is ContainerState.EXITED

    await harness.settle(killed)
    c = (await harness.runtime.pod_status(cfg.uid)).latest("app")
    assert c is not None and (c.exit_code, c.reason) == (137, "Error")


async def test_exit_codes_reasons_and_restarts(harness: Harness) -> None:
    cfg = sandbox_config("exits")
    await harness.runtime.run_pod_sandbox(cfg)
    first = await harness.runtime.create_container(cfg.uid, harness.exits("app", 3))
    await harness.runtime.start_container(first)

    async def first_exited() -> bool:
        return await latest_state(harness, cfg.uid, "app") is ContainerState.EXITED

    await harness.settle(first_exited)
    second = await harness.runtime.create_container(cfg.uid, harness.exits("app", 0, attempt=1))
    await harness.runtime.start_container(second)

    async def second_exited() -> bool:
        c = (await harness.runtime.pod_status(cfg.uid)).latest("app")
        return c is not None and c.id == second and c.state is ContainerState.EXITED

    await harness.settle(second_exited)
    status = await harness.runtime.pod_status(cfg.uid)
    latest, previous = status.latest("app"), status.previous("app")
    assert latest is not None and previous is not None
    assert (latest.attempt, latest.exit_code, latest.reason) == (1, 0, "Completed")
    assert (previous.id, previous.attempt, previous.exit_code, previous.reason) == (first, 0, 3, "Error")


async def test_stopping_the_sandbox_kills_its_containers(harness: Harness) -> None:
    cfg = sandbox_config("sbstop")
    await harness.runtime.run_pod_sandbox(cfg)
    cid = await harness.runtime.create_container(cfg.uid, harness.running("app"))
    await harness.runtime.start_container(cid)
    await harness.runtime.stop_pod_sandbox(cfg.uid)
    status = await harness.runtime.pod_status(cfg.uid)
    assert status.sandbox is not None and not status.sandbox.ready and status.sandbox.ip == ""
    c = status.latest("app")
    assert c is not None and c.state is ContainerState.EXITED and c.exit_code == 137
    with pytest.raises(RuntimeFailure):
        await harness.runtime.create_container(cfg.uid, harness.running("late"))


async def test_a_stopped_sandbox_is_replaced_by_a_new_one(harness: Harness) -> None:
    cfg = sandbox_config("again")
    first = await harness.runtime.run_pod_sandbox(cfg)
    await harness.runtime.stop_pod_sandbox(cfg.uid)
    second = await harness.runtime.run_pod_sandbox(cfg)
    assert second.ready and second.id != first.id and ipaddress.ip_address(second.ip) in POD_CIDR
    assert (await harness.runtime.pod_status(cfg.uid)).sandbox == second
    cid = await harness.runtime.create_container(cfg.uid, harness.running("app"))
    await harness.runtime.start_container(cid)
    assert await latest_state(harness, cfg.uid, "app") is ContainerState.RUNNING


async def test_remove_pod_forgets_everything(harness: Harness) -> None:
    cfg = sandbox_config("gone")
    await harness.runtime.run_pod_sandbox(cfg)
    cid = await harness.runtime.create_container(cfg.uid, harness.exits("app", 0))
    await harness.runtime.start_container(cid)
    await harness.runtime.stop_pod_sandbox(cfg.uid)
    await harness.runtime.remove_pod(cfg.uid)
    assert await harness.runtime.pod_status(cfg.uid) == PodRuntimeStatus()
    assert await harness.runtime.pod_status(str(uuid.uuid4())) == PodRuntimeStatus()
    with pytest.raises(RuntimeFailure):
        await harness.runtime.create_container(cfg.uid, harness.running("app"))


async def test_images(harness: Harness) -> None:
    pulled = await harness.runtime.pull_image("busybox")
    assert pulled.name == "docker.io/library/busybox:latest" and pulled.size > 0
    assert pulled.ref.startswith("docker.io/library/busybox@sha256:")
    assert await harness.runtime.image_status("docker.io/library/busybox:latest") == pulled
    assert "docker.io/library/busybox:latest" in [i.name for i in await harness.runtime.list_images()]
    assert await harness.runtime.image_status("never-pulled-image:1") is None

