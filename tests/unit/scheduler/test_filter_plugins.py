"""Filter plugins: pure cores with the exact upstream reason strings and status codes."""

from __future__ import annotations

from typing import Any

import pytest

from pocketkube.scheduler import framework as fw
from pocketkube.scheduler.plugins import nodeaffinity, nodename, nodeports, nodeunschedulable, tainttoleration
from pocketkube.scheduler.plugins.noderesources import fit_status, insufficient_resources
from pocketkube.scheduler.podinfo import PodInfo
from pocketkube.scheduler.resources import Resource, pod_requests
from pocketkube.scheduler.testing import make_node, make_pod, node_info

U = fw.Code.UNSCHEDULABLE
UU = fw.Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def status_tuple(s: fw.Status | None) -> tuple[Any, ...] | None:
    return None if s is None else (s.code, s.reasons)


# ---------------------------------------------------------------------------- NodeResourcesFit

@pytest.mark.parametrize(("pod_kw", "existing", "node_kw", "want"), [
    ({"cpu": "1", "memory": "1Gi"}, [], {}, None),
    ({"cpu": "5"}, [], {}, (U, ("Insufficient cpu",))),
    ({"cpu": "3"}, [{"cpu": "2"}], {}, (U, ("Insufficient cpu",))),
    ({"cpu": "2"}, [{"cpu": "2"}], {}, None),
    ({"memory": "9Gi"}, [], {}, (U, ("Insufficient memory",))),
    ({"cpu": "5", "memory": "9Gi"}, [], {}, (U, ("Insufficient cpu", "Insufficient memory"))),
    ({}, [{}], {"pods": "1"}, (U, ("Too many pods",))),
    ({"cpu": "5"}, [{}], {"pods": "1"}, (U, ("Too many pods", "Insufficient cpu"))),
    ({}, [{"cpu": "4"}], {}, None),  # a request-less pod fits a full node
])
def test_node_resources_fit(pod_kw: dict[str, str], existing: list[dict[str, str]], node_kw: dict[str, str],
                            want: tuple[Any, ...] | None) -> None:
    ni = node_info(make_node("n1", **node_kw), *(make_pod(f"e{i}", **kw) for i, kw in enumerate(existing)))
    assert status_tuple(fit_status(PodInfo.of(make_pod("p", **pod_kw)).requests, ni)) == want


def test_extended_resource_reason() -> None:
    ni = node_info(make_node("n1", extra={"example.com/gpu": "1"}))
    pod = make_pod("p")
    pod["spec"]["containers"][0]["resources"] = {"requests": {"example.com/gpu": "2"}}
    assert [r.reason for r in insufficient_resources(PodInfo.of(pod).requests, ni)] == ["Insufficient example.com/gpu"]


def test_pod_requests_init_containers_sidecars_and_overhead() -> None:
    spec = make_pod("p", cpu="100m", memory="100Mi", overhead={"cpu": "10m"},
                    init_containers=[
                        {"name": "i1", "resources": {"requests": {"cpu": "500m"}}},
                        {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "200m",
                                                                                                "memory": "50Mi"}}},
                        {"name": "i2", "resources": {"requests": {"cpu": "400m"}}},
                    ])["spec"]
    r = pod_requests(spec)
    # regular 100m + sidecar 200m = 300m; init max(500m, 200m, 400m + 200m) = 600m; + overhead 10m
    assert r.milli_cpu == 610
    assert r.memory == 150 * 1024 * 1024
    nz = pod_requests(make_pod("q")["spec"], non_zero=True)
    assert (nz.milli_cpu, nz.memory) == (100, 200 * 1024 * 1024)
    assert pod_requests(make_pod("q")["spec"]) == Resource()


# ---------------------------------------------------------------------------- NodeName / NodeUnschedulable

def test_node_name() -> None:
    ni = node_info(make_node("n1"))
    assert nodename.fits(PodInfo.of(make_pod("p")), ni)
    pod = make_pod("p")
    pod["spec"]["nodeName"] = "n2"
    plugin = nodename.NodeName({}, None)
    assert status_tuple(plugin.filter(fw.CycleState(), PodInfo.of(pod), ni)) == (
        UU, ("node(s) didn't match the requested node name",))


def test_node_unschedulable() -> None:
    cordoned = node_info(make_node("n1", unschedulable=True))
    assert status_tuple(nodeunschedulable.filter_status(PodInfo.of(make_pod("p")), cordoned)) == (
        UU, ("node(s) were unschedulable",))
    tolerant = make_pod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                           "effect": "NoSchedule"}])
    assert nodeunschedulable.filter_status(PodInfo.of(tolerant), cordoned) is None
    assert nodeunschedulable.filter_status(PodInfo.of(make_pod("p")), node_info(make_node("n2"))) is None


# ---------------------------------------------------------------------------- TaintToleration

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


@pytest.mark.parametrize(("taints", "tolerations", "want"), [
    ([CP_TAINT], [], "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"),
    ([{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}], [],
     "node(s) had untolerated taint {dedicated: gpu}"),
    ([{"key": "k", "value": "v", "effect": "PreferNoSchedule"}], [], None),
    ([CP_TAINT], [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}], None),
    ([{"key": "k", "value": "v", "effect": "NoSchedule"}], [{"key": "k", "value": "v"}], None),
    ([{"key": "k", "value": "v", "effect": "NoSchedule"}], [{"key": "k", "value": "w"}],
     "node(s) had untolerated taint {k: v}"),
    ([{"key": "k", "value": "v", "effect": "NoSchedule"}], [{"key": "k", "value": "v", "effect": "NoExecute"}],
     "node(s) had untolerated taint {k: v}"),
    ([{"key": "k", "value": "v", "effect": "NoSchedule"}], [{"operator": "Exists"}], None),
    ([{"key": "a", "effect": "NoSchedule"}, {"key": "b", "effect": "NoSchedule"}],
     [{"key": "a", "operator": "Exists"}], "node(s) had untolerated taint {b: }"),
])
def test_taint_toleration_filter(taints: list[dict[str, str]], tolerations: list[dict[str, str]],
                                 want: str | None) -> None:
    s = tainttoleration.filter_status(PodInfo.of(make_pod("p", tolerations=tolerations)),
                                      node_info(make_node("n", taints=taints)))
    assert status_tuple(s) == (None if want is None else (UU, (want,)))


# ---------------------------------------------------------------------------- NodeAffinity

def _affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


@pytest.mark.parametrize(("pod_kw", "labels", "fits"), [
    ({"node_selector": {"disk": "ssd"}}, {"disk": "ssd"}, True),
    ({"node_selector": {"disk": "ssd"}}, {"disk": "hdd"}, False),
    ({"node_selector": {"disk": "ssd"}}, {}, False),
    ({"affinity": _affinity({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]})},
     {"zone": "b"}, True),
    ({"affinity": _affinity({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]})},
     {}, True),
    ({"affinity": _affinity({"matchExpressions": [{"key": "zone", "operator": "Exists"}]})}, {}, False),
    ({"affinity": _affinity({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]})}, {}, True),
    ({"affinity": _affinity({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["8"]}]})},
     {"cores": "16"}, True),
    ({"affinity": _affinity({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["8"]}]})},
     {"cores": "16"}, False),
    ({"affinity": _affinity({"matchExpressions": [{"key": "a", "operator": "Exists"}]},
                            {"matchExpressions": [{"key": "b", "operator": "Exists"}]})}, {"b": "1"}, True),
    ({"affinity": _affinity({})}, {"b": "1"}, False),  # an empty term matches nothing
    ({"affinity": _affinity({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]})},
     {}, True),
    ({"affinity": _affinity({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["x"]}]})},
     {}, False),
])
def test_node_affinity_filter(pod_kw: dict[str, Any], labels: dict[str, str], fits: bool) -> None:
    plugin = nodeaffinity.NodeAffinity({}, None)
    state = fw.CycleState()
    pod = PodInfo.of(make_pod("p", **pod_kw))
    ni = node_info(make_node("n", labels=labels))
    _, s = plugin.pre_filter(state, pod, [ni])
    assert s is None or s.code != fw.Code.SKIP
    got = plugin.filter(state, pod, ni)
    assert status_tuple(got) == (None if fits else (UU, ("node(s) didn't match Pod's node affinity/selector",)))


def test_node_affinity_prefilter() -> None:
    plugin = nodeaffinity.NodeAffinity({}, None)
    state = fw.CycleState()
    assert plugin.pre_filter(state, PodInfo.of(make_pod("p")), [])[1] is fw.SKIP
    pinned = make_pod("p", affinity=_affinity({"matchFields": [{"key": "metadata.name", "operator": "In",
                                                                 "values": ["n1", "n2"]}]}))
    res, s = plugin.pre_filter(state, PodInfo.of(pinned), [])
    assert s is None and res is not None and res.node_names == frozenset({"n1", "n2"})
    conflict = make_pod("p", affinity=_affinity({"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["n1"]},
        {"key": "metadata.name", "operator": "In", "values": ["n2"]}]}))
    res, s = plugin.pre_filter(state, PodInfo.of(conflict), [])
    assert status_tuple(s) == (UU, ("pod affinity terms conflict",))


# ---------------------------------------------------------------------------- NodePorts

@pytest.mark.parametrize(("used", "wanted", "conflict"), [
    ([("0.0.0.0", "TCP", 80)], ("0.0.0.0", "TCP", 80), True),
    ([("0.0.0.0", "TCP", 80)], ("0.0.0.0", "UDP", 80), False),
    ([("10.0.0.1", "TCP", 80)], ("10.0.0.2", "TCP", 80), False),
    ([("10.0.0.1", "TCP", 80)], ("0.0.0.0", "TCP", 80), True),
    ([("0.0.0.0", "TCP", 80)], ("10.0.0.2", "TCP", 80), True),
    ([("0.0.0.0", "TCP", 80)], ("0.0.0.0", "TCP", 81), False),
])
def test_node_ports(used: list[tuple[str, str, int]], wanted: tuple[str, str, int], conflict: bool) -> None:
    ni = node_info(make_node("n"))
    for ip, proto, port in used:
        ni.used_ports.add(ip, proto, port)
    assert nodeports.conflicts([wanted], ni) is conflict


def test_node_ports_plugin() -> None:
    plugin = nodeports.NodePorts({}, None)
    state = fw.CycleState()
    assert plugin.pre_filter(state, PodInfo.of(make_pod("p")), [])[1] is fw.SKIP
    ni = node_info(make_node("n"), make_pod("e", host_ports=[8080]))
    s = plugin.filter(state, PodInfo.of(make_pod("p", host_ports=[8080])), ni)
    assert status_tuple(s) == (U, ("node(s) didn't have free ports for the requested pod ports",))
