"""The simulated runtime: state as a function of time, stop semantics, images, IPs, restore."""

from __future__ import annotations

from pocketkube.kubelet import simulate
from pocketkube.kubelet.clock import ManualClock
from pocketkube.kubelet.runtime.interface import ContainerConfig, ContainerState, PodSandboxConfig
from pocketkube.kubelet.runtime.simulated import SimulatedRuntime


def runtime() -> tuple[SimulatedRuntime, ManualClock]:
    clock = ManualClock(1000.0)
    return SimulatedRuntime("10.244.7.0/24", clock.now), clock


async def test_container_exits_on_schedule_and_next_change_announces_it() -> None:
    rt, clock = runtime()
    sb = await rt.run_pod_sandbox(PodSandboxConfig("u1", "p", "ns"))
    assert sb.ip == "10.244.7.2" and sb.ready
    cid = await rt.create_container("u1", ContainerConfig("app", "busybox", 0, annotations={
        simulate.EXIT_AFTER: "5s", simulate.EXIT_CODE: "2"}))
    await rt.start_container(cid)
    assert rt.next_change("u1") == 1005.0
    clock.advance(4.9)
    assert (await rt.pod_status("u1")).containers[0].state is ContainerState.RUNNING
    clock.advance(0.2)
    c = (await rt.pod_status("u1")).containers[0]
    assert (c.state, c.exit_code, c.reason, c.finished_at) == (ContainerState.EXITED, 2, "Error", 1005.0)
    assert rt.next_change("u1") is None


async def test_stop_within_and_beyond_the_grace_period() -> None:
    rt, clock = runtime()
    await rt.run_pod_sandbox(PodSandboxConfig("u1", "p", "ns", {simulate.STOP_AFTER: "3s"}))
    slow = await rt.create_container("u1", ContainerConfig("slow", "x", 0, annotations={simulate.STOP_AFTER: "3s"}))
    fast = await rt.create_container("u1", ContainerConfig("fast", "x", 0))
    await rt.start_container(slow)
    await rt.start_container(fast)
    await rt.stop_container(slow, 1.0)
    await rt.stop_container(fast, 1.0)
    clock.advance(1.0)
    by_name = {c.name: c for c in (await rt.pod_status("u1")).containers}
    assert (by_name["slow"].exit_code, by_name["slow"].reason) == (137, "Error")
    assert (by_name["fast"].exit_code, by_name["fast"].reason) == (0, "Completed")
    assert by_name["fast"].finished_at == 1000.2


async def test_sandbox_stop_releases_the_ip_and_keeps_two_instances() -> None:
    rt, _clock = runtime()
    await rt.run_pod_sandbox(PodSandboxConfig("u1", "p", "ns"))
    for attempt in range(4):
        cid = await rt.create_container("u1", ContainerConfig("app", "x", attempt))
        await rt.start_container(cid)
        await rt.stop_container(cid, 0)
    status = await rt.pod_status("u1")
    assert [c.attempt for c in status.containers] == [2, 3]
    assert status.latest("app").attempt == 3 and status.previous("app").attempt == 2
    await rt.stop_pod_sandbox("u1")
    assert rt.ipam.allocated() == 0 and not (await rt.pod_status("u1")).sandbox.ready
    await rt.remove_pod("u1")
    assert (await rt.pod_status("u1")).containers == () and rt.pod_count() == 0


async def test_images_are_pulled_once_per_node() -> None:
    rt, _ = runtime()
    assert await rt.image_status("nginx") is None
    pulled = await rt.pull_image("nginx")
    assert pulled.name == "docker.io/library/nginx:latest"
    assert await rt.image_status("docker.io/library/nginx:latest") == pulled
    assert await rt.list_images() == [pulled]


async def test_restore_rebuilds_a_pod_from_its_api_status() -> None:
    rt, _clock = runtime()
    pod = {"metadata": {"uid": "u9", "annotations": {}}, "spec": {},
           "status": {"phase": "Running", "podIP": "10.244.7.40", "startTime": "1970-01-01T00:16:00Z",
                      "containerStatuses": [{
                          "name": "app", "containerID": "simulated://abc", "image": "docker.io/library/nginx:1.27",
                          "imageID": "docker.io/library/nginx@sha256:1", "restartCount": 2,
                          "state": {"running": {"startedAt": "1970-01-01T00:16:30Z"}},
                          "lastState": {"terminated": {"exitCode": 1, "containerID": "simulated://old",
                                                       "startedAt": "1970-01-01T00:16:10Z",
                                                       "finishedAt": "1970-01-01T00:16:20Z"}}}]}}
    await rt.restore(pod)
    status = await rt.pod_status("u9")
    assert status.sandbox is not None and status.sandbox.ip == "10.244.7.40"
    latest, previous = status.latest("app"), status.previous("app")
    assert (latest.id, latest.attempt, latest.state, latest.started_at) == ("abc", 2, ContainerState.RUNNING, 990.0)
    assert (previous.id, previous.attempt, previous.exit_code) == ("old", 1, 1)
    assert await rt.image_status("nginx:1.27") is not None
    assert rt.ipam.allocate("u9") == "10.244.7.40"
    await rt.restore({"metadata": {"uid": "other"}, "status": {"containerStatuses": [
        {"name": "x", "containerID": "containerd://zzz"}]}})
    assert rt.pod_count() == 1  # not ours: left alone
