"""Simulated nodes (issue 4, deliverable 4): `pocketkube node ...`, real kubectl, the node agent's pods."""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from cluster import Cluster

PREFIX = "nt-"
NAMES = [f"{PREFIX}{i:02d}" for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def nodes(cluster: Cluster) -> Iterator[list[str]]:
    out = cluster.pocketkube("node", "add", "--simulated", "--count", "3", "--name-prefix", PREFIX,
                             "--cpu", "2", "--memory", "4Gi", "--profile", cluster.profile).out
    assert out.splitlines() == [f"node/{n} added" for n in NAMES]
    try:
        yield NAMES
    finally:
        cluster.pocketkube("node", "remove", *NAMES, "--profile", cluster.profile, check=False)


def _get(cluster: Cluster, *args: str) -> dict:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").out)


def _pod(name: str, node: str, **extra: object) -> dict:
    spec: dict = {"nodeName": node, "containers": [{"name": "app", "image": "nginx:1.27"}]}
    spec.update(extra.pop("spec", {}))  # type: ignore[arg-type]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **extra}, "spec": spec}


def _apply(cluster: Cluster, ns: str, *objs: dict) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                    "items": list(objs)}))


def _rows(cluster: Cluster, ns: str) -> dict[str, list[str]]:
    out = cluster.kubectl("get", "pods", "-n", ns, "-o", "wide", "--no-headers").out
    return {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}


def _renew(cluster: Cluster, node: str) -> datetime:
    lease = _get(cluster, "lease", node, "-n", "kube-node-lease")
    return datetime.fromisoformat(lease["spec"]["renewTime"].replace("Z", "+00:00"))


def test_start_registers_the_profile_node(cluster: Cluster) -> None:
    node = _get(cluster, "node", cluster.profile)
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")
    assert node["metadata"]["labels"]["pocketkube.io/simulated"] == "true"
    # like minikube's node: `kubectl get nodes` shows the control-plane role
    row = cluster.kubectl("get", "node", cluster.profile, "--no-headers").out.split()
    assert row[:3] == [cluster.profile, "Ready", "control-plane"], row


def test_added_nodes_are_ready_and_marked(cluster: Cluster, nodes: list[str]) -> None:
    out = cluster.kubectl("get", "nodes", "-L", "pocketkube.io/simulated", "--no-headers").out
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    cidrs = set()
    for name in nodes:
        row = rows[name]
        assert row[1:3] == ["Ready", "<none>"] and row[4].startswith("v1.32.4") and row[-1] == "true", row
        node = _get(cluster, "node", name)
        assert node["status"]["capacity"]["cpu"] == "2" and node["status"]["allocatable"]["memory"] == "4Gi"
        assert node["status"]["nodeInfo"]["containerRuntimeVersion"] == "simulated://0.1.0"
        cidrs.add(node["spec"]["podCIDR"])
        assert ipaddress.ip_network(node["spec"]["podCIDR"]).subnet_of(ipaddress.ip_network("10.244.0.0/16"))
        assert _get(cluster, "lease", name, "-n", "kube-node-lease")["spec"]["holderIdentity"] == name
    assert len(cidrs) == 3
    listed = cluster.pocketkube("node", "list", "--profile", cluster.profile).out
    assert all(f"{name}" in listed for name in nodes) and "simulated" in listed


def test_pods_run_get_ips_and_delete_gracefully(cluster: Cluster, nodes: list[str], ns: str) -> None:
    _apply(cluster, ns, *[_pod(f"web-{i}", node) for i, node in enumerate(nodes)])
    rows = cluster.wait_for(lambda: (r := _rows(cluster, ns)) and all(
        row[1:3] == ["1/1", "Running"] for row in r.values()) and len(r) == 3 and r)
    for i, node in enumerate(nodes):
        row = rows[f"web-{i}"]
        cidr = _get(cluster, "node", node)["spec"]["podCIDR"]
        assert ipaddress.ip_address(row[5]) in ipaddress.ip_network(cidr), row
        assert row[6] == node and row[3] == "0"
    events = cluster.kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name=web-0",
                             "-o", "custom-columns=REASON:.reason,FROM:.source.component,HOST:.source.host").out
    assert "Started" in events and "kubelet" in events and nodes[0] in events
    begin = time.monotonic()
    cluster.kubectl("delete", "pod", "web-0", "-n", ns)  # waits until the agent confirmed the deletion
    assert time.monotonic() - begin < 10
    assert "web-0" not in _rows(cluster, ns)
    killing = cluster.kubectl("get", "events", "-n", ns, "--field-selector", "reason=Killing").out
    assert "Stopping container app" in killing


def test_job_style_pod_completes(cluster: Cluster, nodes: list[str], ns: str) -> None:
    annotations = {"pocketkube.io/simulate-exit-after": "1s"}
    _apply(cluster, ns, _pod("job", nodes[1], annotations=annotations, spec={"restartPolicy": "Never"}),
           _pod("fail", nodes[1], annotations={**annotations, "pocketkube.io/simulate-exit-code": "2"},
                spec={"restartPolicy": "Never"}))
    rows = cluster.wait_for(lambda: (r := _rows(cluster, ns)) and r.get("job", [""] * 3)[2] == "Completed"
                            and r.get("fail", [""] * 3)[2] == "Error" and r)
    assert rows["job"][1] == "0/1" and rows["fail"][1] == "0/1"
    assert _get(cluster, "pod", "job", "-n", ns)["status"]["phase"] == "Succeeded"
    assert _get(cluster, "pod", "fail", "-n", ns)["status"]["phase"] == "Failed"


def test_stopped_heartbeat_makes_the_lease_stale(cluster: Cluster, nodes: list[str]) -> None:
    quiet, alive = nodes[2], nodes[0]
    cluster.pocketkube("node", "stop-heartbeat", quiet, "--profile", cluster.profile)
    try:
        stopped_at = _renew(cluster, quiet)
        # the live node renews within its 10 s interval; the silenced one does not
        cluster.wait_for(lambda: _renew(cluster, alive) > stopped_at, timeout=15, interval=0.25)
        assert _renew(cluster, quiet) == stopped_at
    finally:
        cluster.pocketkube("node", "resume-heartbeat", quiet, "--profile", cluster.profile)
    cluster.wait_for(lambda: _renew(cluster, quiet) > stopped_at, timeout=15, interval=0.25)


def test_remove_node(cluster: Cluster) -> None:
    cluster.pocketkube("node", "add", "--simulated", "--name-prefix", "gone-", "--profile", cluster.profile)
    cluster.pocketkube("node", "remove", "gone-01", "--profile", cluster.profile)
    assert cluster.kubectl("get", "node", "gone-01", check=False).returncode != 0
    cluster.wait_for(lambda: cluster.kubectl("get", "lease", "gone-01", "-n", "kube-node-lease",
                                             check=False).returncode != 0)
    bad = cluster.pocketkube("node", "remove", "no-such-node", "--profile", cluster.profile, check=False)
    assert bad.returncode != 0 and "not found" in bad.stderr
