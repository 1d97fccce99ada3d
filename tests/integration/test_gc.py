"""Garbage collection, node lifecycle and pod GC on a real cluster, driven by the real kubectl.

The garbage-collector tests use the shared cluster and build their owner chains by hand
(ConfigMaps owning ConfigMaps, a cluster-scoped owner), plus one real Deployment. The
node-lifecycle tests need short grace periods, so they run on a cluster of their own whose
controller-manager gets them through POCKETKUBE_CONTROLLER_MANAGER_FLAGS.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cluster import Cluster

Obj = dict[str, Any]
FLAGS_ENV = "POCKETKUBE_CONTROLLER_MANAGER_FLAGS"
LIFECYCLE_FLAGS = ("--node-monitor-grace-period=15s --node-monitor-period=1s "
                   "--pod-gc-period=1s --pod-gc-quarantine=3s")


def _get(cluster: Cluster, *args: str) -> Obj | None:
    res = cluster.kubectl("get", *args, "-o", "json", check=False)
    if res.returncode != 0:
        assert "NotFound" in res.stderr, res.stderr
        return None
    found: Obj = json.loads(res.out)
    return found


def _apply(cluster: Cluster, *objs: Obj) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def _cm(name: str, ns: str, *owners: Obj, finalizers: list[str] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": ns}
    if owners:
        meta["ownerReferences"] = list(owners)
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def _ref(obj: Obj, block: bool = True) -> Obj:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "blockOwnerDeletion": block}


def _make(cluster: Cluster, ns: str, name: str, *owners: Obj, finalizers: list[str] | None = None) -> Obj:
    _apply(cluster, _cm(name, ns, *owners, finalizers=finalizers))
    obj = _get(cluster, "configmap", name, "-n", ns)
    assert obj is not None
    return obj


def _names(cluster: Cluster, kind: str, ns: str, *selector: str) -> list[str]:
    out = cluster.kubectl("get", kind, "-n", ns, *selector, "-o", "name").out
    return sorted(line.split("/", 1)[1] for line in out.split() if "kube-root-ca.crt" not in line)


# ---------------------------------------------------------------------------- garbage collector
def test_background_delete_removes_the_dependent_tree(cluster: Cluster, ns: str) -> None:
    owner = _make(cluster, ns, "owner")
    child = _make(cluster, ns, "child", _ref(owner))
    _make(cluster, ns, "grandchild", _ref(child, block=False))
    _make(cluster, ns, "bystander")
    cluster.kubectl("delete", "configmap", "owner", "-n", ns)
    cluster.wait_for(lambda: _names(cluster, "configmaps", ns) == ["bystander"])


def test_foreground_keeps_the_owner_until_blocking_dependents_are_gone(cluster: Cluster, ns: str) -> None:
    owner = _make(cluster, ns, "owner")
    _make(cluster, ns, "held", _ref(owner), finalizers=["example.com/hold"])
    cluster.kubectl("delete", "configmap", "owner", "-n", ns, "--cascade=foreground", "--wait=false")

    def held_is_deleting() -> bool:
        held = _get(cluster, "configmap", "held", "-n", ns)
        return bool(held and held["metadata"].get("deletionTimestamp"))
    cluster.wait_for(held_is_deleting)
    time.sleep(1)
    shown = cluster.kubectl("get", "configmap", "owner", "-n", ns, "-o", "yaml").out
    assert "foregroundDeletion" in shown and "deletionTimestamp" in shown
    cluster.kubectl("patch", "configmap", "held", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    cluster.wait_for(lambda: _names(cluster, "configmaps", ns) == [])


def test_orphan_leaves_the_dependents_without_the_reference(cluster: Cluster, ns: str) -> None:
    owner = _make(cluster, ns, "owner")
    other = _make(cluster, ns, "other")
    _make(cluster, ns, "only-child", _ref(owner))
    _make(cluster, ns, "shared", _ref(owner), _ref(other, block=False))
    cluster.kubectl("delete", "configmap", "owner", "-n", ns, "--cascade=orphan")
    assert _names(cluster, "configmaps", ns) == ["only-child", "other", "shared"]
    only = _get(cluster, "configmap", "only-child", "-n", ns)
    shared = _get(cluster, "configmap", "shared", "-n", ns)
    assert only is not None and "ownerReferences" not in only["metadata"]
    assert shared is not None and [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["other"]


def test_references_to_owners_that_never_existed(cluster: Cluster, ns: str) -> None:
    owner = _make(cluster, ns, "owner")
    _apply(cluster, _cm("dangling", ns, {**_ref(owner), "name": "ghost", "uid": str(uuid.uuid4())}),
           _cm("uid-mismatch", ns, {**_ref(owner), "uid": str(uuid.uuid4())}), _cm("fine", ns, _ref(owner)))
    cluster.wait_for(lambda: _names(cluster, "configmaps", ns) == ["fine", "owner"])


def test_namespaced_dependents_of_a_cluster_scoped_owner(cluster: Cluster, ns: str) -> None:
    role = f"gc-owner-{ns}"
    cluster.kubectl("create", "clusterrole", role, "--verb=get", "--resource=pods")
    owner = _get(cluster, "clusterrole", role)
    assert owner is not None
    _make(cluster, ns, "owned-by-cluster", _ref(owner))
    time.sleep(1)
    assert _names(cluster, "configmaps", ns) == ["owned-by-cluster"]
    cluster.kubectl("delete", "clusterrole", role)
    cluster.wait_for(lambda: _names(cluster, "configmaps", ns) == [])


def test_owner_in_another_namespace_is_reported(cluster: Cluster, ns: str) -> None:
    other = cluster.namespace("gc-other")
    try:
        owner = _make(cluster, other, "owner")
        _apply(cluster, _cm("confused", ns, _ref(owner)))
        cluster.wait_for(lambda: _names(cluster, "configmaps", ns) == [])

        def reported() -> list[Obj]:
            events = json.loads(cluster.kubectl("get", "events", "-n", ns, "-o", "json").out)["items"]
            return [e for e in events if e["reason"] == "OwnerRefInvalidNamespace"]
        found = cluster.wait_for(reported)
        assert found[0]["type"] == "Warning" and found[0]["involvedObject"]["name"] == "confused"
        assert found[0]["message"] == (f"ownerRef [v1/ConfigMap, namespace: {ns}, name: owner, uid: "
                                       f"{owner['metadata']['uid']}] does not exist in namespace \"{ns}\"")
        assert _names(cluster, "configmaps", other) == ["owner"]
    finally:
        cluster.kubectl("delete", "namespace", other, "--wait=false", check=False)


def _deployment(name: str) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}


def test_deleting_a_deployment_removes_its_replicasets_and_pods(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(_deployment("web")))
    cluster.wait_for(lambda: len(_names(cluster, "pods", ns, "-l", "app=web")) == 2, timeout=30)
    assert len(_names(cluster, "replicasets", ns)) == 1
    cluster.kubectl("delete", "deployment", "web", "-n", ns)
    cluster.wait_for(lambda: _names(cluster, "replicasets", ns) == [] and
                     _names(cluster, "pods", ns, "-l", "app=web") == [], timeout=30)


def test_orphaning_a_deployment_keeps_its_replicaset_and_pods(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(_deployment("kept")))
    cluster.wait_for(lambda: len(_names(cluster, "pods", ns, "-l", "app=kept")) == 2, timeout=30)
    cluster.kubectl("delete", "deployment", "kept", "-n", ns, "--cascade=orphan")
    rs = json.loads(cluster.kubectl("get", "replicasets", "-n", ns, "-o", "json").out)["items"]
    assert len(rs) == 1 and "ownerReferences" not in rs[0]["metadata"]
    time.sleep(2)
    assert len(_names(cluster, "pods", ns, "-l", "app=kept")) == 2


def test_deleting_a_namespace_leaves_nothing_behind(cluster: Cluster) -> None:
    ns = cluster.namespace("gc-ns")
    owner = _make(cluster, ns, "owner")
    _make(cluster, ns, "child", _ref(owner))
    _make(cluster, ns, "free-child", _ref(owner, block=False))
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(_deployment("app")))
    cluster.kubectl("delete", "configmap", "owner", "-n", ns, "--cascade=foreground", "--wait=false")
    cluster.kubectl("delete", "namespace", ns, timeout=90)
    assert cluster.kubectl("get", "namespace", ns, check=False).returncode != 0
    for kind in ("configmaps", "pods", "replicasets", "deployments"):
        assert cluster.kubectl("get", kind, "-n", ns, "-o", "name").out.strip() == ""


# ---------------------------------------------------------------------------- node lifecycle
@pytest.fixture(scope="module")
def fast_cluster() -> Iterator[Cluster]:
    """A cluster whose controller-manager declares nodes Unknown after 15 s of silence."""
    c = Cluster(profile="itest-lifecycle")
    c.env[FLAGS_ENV] = LIFECYCLE_FLAGS
    try:
        c.start()
        yield c
    finally:
        c.close()


def _now(micro: bool = False) -> str:
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.now(UTC).strftime(fmt)


def _silent_node(name: str) -> list[Obj]:
    """A Node and its Lease as a kubelet would have left them, with no kubelet behind them."""
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
             "lastHeartbeatTime": _now(), "lastTransitionTime": _now()}
    return [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "status": {"conditions": [ready]}},
            {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": name, "namespace": "kube-node-lease"},
             "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": _now(micro=True)}}]


def _victim(name: str, node: str, seconds: int) -> Obj:
    toleration = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                  "tolerationSeconds": seconds}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "tolerations": [toleration], "containers": [{"name": "c", "image": "x"}]}}


def test_silent_node_turns_unknown_is_tainted_and_its_pods_evicted(fast_cluster: Cluster) -> None:
    c, node = fast_cluster, f"silent-{uuid.uuid4().hex[:6]}"
    ns = c.namespace("nlc")
    _apply(c, *_silent_node(node))
    c.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(_victim("victim", node, 5)))
    try:
        def unknown() -> Obj | None:
            found = _get(c, "node", node)
            assert found is not None
            ready = next(x for x in found["status"]["conditions"] if x["type"] == "Ready")
            return found if ready["status"] == "Unknown" else None
        found = c.wait_for(unknown, timeout=40, interval=0.25)
        ready = next(x for x in found["status"]["conditions"] if x["type"] == "Ready")
        assert (ready["reason"], ready["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
        assert "NotReady" in c.kubectl("get", "node", node, "--no-headers").out

        def taints() -> set[tuple[str, str]]:
            got = _get(c, "node", node) or {}
            return {(t["key"], t["effect"]) for t in (got.get("spec") or {}).get("taints") or []}
        c.wait_for(lambda: taints() == {("node.kubernetes.io/unreachable", "NoExecute"),
                                        ("node.kubernetes.io/unreachable", "NoSchedule")}, timeout=10)
        tainted_at = time.monotonic()

        def deleting() -> bool:
            pod = _get(c, "pod", "victim", "-n", ns)
            return bool(pod and pod["metadata"].get("deletionTimestamp"))
        c.wait_for(deleting, timeout=20, interval=0.2)
        assert 3.5 <= time.monotonic() - tainted_at <= 9
        pod = _get(c, "pod", "victim", "-n", ns)
        assert pod is not None
        assert any(x["type"] == "DisruptionTarget" and x["reason"] == "DeletionByTaintManager"
                   for x in pod["status"]["conditions"])
        events = c.kubectl("get", "events", "-n", ns, "-o", "json").out
        assert "Marking for deletion Pod " + f"{ns}/victim" in events

        # pod GC: once the node object is gone, its pods are force-deleted after the quarantine
        c.kubectl("delete", "node", node)
        c.wait_for(lambda: _get(c, "pod", "victim", "-n", ns) is None, timeout=20)
    finally:
        c.kubectl("delete", "node", node, "--ignore-not-found", check=False)
        c.kubectl("delete", "lease", node, "-n", "kube-node-lease", "--ignore-not-found", check=False)
        c.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_stopped_simulated_node_has_its_pods_replaced_elsewhere(fast_cluster: Cluster) -> None:
    c = fast_cluster
    prefix = f"ev{uuid.uuid4().hex[:4]}-"
    names = [f"{prefix}0{i}" for i in (1, 2, 3)]
    c.pocketkube("node", "add", "--simulated", "--count", "3", "--name-prefix", prefix, "--profile", c.profile)
    ns = c.namespace("nlc")
    silenced = ""
    try:
        dep = _deployment("app")
        spec = dep["spec"]["template"]["spec"]
        spec["nodeSelector"] = {"gc-test": prefix.rstrip("-")}
        spec["tolerations"] = [{"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 3}
                               for k in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")]
        spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "app"}}}]}}
        for n in names:
            c.kubectl("label", "node", n, f"gc-test={prefix.rstrip('-')}")
        c.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(dep))

        def placement() -> list[str]:
            pods = json.loads(c.kubectl("get", "pods", "-n", ns, "-o", "json").out)["items"]
            return sorted(p["spec"].get("nodeName", "") for p in pods
                          if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp"))
        first = c.wait_for(lambda: (lambda got: got if len(got) == 2 else None)(placement()), timeout=30)
        silenced = first[1]
        free = next(n for n in names if n not in first)
        c.pocketkube("node", "stop-heartbeat", silenced, "--profile", c.profile)
        c.wait_for(lambda: placement() == sorted([first[0], free]), timeout=60, interval=0.5)
        assert "NotReady" in c.kubectl("get", "node", silenced, "--no-headers").out
    finally:
        if silenced:
            c.pocketkube("node", "resume-heartbeat", silenced, "--profile", c.profile, check=False)
        c.pocketkube("node", "remove", *names, "--profile", c.profile, check=False)
        c.kubectl("delete", "namespace", ns, "--wait=false", check=False)
