"""Starts that fail before a container exists: image pulls (ErrImagePull -> ImagePullBackOff with the
upstream events and back-off), pull policy Never, CreateContainerConfigError, sandbox failures; and the
configurer seam (what the runtime is asked for)."""

from __future__ import annotations

from typing import Any

from kubelet_harness import Harness, make_pod

from pocketkube.kubelet import images, lifecycle
from pocketkube.kubelet.configurer import ContainerConfigError, SeamConfigurer
from pocketkube.kubelet.lifecycle import SANDBOX, Facts, Wait
from pocketkube.kubelet.runtime.cri_types import NotFound
from pocketkube.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    ImageStatus,
    PodRuntimeStatus,
    PodSandboxConfig,
    RuntimeFailure,
    SandboxStatus,
)

NOT_FOUND = ('failed to pull and unpack image "docker.io/library/busyboxx:latest": failed to resolve reference '
             '"docker.io/library/busyboxx:latest": docker.io/library/busyboxx:latest: not found')


def failing_pulls(harness: Harness, bad: str = "busyboxx", broken_sandbox: bool = False) -> None:
    real_pull, real_sandbox = harness.runtime.pull_image, harness.runtime.run_pod_sandbox

    async def pull(image: str) -> ImageStatus:
        if bad in image:
            raise NotFound("PullImage", "NOT_FOUND", NOT_FOUND)
        return await real_pull(image)

    async def sandbox(config: PodSandboxConfig) -> SandboxStatus:
        if broken_sandbox:
            raise RuntimeFailure("failed to setup network for sandbox: plugin type=bridge failed")
        return await real_sandbox(config)
    harness.runtime.pull_image = pull  # type: ignore[method-assign]
    harness.runtime.run_pod_sandbox = sandbox  # type: ignore[method-assign]


def typo_pod(name: str = "web", image: str = "busyboxx") -> dict[str, Any]:
    return make_pod(name, containers=[{"name": name, "image": image}])


def waiting(harness: Harness, name: str = "web") -> dict[str, Any]:
    return dict(harness.pod(name)["status"]["containerStatuses"][0]["state"]["waiting"])


async def test_a_typo_in_the_image_is_err_image_pull_then_image_pull_back_off(harness: Harness) -> None:
    failing_pulls(harness)
    harness.pods.put(typo_pod())
    await harness.run(0.5)
    assert harness.row() == ("0/1", "ErrImagePull", "0")
    assert waiting(harness) == {"reason": "ErrImagePull", "message": f"rpc error: code = NotFound desc = {NOT_FOUND}"}
    assert harness.events.recorded[-3:] == [
        ("Normal", "Pulling", 'Pulling image "busyboxx"', "spec.containers{web}"),
        ("Warning", "Failed", f'Failed to pull image "busyboxx": rpc error: code = NotFound desc = {NOT_FOUND}',
         "spec.containers{web}"),
        ("Warning", "Failed", "Error: ErrImagePull", "spec.containers{web}")]
    await harness.run(1.0)  # the resync a second later: the back-off shows
    assert harness.row() == ("0/1", "ImagePullBackOff", "0")
    assert waiting(harness) == {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "busyboxx"'}
    assert harness.events.recorded[-2:] == [
        ("Normal", "BackOff", 'Back-off pulling image "busyboxx"', "spec.containers{web}"),
        ("Warning", "Failed", "Error: ImagePullBackOff", "spec.containers{web}")]
    assert harness.pod()["status"]["phase"] == "Pending"
    pulls = harness.events.reasons().count("Pulling")
    await harness.run(8.0)  # 10 s after the failure: pulled again, fails again, back-off doubles
    assert harness.events.reasons().count("Pulling") == pulls
    await harness.run(1.0)
    assert harness.events.reasons().count("Pulling") == pulls + 1
    await harness.run(19.5)
    assert harness.events.reasons().count("Pulling") == pulls + 1
    await harness.run(1.0)
    assert harness.events.reasons().count("Pulling") == pulls + 2


async def test_a_held_pod_is_deleted_at_once(harness: Harness) -> None:
    failing_pulls(harness)
    harness.pods.put(typo_pod())
    await harness.run(1.5)
    harness.delete(grace=30)
    await harness.run()
    assert harness.writer.deletes == [("default/web", "uid-web")]


async def test_the_image_fixed_by_a_new_pod_starts(harness: Harness) -> None:
    failing_pulls(harness)
    harness.pods.put(typo_pod("a"))
    harness.pods.put(typo_pod("b", image="busybox"))
    await harness.run(1.6)
    assert harness.row("a")[1] == "ImagePullBackOff" and harness.row("b") == ("1/1", "Running", "0")


async def test_pull_policy_never(harness: Harness) -> None:
    harness.pods.put(make_pod(containers=[{"name": "web", "image": "nginx:1.27", "imagePullPolicy": "Never"}]))
    await harness.run(1.0)
    assert harness.row()[1] == "ErrImageNeverPull"
    message = 'Container image "nginx:1.27" is not present with pull policy of Never'
    assert waiting(harness) == {"reason": "ErrImageNeverPull", "message": message}
    assert ("Warning", "ErrImageNeverPull", message, "spec.containers{web}") in harness.events.recorded


class BrokenConfig(SeamConfigurer):
    def __init__(self) -> None:
        self.fixed = False

    async def container(self, pod: dict[str, Any], container: dict[str, Any], *, attempt: int, init: bool,
                        sidecar: bool) -> ContainerConfig:
        if not self.fixed:
            raise ContainerConfigError('configmap "settings" not found')
        return await super().container(pod, container, attempt=attempt, init=init, sidecar=sidecar)


async def test_create_container_config_error_is_retried(harness: Harness) -> None:
    broken = BrokenConfig()
    harness.workers.configurers = lambda node: broken
    harness.pods.put(make_pod())
    await harness.run(1.0)
    assert harness.row() == ("0/1", "CreateContainerConfigError", "0")
    assert waiting(harness) == {"reason": "CreateContainerConfigError", "message": 'configmap "settings" not found'}
    assert ("Warning", "Failed", 'Error: configmap "settings" not found', "spec.containers{web}") in \
        harness.events.recorded
    broken.fixed = True
    await harness.run(10.0)
    assert harness.row() == ("1/1", "Running", "0")


async def test_a_sandbox_that_cannot_be_created_is_retried_after_ten_seconds(harness: Harness) -> None:
    failing_pulls(harness, broken_sandbox=True)
    harness.pods.put(make_pod())
    await harness.run(0.5)
    assert harness.row() == ("0/1", "ContainerCreating", "0")
    failed = [e for e in harness.events.recorded if e[1] == "FailedCreatePodSandBox"]
    assert failed == [("Warning", "FailedCreatePodSandBox", "Failed to create pod sandbox: failed to setup network "
                       "for sandbox: plugin type=bridge failed", "")]
    await harness.run(9.0)
    assert harness.events.reasons().count("FailedCreatePodSandBox") == 1
    await harness.run(1.0)
    assert harness.events.reasons().count("FailedCreatePodSandBox") == 2


# ---------------------------------------------------------------------- pure rules

def exited(attempt: int, finished: float, started: float | None = None) -> ContainerStatus:
    return ContainerStatus(id=f"c{attempt}", name="app", attempt=attempt, image="i", image_ref="r",
                           state=ContainerState.EXITED, created_at=0.0, started_at=started or finished - 1,
                           finished_at=finished, exit_code=1)


def test_pull_backoff_doubles_to_five_minutes_and_is_forgotten() -> None:
    delays, entry, now = [], None, 0.0
    for _ in range(7):
        delay = images.next_pull_backoff(entry, now)
        delays.append(delay)
        entry, now = (delay, now), now + delay
    assert delays == [10, 20, 40, 80, 160, 300, 300]
    assert images.next_pull_backoff((300.0, 0.0), 601.0) == 10


def test_an_exit_older_than_the_sandbox_restarts_at_once() -> None:
    crash = exited(3, finished=100.0)
    assert lifecycle.restart_at(crash) == 140.0
    assert lifecycle.restart_at(crash, sandbox_created=150.0) == 100.0  # node restarted: new sandbox
    rt = PodRuntimeStatus(SandboxStatus("s2", True, "10.244.0.3", 150.0), (crash,))
    assert lifecycle.restart_time(rt, crash) == 100.0
    assert lifecycle.restart_time(rt, crash, {"app": 170.0}) == 170.0  # a failed pull holds it


def test_holds_move_only_the_start_stages() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app"}, {"name": "side"}]}}
    ready = SandboxStatus("s", True, "10.244.0.2", 1.0)
    rt = PodRuntimeStatus(ready, ())
    facts = lifecycle.observe(pod, rt, terminal=False, stopping=set(), holds={"app": 50.0})
    assert facts.start_hold == 0.0  # "side" can start now
    facts = lifecycle.observe(pod, rt, terminal=False, stopping=set(), holds={"app": 50.0, "side": 30.0})
    stage = lifecycle.select(facts)
    assert stage.name == "start" and lifecycle.due(stage, facts, armed_at=0.0, delays={}) == 30.0
    facts = lifecycle.observe(pod, PodRuntimeStatus(), terminal=False, stopping=set(), holds={SANDBOX: 20.0})
    assert lifecycle.select(facts).name == "create-sandbox" and facts.start_hold == 20.0
    deleting = {**pod, "metadata": {"name": "p", "deletionTimestamp": "2024-01-01T00:00:00Z"}}
    facts = lifecycle.observe(deleting, rt, terminal=False, stopping=set(), holds={"app": 50.0, "side": 30.0})
    stage = lifecycle.select(facts)
    assert stage.name == "confirm-deletion" and lifecycle.due(stage, facts, armed_at=5.0, delays={}) == 5.0
    assert lifecycle.due(stage, Facts(start_hold=99.0), armed_at=1.0, delays={Wait.START: 9.0}) == 1.0
