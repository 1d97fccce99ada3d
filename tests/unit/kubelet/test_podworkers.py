"""The pod lifecycle end to end through the pod workers, the simulated runtime and kubectl's printer."""

from __future__ import annotations

import ipaddress

from kubelet_harness import Harness, make_pod

from pocketkube.kubelet import simulate
from pocketkube.kubelet.simulate import EXIT_AFTER, EXIT_CODE, STOP_AFTER


def _cond(pod: dict, ctype: str) -> dict:
    return next(c for c in pod["status"]["conditions"] if c["type"] == ctype)


async def test_pending_to_container_creating_to_running(harness: Harness) -> None:
    harness.pods.put(make_pod())
    await harness.run()
    pod = harness.pod()
    assert harness.row() == ("0/1", "ContainerCreating", "0")
    assert pod["status"]["phase"] == "Pending"
    assert pod["status"]["podIP"] == "10.244.0.2" and pod["status"]["hostIP"] == "10.89.0.2"
    assert _cond(pod, "PodReadyToStartContainers")["status"] == "True"
    assert {"status": "False", "reason": "ContainersNotReady",
            "message": "containers with unready status: [web]"}.items() <= _cond(pod, "ContainersReady").items()
    assert [c["type"] for c in pod["status"]["conditions"]] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    await harness.run(0.5)
    pod = harness.pod()
    assert harness.row() == ("1/1", "Running", "0")
    cs = pod["status"]["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0
    assert cs["containerID"].startswith("simulated://") and cs["image"] == "docker.io/library/nginx:1.27"
    assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert "startedAt" in cs["state"]["running"] and pod["status"]["startTime"]
    assert harness.events.reasons() == ["Pulling", "Pulled", "Created", "Started"]
    assert harness.events.recorded[2][2:] == ("Created container: web", "spec.containers{web}")
    assert len(harness.writer.writes) == 2


async def test_image_already_present_on_second_pod(harness: Harness) -> None:
    harness.pods.put(make_pod("a"))
    await harness.run(0.6)
    harness.events.recorded.clear()
    harness.pods.put(make_pod("b"))
    await harness.run(0.6)
    assert harness.events.recorded[0][1:3] == ("Pulled", 'Container image "nginx:1.27" already present on machine')


async def test_init_containers_run_in_order(harness: Harness) -> None:
    init = [{"name": "one", "image": "busybox"}, {"name": "two", "image": "busybox"}]
    harness.pods.put(make_pod(init=init))
    seen = []
    for _ in range(50):
        await harness.run(0.1)
        row = harness.row()
        if not seen or seen[-1] != row:
            seen.append(row)
    assert [s for _, s, _ in seen] == ["Init:0/2", "Init:1/2", "PodInitializing", "Running"]
    pod = harness.pod()
    assert [s["name"] for s in pod["status"]["initContainerStatuses"]] == ["one", "two"]
    assert all(s["state"]["terminated"]["reason"] == "Completed" for s in pod["status"]["initContainerStatuses"])
    assert _cond(pod, "Initialized")["status"] == "True"


async def test_failing_init_container_with_never_fails_the_pod(harness: Harness) -> None:
    init = [{"name": "setup", "image": "busybox"}]
    harness.pods.put(make_pod(init=init, restart="Never",
                              annotations={simulate.INIT_EXIT_CODE: "2"}))
    await harness.run(2.0)
    assert harness.row() == ("0/1", "Init:Error", "0")
    assert harness.pod()["status"]["phase"] == "Failed"


async def test_job_style_completion(harness: Harness) -> None:
    harness.pods.put(make_pod("ok", restart="Never", annotations={EXIT_AFTER: "2s"}))
    harness.pods.put(make_pod("bad", restart="OnFailure", annotations={EXIT_AFTER: "2s", EXIT_CODE: "0"}))
    harness.pods.put(make_pod("err", restart="Never", annotations={EXIT_AFTER: "1s", EXIT_CODE: "3"}))
    await harness.run(1.0)
    assert harness.row("ok") == ("1/1", "Running", "0")
    await harness.run(2.0)
    assert harness.row("ok") == ("0/1", "Completed", "0")
    assert harness.row("bad") == ("0/1", "Completed", "0")
    assert harness.row("err") == ("0/1", "Error", "0")
    ok, err = harness.pod("ok"), harness.pod("err")
    assert ok["status"]["phase"] == "Succeeded" and err["status"]["phase"] == "Failed"
    assert {"status": "False", "reason": "PodCompleted"}.items() <= _cond(ok, "Ready").items()
    assert _cond(ok, "Initialized")["reason"] == "PodCompleted"
    assert _cond(ok, "PodReadyToStartContainers")["status"] == "False"
    assert ok["status"]["podIP"] == "10.244.0.2"  # kept after the sandbox is gone
    term = err["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (3, "Error")
    writes = len(harness.writer.writes)
    await harness.run(30.0)
    assert len(harness.writer.writes) == writes  # terminal pods rest


async def test_crash_loop_back_off(harness: Harness) -> None:
    harness.pods.put(make_pod(annotations={EXIT_AFTER: "1s", EXIT_CODE: "1"}))
    await harness.run(1.6)  # started at 0.5, crashed at 1.5, restarted at once
    ready, status, restarts = harness.row()
    assert (ready, status) == ("1/1", "Running") and restarts.startswith("1 (")
    await harness.run(1.0)  # second crash: back-off 10s
    assert harness.row()[:2] == ("0/1", "CrashLoopBackOff")
    cs = harness.pod()["status"]["containerStatuses"][0]
    assert cs["state"]["waiting"]["message"] == "back-off 10s restarting failed container=web pod=web_default(uid-web)"
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["restartCount"] == 1
    assert harness.pod()["status"]["phase"] == "Running"
    assert harness.events.reasons().count("BackOff") == 1
    await harness.run(10.0)
    assert harness.row()[1] == "Running" and harness.row()[2].startswith("2 (")
    await harness.run(1.0)  # third crash: back-off 20s
    msg = harness.pod()["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    assert msg.startswith("back-off 20s ")


async def test_graceful_deletion_then_confirmation(harness: Harness) -> None:
    harness.pods.put(make_pod())
    await harness.run(0.6)
    ip = harness.pod()["status"]["podIP"]
    harness.delete(grace=30)
    await harness.run()
    assert harness.row()[1] == "Terminating"
    assert "Killing" in harness.events.reasons()
    assert harness.events.recorded[-1][2] == "Stopping container web"
    assert harness.writer.deletes == []
    await harness.run(0.3)  # default stop time 0.2s < grace
    pod = harness.pod()
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    assert pod["status"]["phase"] == "Succeeded"
    assert harness.writer.deletes == [("default/web", "uid-web")]
    harness.pods.remove("default/web")
    await harness.run()
    assert harness.runtime.pod_count() == 0 and harness.runtime.ipam.allocated() == 0
    assert ip


async def test_grace_period_exceeded_means_sigkill(harness: Harness) -> None:
    harness.pods.put(make_pod(annotations={STOP_AFTER: "1m"}))
    await harness.run(0.6)
    harness.delete(grace=2)
    await harness.run(1.0)
    assert harness.writer.deletes == []
    await harness.run(1.1)
    term = harness.pod()["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (137, "Error")
    assert harness.pod()["status"]["phase"] == "Failed"
    assert harness.writer.deletes == [("default/web", "uid-web")]


async def test_delete_before_start_confirms_at_once(harness: Harness) -> None:
    harness.pods.put(make_pod())
    await harness.run()
    harness.delete()
    await harness.run()
    assert harness.writer.deletes == [("default/web", "uid-web")]
    assert "Started" not in harness.events.reasons()


async def test_recreated_pod_with_same_name_starts_fresh(harness: Harness) -> None:
    harness.pods.put(make_pod())
    await harness.run(0.6)
    harness.pods.put(make_pod(uid="uid-second"))
    await harness.run(0.6)
    pod = harness.pod()
    assert harness.row() == ("1/1", "Running", "0")
    assert harness.runtime.pod_count() == 1
    assert pod["status"]["podIP"] != "10.244.0.2"


async def test_pod_ips_unique_within_the_node_cidr(harness: Harness) -> None:
    for i in range(60):
        harness.pods.put(make_pod(f"p{i}"))
    await harness.run(0.6)
    ips = [harness.pod(f"p{i}")["status"]["podIP"] for i in range(60)]
    assert len(set(ips)) == 60
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.244.0.0/24") for ip in ips)


async def test_agent_restart_is_invisible(harness: Harness) -> None:
    harness.pods.put(make_pod(annotations={EXIT_AFTER: "1s", EXIT_CODE: "1"}))
    await harness.run(1.7)
    before = harness.pod()
    fresh = Harness()
    fresh.clock.t = harness.clock.t
    fresh.pods.put(before)
    await fresh.run()
    assert fresh.writer.writes == []  # nothing to correct: same IP, ids, counts and times
    assert fresh.runtime.ipam.allocated() == 1
    await fresh.run(1.0)  # the restored container crashes on schedule
    assert fresh.row()[1] == "CrashLoopBackOff"


async def test_node_not_serving_holds_pods(harness: Harness) -> None:
    harness.nodes.serving = False
    harness.pods.put(make_pod())
    await harness.run(1.0)
    assert harness.writer.writes == []
    harness.nodes.serving = True
    harness.workers.node_ready("sim-1")
    await harness.run(0.6)
    assert harness.row() == ("1/1", "Running", "0")


async def test_sidecar_runs_beside_and_stops_after_the_job(harness: Harness) -> None:
    init = [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]
    harness.pods.put(make_pod(init=init, restart="Never", annotations={EXIT_AFTER: "2s"}))
    await harness.run(1.5)
    assert harness.row() == ("2/2", "Running", "0")
    await harness.run(2.0)
    pod = harness.pod()
    assert pod["status"]["phase"] == "Succeeded"
    assert harness.row()[1] == "Completed"
    sidecar = pod["status"]["initContainerStatuses"][0]
    assert "terminated" in sidecar["state"]


async def test_status_changed_by_others_is_put_back(harness: Harness) -> None:
    harness.pods.put(make_pod())
    await harness.run(0.6)
    pod = harness.pod()
    marked = [dict(c, status="False") if c["type"] == "Ready" else c for c in pod["status"]["conditions"]]
    harness.pods.put({**pod, "status": {**pod["status"], "conditions": marked}})  # node controller: NotReady
    writes = len(harness.writer.writes)
    await harness.run()
    assert len(harness.writer.writes) == writes + 1
    assert harness.row() == ("1/1", "Running", "0")
    await harness.run(1.0)
    assert len(harness.writer.writes) == writes + 1


async def test_simulated_probes_delay_started_and_ready(harness: Harness) -> None:
    container = {"name": "web", "image": "nginx:1.27", "startupProbe": {"initialDelaySeconds": 2},
                 "readinessProbe": {"initialDelaySeconds": 5}}
    harness.pods.put(make_pod(containers=[container]))
    await harness.run(1.0)
    cs = harness.pod()["status"]["containerStatuses"][0]
    assert "running" in cs["state"] and not cs["started"] and not cs["ready"]
    assert harness.row() == ("0/1", "Running", "0")
    await harness.run(2.0)
    cs = harness.pod()["status"]["containerStatuses"][0]
    assert cs["started"] and not cs["ready"]
    await harness.run(3.0)
    assert harness.row() == ("1/1", "Running", "0")
    assert [c["status"] for c in harness.pod()["status"]["conditions"] if c["type"] == "Ready"] == ["True"]


async def test_never_ready_annotation(harness: Harness) -> None:
    harness.pods.put(make_pod(annotations={"pocketkube.io/simulate-ready": "false"}))
    await harness.run(5.0)
    assert harness.row() == ("0/1", "Running", "0")


async def test_pods_that_do_not_fit_are_rejected(harness: Harness) -> None:
    harness.nodes.alloc = {"cpu": "4", "memory": "8Gi", "pods": "2"}
    big = {"name": "big", "image": "nginx:1.27", "resources": {"requests": {"cpu": "3"}}}
    harness.pods.put(make_pod("a", containers=[big]))
    harness.pods.put(make_pod("b", containers=[{**big, "resources": {"requests": {"cpu": "1500m"}}}]))
    harness.pods.put(make_pod("c"))
    harness.pods.put(make_pod("d"))
    await harness.run(0.6)
    assert harness.row("a") == ("1/1", "Running", "0")
    assert harness.row("b") == ("0/1", "OutOfcpu", "0")
    b = harness.pod("b")["status"]
    assert (b["phase"], b["message"]) == ("Failed", "Pod was rejected: Node didn't have enough resource: cpu, "
                                                    "requested: 1500, used: 3000, capacity: 4000")
    assert harness.row("c") == ("1/1", "Running", "0")
    assert harness.row("d")[1] == "OutOfpods"
    assert ("Warning", "OutOfpods") in [(t, r) for t, r, _, _ in harness.events.recorded]
    assert harness.runtime.pod_count() == 2
