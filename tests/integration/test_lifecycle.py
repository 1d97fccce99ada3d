"""`pocketkube start|stop|delete|status` and durability across restarts (issues 2 and 3)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import KUBECTL, Cluster


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    c = Cluster(profile="life")
    try:
        yield c
    finally:
        c.close()


def _pids(c: Cluster) -> list[int]:
    run = Path(c.env["POCKETKUBE_HOME"]) / c.profile / "run"
    pids = set()
    for f in run.glob("*.pid") if run.exists() else []:
        with contextlib.suppress(ValueError):
            pids.add(int(f.read_text()))
    return sorted(pids)


def _alive(pid: int) -> bool:
    """Running (an exited process waiting for init to reap it is not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def _port(c: Cluster) -> int:
    cfg = json.loads((Path(c.env["POCKETKUBE_HOME"]) / c.profile / "config.json").read_text())
    return int(cfg["apiserver_port"])


def test_restart_keeps_objects_and_revisions(own_cluster: Cluster) -> None:
    c = own_cluster
    c.start()
    c.kubectl("create", "namespace", "keep")
    c.kubectl("create", "configmap", "kept", "--from-literal=a=1", "-n", "keep")
    before = json.loads(c.kubectl("get", "cm", "kept", "-n", "keep", "-o", "json").out)
    rv_before = int(before["metadata"]["resourceVersion"])
    # A watch from before the restart either continues or ends with 410 Expired.
    out = c.pocketkube("stop", "--profile", c.profile).stderr
    assert "Stopped" in out
    assert not any(_alive(p) for p in _pids(c))
    status = c.pocketkube("status", "--profile", c.profile, check=False)
    assert status.returncode != 0 and "Stopped" in status.stdout
    c.start()
    after = json.loads(c.kubectl("get", "cm", "kept", "-n", "keep", "-o", "json").out)
    assert after["metadata"]["uid"] == before["metadata"]["uid"] and after["data"] == {"a": "1"}
    c.kubectl("label", "cm", "kept", "-n", "keep", "x=y")
    rv_after = int(c.kubectl("get", "cm", "kept", "-n", "keep", "-o", "jsonpath={.metadata.resourceVersion}").out)
    assert rv_after > rv_before
    api = c.api_client()
    from kubernetes import client as k8s
    core = k8s.CoreV1Api(api)
    resp = core.list_namespaced_config_map("keep", resource_version=str(rv_before), watch=True,
                                           timeout_seconds=2, _preload_content=False)
    lines = [json.loads(line) for line in resp.read().decode().splitlines() if line.strip()]
    assert lines, "a watch from before the restart must answer"
    first = lines[0]
    if first["type"] == "ERROR":
        assert first["object"]["code"] == 410 and first["object"]["reason"] == "Expired"
    else:
        assert first["type"] in ("ADDED", "MODIFIED")
    assert c.pocketkube("status", "--profile", c.profile).returncode == 0


def test_start_twice_is_noop_and_delete_leaves_nothing(own_cluster: Cluster) -> None:
    c = own_cluster
    c.start()
    port = _port(c)
    again = c.start()
    assert "already running" in again.stderr
    pids = _pids(c)
    assert pids and all(_alive(p) for p in pids)
    state = Path(c.env["POCKETKUBE_HOME"]) / c.profile
    c.pocketkube("delete", "--profile", c.profile)
    assert not any(_alive(p) for p in pids)
    assert not state.exists()
    kubeconfig = Path(c.kubeconfig).read_text()
    assert "life" not in kubeconfig
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "nothing may listen after delete"


def test_kill_apiserver_is_restarted_without_losing_writes(own_cluster: Cluster) -> None:
    c = own_cluster
    c.start()
    c.kubectl("create", "namespace", "durable")
    for i in range(20):
        c.kubectl("create", "configmap", f"w{i}", "--from-literal=a=1", "-n", "durable")
    run = Path(c.env["POCKETKUBE_HOME"]) / c.profile / "run"
    old = int((run / "apiserver.pid").read_text())
    os.kill(old, signal.SIGKILL)

    def back() -> bool:
        try:
            new = int((run / "apiserver.pid").read_text())
        except (OSError, ValueError):
            return False
        return new != old and c.kubectl("get", "--raw", "/readyz", check=False).returncode == 0

    c.wait_for(back, timeout=30)
    names = c.kubectl("get", "cm", "-n", "durable", "-o", "name").out.split()
    assert {f"configmap/w{i}" for i in range(20)} <= set(names)


def test_cli_bad_input(own_cluster: Cluster, tmp_path: Path) -> None:
    c = own_cluster
    bad = c.pocketkube("start", "--profile", c.profile, "--bogus", check=False)
    assert bad.returncode != 0 and "No such option" in bad.stderr
    bad = c.pocketkube("frobnicate", check=False)
    assert bad.returncode != 0 and "No such command" in bad.stderr
    bad = c.pocketkube("start", "--profile", c.profile, "--datastore", "etcd://nohost", check=False)
    assert bad.returncode == 1 and "is not host:port" in bad.stderr
    assert not (Path(c.env["POCKETKUBE_HOME"]) / c.profile / "config.json").exists()
    kubeconfig = Path(c.kubeconfig)
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    kubeconfig.write_text("this: is: not: yaml: [")
    bad = c.pocketkube("start", "--profile", c.profile, check=False)
    assert bad.returncode == 1 and "not valid YAML" in bad.stderr
    assert kubeconfig.read_text() == "this: is: not: yaml: ["
    assert not _pids(c) or not any(_alive(p) for p in _pids(c))
    kubeconfig.unlink()


def test_port_in_use_is_a_clear_error(own_cluster: Cluster) -> None:
    c = own_cluster
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        bad = c.pocketkube("start", "--profile", c.profile, "--apiserver-port", str(port), check=False)
    assert bad.returncode == 1 and f"port {port} is in use" in bad.stderr


def test_two_profiles_side_by_side() -> None:
    a, b = Cluster(profile="alpha"), Cluster(profile="beta")
    b.env = dict(a.env)  # same POCKETKUBE_HOME and kubeconfig: two contexts in one file
    try:
        a.start()
        b.start()
        assert _port(a) != _port(b)
        for ctx in ("alpha", "beta"):
            out = subprocess.run([KUBECTL, "--context", ctx, "get", "ns", "default", "-o", "name"], env=a.env,
                                 capture_output=True, text=True, timeout=30)
            assert out.stdout.strip() == "namespace/default", out.stderr
        profiles = a.pocketkube("profile", "list").stdout
        assert "alpha" in profiles and "beta" in profiles
    finally:
        b.pocketkube("delete", "--profile", "beta", check=False)
        a.close()
        b.close()


def test_corrupt_or_newer_state_is_refused_untouched(own_cluster: Cluster) -> None:
    c = own_cluster
    state = Path(c.env["POCKETKUBE_HOME"]) / c.profile
    state.mkdir(parents=True)
    (state / "config.json").write_text("{not json")
    bad = c.pocketkube("start", "--profile", c.profile, check=False)
    assert bad.returncode == 1 and "is corrupt" in bad.stderr
    assert (state / "config.json").read_text() == "{not json"
    (state / "config.json").write_text(json.dumps({"version": 99}))
    bad = c.pocketkube("start", "--profile", c.profile, check=False)
    assert bad.returncode == 1 and "newer pocketkube" in bad.stderr
    assert json.loads((state / "config.json").read_text()) == {"version": 99}
    assert not (state / "run").exists()


def test_separate_processes_run_one_component_each(own_cluster: Cluster) -> None:
    c = own_cluster
    c.start("--processes", "separate")
    run = Path(c.env["POCKETKUBE_HOME"]) / c.profile / "run"
    by_component = {f.stem: int(f.read_text()) for f in run.glob("*.pid") if f.stem != "supervisor"}
    hosted = [x for x in (run / "parts").read_text().split() if x]
    assert sorted(hosted) == ["apiserver", "controller-manager", "node-agent", "scheduler"]
    parts = {by_component[name] for name in hosted}
    assert len(parts) == 4 and all(_alive(p) for p in parts)
    status = c.pocketkube("status", "--profile", c.profile).stdout
    for line in ("apiserver: Running", "controller-manager: Running", "scheduler: Running", "kubelet: Running"):
        assert line in status
    c.kubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=60s")
    os.kill(by_component["scheduler"], signal.SIGSTOP)  # alive but not answering /healthz
    try:
        frozen = c.pocketkube("status", "--profile", c.profile, check=False)
    finally:
        os.kill(by_component["scheduler"], signal.SIGCONT)
    assert frozen.returncode == 2 and "scheduler: Error" in frozen.stdout
    assert "controller-manager: Running" in frozen.stdout
    c.pocketkube("stop", "--profile", c.profile)
    c.start()  # the profile remembers the process model
    again = {f.stem: int(f.read_text()) for f in run.glob("*.pid") if f.stem in hosted}
    assert len(set(again.values())) == 4
    c.pocketkube("stop", "--profile", c.profile)
    c.start("--processes", "shared")
    shared = {f.stem: int(f.read_text()) for f in run.glob("*.pid") if f.stem in hosted}
    assert shared["controller-manager"] == shared["scheduler"] == shared["node-agent"] != shared["apiserver"]
