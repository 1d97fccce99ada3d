"""The scheduler process in a real cluster, driven and observed with the real kubectl (issue 4 acceptance).

Each test creates its own Node objects (capacity, labels, taints; no kubelet
serves them, which is fine: binding is all the scheduler does) labelled with
the test's namespace, and pods that select that label, so nodes of other
tests or the node agent only ever appear as "didn't match Pod's node
affinity/selector". FailedScheduling messages are compared whole, with the
counts of the other nodes computed at run time. Afterwards the test's pods are
force-deleted (no kubelet would confirm their graceful deletion) and the nodes
removed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cluster import Cluster

from pocketkube.scheduler.testing import make_node, make_pod

GROUP = "pocketkube.test/group"
SELECTOR_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


@pytest.fixture
def nodes(cluster: Cluster, ns: str) -> Iterator[Callable[..., str]]:
    created: list[str] = []

    def add(name: str, **kw: Any) -> str:
        node_name = f"{ns}-{name}"
        labels = {GROUP: ns, **kw.pop("labels", {})}
        node = make_node(node_name, labels=labels, **kw)
        del node["metadata"]["uid"]
        cluster.kubectl("create", "-f", "-", input=json.dumps(node))
        created.append(node_name)
        return node_name

    yield add
    # no kubelet serves these nodes, so nobody would confirm a graceful deletion of their pods
    cluster.kubectl("delete", "pods", "--all", "-n", ns, "--grace-period=0", "--force", check=False)
    for name in created:
        cluster.kubectl("delete", "node", name, "--wait=false", check=False)


def create_pod(cluster: Cluster, ns: str, name: str, **kw: Any) -> None:
    kw["node_selector"] = {GROUP: ns, **kw.get("node_selector", {})}
    pod = make_pod(name, namespace=ns, **kw)
    del pod["metadata"]["uid"], pod["metadata"]["resourceVersion"], pod["status"], pod["spec"]["priority"]
    cluster.kubectl("create", "-f", "-", input=json.dumps(pod))


def get_pod(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    pod: dict[str, Any] = json.loads(cluster.kubectl("get", "pod", name, "-n", ns, "-o", "json").out)
    return pod


def node_of(cluster: Cluster, ns: str, name: str) -> str:
    return str(get_pod(cluster, ns, name)["spec"].get("nodeName") or "")


def wait_bound(cluster: Cluster, ns: str, name: str) -> str:
    return str(cluster.wait_for(lambda: node_of(cluster, ns, name), timeout=30))


def scheduled_condition(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    conds = get_pod(cluster, ns, name).get("status", {}).get("conditions") or []
    return next((c for c in conds if c.get("type") == "PodScheduled"), {})


def wait_unschedulable(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        c = scheduled_condition(cluster, ns, name)
        return c if c.get("status") == "False" and c.get("reason") == "Unschedulable" else None

    found: dict[str, Any] = cluster.wait_for(ready, timeout=30)
    return found


def node_count(cluster: Cluster) -> int:
    return len(json.loads(cluster.kubectl("get", "nodes", "-o", "json").out)["items"])


def histogram(total: int, **counts: int) -> str:
    """Upstream's "0/N nodes are available: a, b." part with reasons sorted as strings."""
    return ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items() if n))


def message(total: int, filters: dict[str, int], preemption: dict[str, int]) -> str:
    return (f"0/{total} nodes are available: {histogram(total, **filters)}. "
            f"preemption: 0/{total} nodes are available: {histogram(total, **preemption)}.")


def events_of(cluster: Cluster, ns: str, name: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}",
                          "-o", "json").out
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def test_pods_land_on_fitting_nodes_with_scheduled_events(cluster: Cluster, ns: str,
                                                          nodes: Callable[..., str]) -> None:
    small = nodes("small", cpu="2")
    large = nodes("large", cpu="8")
    create_pod(cluster, ns, "needs-four", cpu="4")
    create_pod(cluster, ns, "needs-one", cpu="1")
    assert wait_bound(cluster, ns, "needs-four") == large
    assert wait_bound(cluster, ns, "needs-one") in (small, large)
    assert scheduled_condition(cluster, ns, "needs-four")["status"] == "True"
    got = cluster.wait_for(lambda: [e for e in events_of(cluster, ns, "needs-four") if e["reason"] == "Scheduled"])
    assert got[0]["message"] == f"Successfully assigned {ns}/needs-four to {large}"
    assert got[0]["type"] == "Normal" and got[0]["source"]["component"] == "default-scheduler"


def test_too_big_pod_stays_pending_until_a_bigger_node_appears(cluster: Cluster, ns: str,
                                                               nodes: Callable[..., str]) -> None:
    nodes("a", cpu="2")
    nodes("b", cpu="2")
    create_pod(cluster, ns, "huge", cpu="100")
    cond = wait_unschedulable(cluster, ns, "huge")
    total = node_count(cluster)
    others = total - 2
    expected = message(total, {SELECTOR_MISMATCH: others, "Insufficient cpu": 2},
                       {NOT_HELPFUL: others, NO_VICTIMS: 2})
    assert cond["message"] == expected
    assert get_pod(cluster, ns, "huge")["status"]["phase"] == "Pending"
    failed = [e for e in events_of(cluster, ns, "huge") if e["reason"] == "FailedScheduling"]
    assert failed and failed[0]["type"] == "Warning" and failed[0]["message"] == expected
    described = cluster.kubectl("describe", "pod", "huge", "-n", ns).out
    events_table = described[described.index("Events:"):]
    assert "Warning  FailedScheduling" in events_table and "default-scheduler" in events_table
    assert "Insufficient cpu" in events_table

    big = nodes("big", cpu="128")
    assert wait_bound(cluster, ns, "huge") == big
    assert scheduled_condition(cluster, ns, "huge")["status"] == "True"


def test_node_selector_and_taints(cluster: Cluster, ns: str, nodes: Callable[..., str]) -> None:
    ssd = nodes("ssd", labels={"disk": "ssd"})
    nodes("hdd", labels={"disk": "hdd"})
    gpu = nodes("gpu", labels={"accel": "gpu"}, taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    create_pod(cluster, ns, "fast", node_selector={"disk": "ssd"})
    tolerate = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    create_pod(cluster, ns, "trainer", node_selector={"accel": "gpu"}, tolerations=tolerate)
    create_pod(cluster, ns, "intruder", node_selector={"accel": "gpu"})
    assert wait_bound(cluster, ns, "fast") == ssd
    assert wait_bound(cluster, ns, "trainer") == gpu
    cond = wait_unschedulable(cluster, ns, "intruder")
    total = node_count(cluster)
    # the taint filter runs before node affinity: the gpu node reports its taint, all others the selector
    assert cond["message"] == message(
        total, {SELECTOR_MISMATCH: total - 1, "node(s) had untolerated taint {dedicated: gpu}": 1},
        {NOT_HELPFUL: total})


def test_pod_anti_affinity_spreads_replicas(cluster: Cluster, ns: str, nodes: Callable[..., str]) -> None:
    first, second = nodes("one"), nodes("two")
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    for i in range(3):
        create_pod(cluster, ns, f"web-{i}", labels={"app": "web"}, affinity=anti)
    cluster.wait_for(lambda: sum(1 for i in range(3) if node_of(cluster, ns, f"web-{i}")) == 2, timeout=30)
    placed = {node_of(cluster, ns, f"web-{i}") for i in range(3)} - {""}
    assert placed == {first, second}
    pending = next(f"web-{i}" for i in range(3) if not node_of(cluster, ns, f"web-{i}"))
    cond = wait_unschedulable(cluster, ns, pending)
    total = node_count(cluster)
    assert cond["message"] == message(
        total, {SELECTOR_MISMATCH: total - 2, "node(s) didn't match pod anti-affinity rules": 2},
        {NOT_HELPFUL: total - 2, NO_VICTIMS: 2})
