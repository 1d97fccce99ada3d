"""The real node's pod path against the in-memory CRI server: pod workers + CRIRuntime + CRIConfigurer
(what containerd is asked for), the PLEG (exits wake pods, orphans are removed) and the container GC."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cri_fakeserver import FakeCRI
from kubelet_harness import NODE, FakeEvents, FakePods, FakeWriter, make_pod

from pocketkube.kubelet import poddns
from pocketkube.kubelet.clock import ManualClock
from pocketkube.kubelet.criconfigurer import CRIConfigurer
from pocketkube.kubelet.pleg import RelistPLEG
from pocketkube.kubelet.podworkers import PodWorkers
from pocketkube.kubelet.runtime.cri import CRIRuntime, termination_message
from pocketkube.kubelet.runtime.cri_types import CRIContainerState, CRIContainerStatus, Mount

Obj = dict[str, Any]


@dataclass
class Node:
    runtime: CRIRuntime

    def runtime_for(self, node: str) -> CRIRuntime | None:
        return self.runtime if node == NODE else None

    def host_ip(self, node: str = "") -> str:
        return "192.0.2.2"

    def node_ip(self) -> str:
        return "192.0.2.2"

    def allocatable(self, node: str = "") -> Mapping[str, Any]:
        return {"cpu": "2", "memory": "8Gi", "pods": "110"}

    def memory_capacity(self) -> int:
        return 8 << 30


@dataclass
class Env:
    server: FakeCRI
    runtime: CRIRuntime
    folder: Path
    pods: FakePods
    workers: PodWorkers
    events: FakeEvents
    clock: ManualClock
    configurer: CRIConfigurer


async def _configmap(namespace: str, name: str) -> Obj | None:
    return {"data": {"greeting": "hello"}} if name == "settings" else None


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    folder = Path(tempfile.mkdtemp(prefix="crinode", dir="/tmp"))
    server = FakeCRI()
    server.pullable.add("docker.io/library/busybox:latest")
    endpoint = await server.start(folder / "cri.sock")
    runtime = await CRIRuntime.connect(endpoint, log_root=folder / "pods", cgroup_root="/pocketkube-unit-none")
    node = Node(runtime)
    configurer = CRIConfigurer(runtime, node, pods_dir=folder / "kubelet" / "pods",
                               resolv=poddns.ResolvConf(("10.255.255.53",)), get_configmap=_configmap)
    pods, clock, events = FakePods(), ManualClock(time.time()), FakeEvents()
    workers = PodWorkers(clock=clock, nodes=node, pods=pods, writer=FakeWriter(pods),  # type: ignore[arg-type]
                         events=events, delays=lambda pod: {}, configurers=lambda n: configurer)  # type: ignore[arg-type]
    yield Env(server, runtime, folder, pods, workers, events, clock, configurer)
    await configurer.close()
    await runtime.close()
    await server.stop()
    shutil.rmtree(folder)


def web(**spec: Any) -> Obj:
    container = {"name": "web", "image": "busybox", "command": ["sh", "-c", "echo $(POD_NAME) $(GREETING)"],
                 "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                         {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                         {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "greeting"}}}],
                 "resources": {"requests": {"cpu": "250m", "memory": "32Mi"}, "limits": {"cpu": "500m", "memory": "64Mi"}}}
    pod = make_pod("web", containers=[container])
    pod["spec"].update(spec)
    pod["status"]["qosClass"] = "Burstable"
    return pod


def calls(server: FakeCRI, method: str) -> list[Any]:
    return [r for m, r in server.calls if m == method]


async def test_the_runtime_is_asked_for_what_the_kubelet_asks(env: Env) -> None:
    env.pods.put(web())
    await env.workers.run_due()
    status = env.pods.get("default/web")["status"]  # type: ignore[index]
    assert status["phase"] == "Running" and status["hostIP"] == "192.0.2.2"
    sandbox = calls(env.server, "RunPodSandbox")[0].config
    assert list(sandbox.dns_config.servers) == ["10.96.0.10"]
    assert list(sandbox.dns_config.searches) == ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    assert sandbox.linux.cgroup_parent == "/pocketkube-unit-none/burstable/pod" + "uid-web"
    create = calls(env.server, "CreateContainer")[0].config
    envs = {kv.key: kv.value.decode() for kv in create.envs}
    assert envs["POD_NAME"] == "web" and envs["GREETING"] == "hello" and envs["POD_IP"] == status["podIP"]
    assert list(create.command) == ["sh", "-c", "echo web hello"]
    mounts = {m.container_path: m.host_path for m in create.mounts}
    hosts = Path(mounts["/etc/hosts"]).read_text()
    assert hosts.startswith("# Kubernetes-managed hosts file.\n") and f"{status['podIP']}\tweb\n" in hosts
    assert Path(mounts["/dev/termination-log"]).parent.name == "web"
    r = create.linux.resources
    assert (r.cpu_quota, r.cpu_shares, r.memory_limit_in_bytes) == (50000, 256, 64 << 20)
    assert [e[1] for e in env.events.recorded] == ["Pulling", "Pulled", "Created", "Started"]


async def test_a_missing_configmap_is_create_container_config_error(env: Env) -> None:
    pod = web()
    pod["spec"]["containers"][0]["env"][2]["valueFrom"]["configMapKeyRef"]["name"] = "absent"
    env.pods.put(pod)
    await env.workers.run_due()
    cs = env.pods.get("default/web")["status"]["containerStatuses"][0]  # type: ignore[index]
    assert cs["state"]["waiting"] == {"reason": "CreateContainerConfigError", "message": 'configmap "absent" not found'}


async def test_exits_reach_the_pod_through_the_pleg(env: Env) -> None:
    env.pods.put(web())
    await env.workers.run_due()
    woken: list[str] = []
    pleg = RelistPLEG(env.runtime.client, woken.append)
    await pleg.relist()
    woken.clear()
    cid = next(iter(env.server.containers))
    env.server.exit(cid, 1, "Error")
    assert await pleg.relist() == {"uid-web"} and woken == ["uid-web"]
    assert await pleg.relist() == set()
    env.workers.enqueue("default/web")
    env.clock.advance(1)  # the manual clock catches up with the runtime's exit time
    await env.workers.run_due()  # first exit: restarted at once
    cs = env.pods.get("default/web")["status"]["containerStatuses"][0]  # type: ignore[index]
    assert cs["restartCount"] == 1 and "running" in cs["state"]
    assert cs["lastState"]["terminated"]["exitCode"] == 1


async def test_pods_the_api_forgot_are_removed(env: Env) -> None:
    env.pods.put(web())
    await env.workers.run_due()
    removed: list[str] = []

    async def cleanup(uid: str) -> None:
        removed.append(uid)
        await env.runtime.remove_pod(uid)
    pleg = RelistPLEG(env.runtime.client, lambda uid: None, known=lambda uid: False, cleanup=cleanup)
    await pleg.relist()
    assert await pleg.clean_orphans() == ["uid-web"] and removed == ["uid-web"]
    assert env.server.sandboxes == {} and env.server.containers == {}


async def test_container_gc_keeps_the_newest_exited_instance(env: Env) -> None:
    env.pods.put(web())
    await env.workers.run_due()
    for _ in range(3):
        for cid, c in list(env.server.containers.items()):
            if c.state == 1:
                env.server.exit(cid, 1, "Error")
        env.workers.enqueue("default/web")
        env.clock.advance(1000)  # past any back-off
        await env.workers.run_due()
    assert len(env.server.containers) == 4
    assert await env.runtime.gc_pod("uid-web") == 2
    states = sorted((c.metadata.attempt, c.state) for c in env.server.containers.values())
    assert states == [(2, 2), (3, 1)]  # the newest exited (lastState) and the running one


def test_termination_messages_come_from_the_file_or_the_log(tmp_path: Path) -> None:
    msg = tmp_path / "msg"
    msg.write_text("bye\n")
    log = tmp_path / "0.log"
    log.write_text("2026-11-22T00:00:00Z stdout F one\n2026-11-22T00:00:01Z stderr F boom\n")

    def status(policy: str, path: Path, code: int) -> CRIContainerStatus:
        return CRIContainerStatus(
            id="c", name="app", attempt=0, state=CRIContainerState.EXITED, created_at=0, started_at=0,
            finished_at=1, exit_code=code, image="i", image_ref="r", log_path=str(log),
            annotations={"io.kubernetes.container.terminationMessagePath": "/dev/termination-log",
                         "io.kubernetes.container.terminationMessagePolicy": policy},
            mounts=(Mount("/dev/termination-log", str(path)),))
    assert termination_message(status("File", msg, 1)) == "bye\n"
    empty = tmp_path / "empty"
    empty.write_text("")
    assert termination_message(status("FallbackToLogsOnError", empty, 1)) == "one\nboom"
    assert termination_message(status("FallbackToLogsOnError", empty, 0)) == ""


async def test_a_prestop_hook_runs_before_the_stop(env: Env) -> None:
    failures: list[tuple[str, str, str]] = []
    env.configurer.on_hook_failure = lambda pod, name, reason, message: failures.append((name, reason, message))
    pod = web(terminationGracePeriodSeconds=7)
    pod["spec"]["containers"][0]["lifecycle"] = {"preStop": {"exec": {"command": ["sh", "-c", "drain"]}}}
    env.pods.put(pod)
    await env.workers.run_due()
    env.pods.put({**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2030-01-01T00:00:00Z",
                                      "deletionGracePeriodSeconds": 7}})
    await env.workers.run_due()
    await env.configurer.close()
    names = [m for m, _ in env.server.calls]
    assert names.index("ExecSync") < names.index("StopContainer")
    assert list(calls(env.server, "ExecSync")[0].cmd) == ["sh", "-c", "drain"]
    assert 2 <= calls(env.server, "StopContainer")[0].timeout <= 7
    assert failures == [("web", "FailedPreStopHook",
                         'Exec lifecycle hook ([sh -c drain]) for Container "web" in Pod "web_default(uid-web)" '
                         "failed - error: command 'sh -c drain' exited with 3: sh -c drainerr, "
                         'message: "sh -c drainerr"')]
