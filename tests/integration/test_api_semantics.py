"""API semantics through kubectl and the Python client: tables, allocation, finalizers, subresources."""

from __future__ import annotations

import json

import pytest
from cluster import Cluster
from kubernetes import client
from kubernetes.client.rest import ApiException


def test_pod_tables_and_wide_columns(cluster: Cluster, ns: str) -> None:
    cluster.wait_for(lambda: cluster.kubectl("get", "sa", "default", "-n", ns, check=False).returncode == 0)
    # A scheduler nobody runs keeps the pod Pending, so the unscheduled columns can be checked.
    out = cluster.kubectl("run", "web", "--image=nginx", "-n", ns, "--overrides",
                          '{"spec":{"schedulerName":"nobody"}}').out
    assert out.strip() == "pod/web created"
    out = cluster.kubectl("get", "pods", "-n", ns, "-o", "wide").out.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                              "READINESS", "GATES"]
    assert out[1].split()[:4] == ["web", "0/1", "Pending", "0"]
    assert out[1].split()[5:] == ["<none>", "<none>", "<none>", "<none>"]
    pod = json.loads(cluster.kubectl("get", "pod", "web", "-n", ns, "-o", "json").out)
    assert pod["spec"]["serviceAccountName"] == "default"
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert any(v["name"].startswith("kube-api-access-") for v in pod["spec"]["volumes"])
    everything = cluster.kubectl("get", "all", "-n", ns).out
    assert "pod/web" in everything


def test_service_allocation_conflicts(cluster: Cluster, ns: str) -> None:
    k = cluster.kubectl
    k("create", "service", "nodeport", "np1", "--tcp=80:80", "--node-port=30555", "-n", ns)
    svc = json.loads(k("get", "svc", "np1", "-n", ns, "-o", "json").out)
    assert svc["spec"]["ports"][0]["nodePort"] == 30555
    assert svc["spec"]["clusterIPs"] == [svc["spec"]["clusterIP"]]
    dup = k("create", "service", "nodeport", "np2", "--tcp=80:80", "--node-port=30555", "-n", ns, check=False)
    assert dup.returncode == 1 and "provided port is already allocated" in dup.stderr
    taken = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ip2", "namespace": ns},
             "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 80}]}}
    clash = k("create", "-f", "-", input=json.dumps(taken), check=False)
    assert clash.returncode == 1 and "provided IP is already allocated" in clash.stderr
    k("delete", "svc", "np1", "-n", ns)
    again = k("create", "service", "nodeport", "np3", "--tcp=80:80", "--node-port=30555", "-n", ns)
    assert again.out.strip() == "service/np3 created"


def test_finalizers_hold_deletion(cluster: Cluster, ns: str) -> None:
    k = cluster.kubectl
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "held", "namespace": ns, "finalizers": ["example.com/hold"]}}
    k("create", "-f", "-", input=json.dumps(obj))
    k("delete", "cm", "held", "-n", ns, "--wait=false")
    held = json.loads(k("get", "cm", "held", "-n", ns, "-o", "json").out)
    assert held["metadata"]["deletionTimestamp"] and held["metadata"]["deletionGracePeriodSeconds"] == 0
    k("patch", "cm", "held", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    gone = k("get", "cm", "held", "-n", ns, check=False)
    assert gone.returncode == 1 and "NotFound" in gone.stderr


def test_status_subresource_and_generation(cluster: Cluster, ns: str) -> None:
    # Ingress: a kind with a status subresource that no controller of ours writes.
    net = client.NetworkingV1Api(cluster.api_client())
    net.create_namespaced_ingress(ns, {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "st"},
        "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}})
    lb = {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}
    patched = net.patch_namespaced_ingress_status("st", ns, {"status": lb, "spec": {"ingressClassName": "x"}})
    assert patched.status.load_balancer.ingress[0].ip == "192.0.2.10"
    assert patched.spec.ingress_class_name is None and patched.metadata.generation == 1
    net.patch_namespaced_ingress("st", ns, {"spec": {"ingressClassName": "nginx"}})
    ing = net.read_namespaced_ingress("st", ns)
    assert ing.metadata.generation == 2 and ing.status.load_balancer.ingress[0].ip == "192.0.2.10"
    net.patch_namespaced_ingress("st", ns, {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.99"}]}}})
    assert net.read_namespaced_ingress("st", ns).status.load_balancer.ingress[0].ip == "192.0.2.10"
    rows = cluster.kubectl("get", "ingress", "st", "-n", ns).out.splitlines()
    assert rows[0].split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert rows[1].split()[:5] == ["st", "nginx", "*", "192.0.2.10", "80"]


def test_events_both_apis_and_autoscale(cluster: Cluster, ns: str) -> None:
    core = client.CoreV1Api(cluster.api_client())
    core.create_namespaced_event(ns, {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns}, "reason": "Tested",
        "message": "hello", "type": "Normal", "source": {"component": "tester"},
        "eventTime": "2026-11-22T01:00:00.123456Z", "action": "Testing", "reportingComponent": "tester",
        "reportingInstance": "tester-1"})
    events_v1 = client.EventsV1Api(cluster.api_client())
    ev = events_v1.read_namespaced_event("e1", ns)
    assert ev.note == "hello" and ev.regarding.name == "p" and ev.deprecated_source.component == "tester"
    events_v1.patch_namespaced_event("e1", ns, {"note": "patched through events.k8s.io"})
    assert core.read_namespaced_event("e1", ns).message == "patched through events.k8s.io"
    table = cluster.kubectl("get", "events", "-n", ns).out
    assert "Tested" in table and "pod/p" in table
    cluster.kubectl("create", "deployment", "scaled", "--image=nginx", "-n", ns)
    out = cluster.kubectl("autoscale", "deployment", "scaled", "--min=2", "--max=5", "--cpu-percent=70", "-n", ns)
    assert out.out.strip() == "horizontalpodautoscaler.autoscaling/scaled autoscaled"
    hpa = cluster.kubectl("get", "hpa", "scaled", "-n", ns).out.splitlines()
    assert hpa[0].split()[:3] == ["NAME", "REFERENCE", "TARGETS"]
    assert hpa[1].split()[1] == "Deployment/scaled"
    v1 = client.AutoscalingV1Api(cluster.api_client()).read_namespaced_horizontal_pod_autoscaler("scaled", ns)
    assert v1.spec.target_cpu_utilization_percentage == 70 and v1.spec.min_replicas == 2


def test_delete_collection_and_exact_list(cluster: Cluster, ns: str) -> None:
    core = client.CoreV1Api(cluster.api_client())
    for i in range(4):
        core.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=f"dc{i}", labels={"group": "x" if i % 2 else "y"})))
    snapshot = core.list_namespaced_config_map(ns, label_selector="group")
    core.delete_collection_namespaced_config_map(ns, label_selector="group=x")
    left = sorted(c.metadata.name for c in core.list_namespaced_config_map(ns, label_selector="group").items)
    assert left == ["dc0", "dc2"]
    old = core.list_namespaced_config_map(ns, label_selector="group", resource_version=snapshot.metadata.
                                          resource_version, resource_version_match="Exact")
    assert sorted(c.metadata.name for c in old.items) == ["dc0", "dc1", "dc2", "dc3"]
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, resource_version_match="Exact")
    assert err.value.status == 400
