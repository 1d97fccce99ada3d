"""core/v1 defaults applied through the structural walker, compared with kube-apiserver v1.32 output."""

from __future__ import annotations

import base64
from typing import Any

import pytest

import pocketkube.api.defaults.core_v1  # noqa: F401  (registers the defaulters)
from pocketkube.api import structural
from pocketkube.api.defaults.core_v1 import image_tag

V1 = "io.k8s.api.core.v1."


def defaulted(obj: dict[str, Any], definition: str) -> dict[str, Any]:
    structural.apply_defaults(obj, definition)
    return obj


def _field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


TUTORIAL = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "pod-info-deployment", "namespace": "development", "labels": {"app": "pod-info"}},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "pod-info"}}, "template": {
        "metadata": {"labels": {"app": "pod-info"}},
        "spec": {"containers": [{
            "name": "pod-info-container", "image": "pod-info-app", "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 3000}],
            "env": [_field_env("POD_NAME", "metadata.name"), _field_env("POD_NAMESPACE", "metadata.namespace"),
                    _field_env("POD_ID", "status.podIP")]}]}}},
}


def test_tutorial_deployment_template_matches_upstream() -> None:
    obj = defaulted(TUTORIAL, "io.k8s.api.apps.v1.Deployment")
    env = [{"name": n, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": p}}}
           for n, p in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"),
                        ("POD_ID", "status.podIP"))]
    assert obj["spec"]["template"]["spec"] == {
        "containers": [{
            "name": "pod-info-container", "image": "pod-info-app", "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 3000, "protocol": "TCP"}], "env": env, "resources": {},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
        "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
        "securityContext": {}, "terminationGracePeriodSeconds": 30,
    }
    assert "enableServiceLinks" not in obj["spec"]["template"]["spec"]  # Pod-only default


@pytest.mark.parametrize(("image", "tag"), [
    ("nginx", "latest"), ("nginx:latest", "latest"), ("nginx:1.27", "1.27"), ("busybox:latest", "latest"),
    ("registry.local:5000/team/app", "latest"), ("localhost:5000/app:v1", "v1"),
    ("nginx@sha256:" + "a" * 64, ""), ("Nginx", ""), ("", ""),
])
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag


def test_pull_policy_from_tag() -> None:
    spec = defaulted({"containers": [{"name": "a", "image": "busybox:latest"}, {"name": "b", "image": "nginx"},
                                     {"name": "c", "image": "nginx:1.2"}, {"name": "d", "image": "x",
                                                                          "imagePullPolicy": "Never"}]},
                     V1 + "PodSpec")
    assert [c["imagePullPolicy"] for c in spec["containers"]] == ["Always", "Always", "IfNotPresent", "Never"]


def test_pod_defaults() -> None:
    pod = defaulted({"metadata": {"name": "p"}, "spec": {
        "hostNetwork": True, "serviceAccount": "builder",
        "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 8080}],
                        "resources": {"limits": {"cpu": "1n", "memory": "1Gi"}, "requests": {"memory": "512Mi"}},
                        "readinessProbe": {"grpc": {"port": 9000}}}]}}, V1 + "Pod")
    spec = pod["spec"]
    c = spec["containers"][0]
    assert spec["enableServiceLinks"] is True
    assert c["ports"] == [{"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"}]
    assert c["resources"] == {"limits": {"cpu": "1m", "memory": "1Gi"}, "requests": {"memory": "512Mi", "cpu": "1m"}}
    assert c["readinessProbe"] == {"grpc": {"port": 9000, "service": ""}, "timeoutSeconds": 1, "periodSeconds": 10,
                                   "successThreshold": 1, "failureThreshold": 3}
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "builder"


def test_volume_defaults() -> None:
    spec = defaulted({"containers": [], "volumes": [
        {"name": "scratch"}, {"name": "s", "secret": {"secretName": "x"}}, {"name": "h", "hostPath": {"path": "/d"}},
        {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}},
                                                {"downwardAPI": {"items": [{"path": "n", "fieldRef": {
                                                    "fieldPath": "metadata.name"}}]}}]}},
        {"name": "c", "configMap": {"name": "cm", "defaultMode": 256}}]}, V1 + "PodSpec")
    v = spec["volumes"]
    assert v[0] == {"name": "scratch", "emptyDir": {}}
    assert v[1]["secret"]["defaultMode"] == 420
    assert v[2]["hostPath"] == {"path": "/d", "type": ""}
    assert v[3]["projected"]["defaultMode"] == 420
    assert v[3]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600
    assert v[3]["projected"]["sources"][1]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
    assert v[4]["configMap"]["defaultMode"] == 256


def test_service_defaults_by_type() -> None:
    cip = defaulted({"spec": {"ports": [{"port": 80}]}}, V1 + "Service")["spec"]
    assert cip == {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}], "sessionAffinity": "None",
                   "type": "ClusterIP", "internalTrafficPolicy": "Cluster"}
    np = defaulted({"spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]}}, V1 + "Service")
    assert np["spec"]["externalTrafficPolicy"] == "Cluster"
    assert np["spec"]["ports"][0]["targetPort"] == "http"
    lb = defaulted({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
                    "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}, V1 + "Service")
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    assert lb["status"]["loadBalancer"]["ingress"] == [{"ip": "1.2.3.4", "ipMode": "VIP"}]
    ext = defaulted({"spec": {"type": "ExternalName", "externalName": "x.example"}}, V1 + "Service")["spec"]
    assert "internalTrafficPolicy" not in ext and "externalTrafficPolicy" not in ext
    aff = defaulted({"spec": {"sessionAffinity": "ClientIP"}}, V1 + "Service")["spec"]
    assert aff["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_secret_namespace_and_storage_defaults() -> None:
    secret = defaulted({"metadata": {"name": "s"}, "data": {"a": "eA=="}, "stringData": {"b": "hi"}}, V1 + "Secret")
    assert secret == {"metadata": {"name": "s"}, "type": "Opaque",
                      "data": {"a": "eA==", "b": base64.b64encode(b"hi").decode()}}
    ns = defaulted({"metadata": {"name": "dev"}}, V1 + "Namespace")
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "dev"}
    assert ns["status"] == {"phase": "Active"}
    pvc = defaulted({"spec": {"accessModes": ["ReadWriteOnce"]}}, V1 + "PersistentVolumeClaim")
    assert pvc == {"spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem", "resources": {}},
                   "status": {"phase": "Pending"}}
    pv = defaulted({"spec": {"capacity": {"storage": "1.5Gi"}, "hostPath": {"path": "/d"}}}, V1 + "PersistentVolume")
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["capacity"] == {"storage": "1536Mi"}
    assert pv["status"] == {"phase": "Pending"}


def test_node_rc_limitrange_endpoints_defaults() -> None:
    node = defaulted({"spec": {"podCIDR": "10.244.0.0/24"}, "status": {"capacity": {"cpu": "2", "pods": "110"}}},
                     V1 + "Node")
    assert node["spec"]["podCIDRs"] == ["10.244.0.0/24"]
    assert node["status"]["allocatable"] == {"cpu": "2", "pods": "110"}
    rc = defaulted({"metadata": {}, "spec": {"template": {"metadata": {"labels": {"app": "x"}}, "spec": {
        "containers": []}}}}, V1 + "ReplicationController")
    assert rc["spec"]["selector"] == {"app": "x"} and rc["metadata"]["labels"] == {"app": "x"}
    assert rc["spec"]["replicas"] == 1
    lr = defaulted({"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "1Mi"}}]}},
                   V1 + "LimitRange")
    item = lr["spec"]["limits"][0]
    assert item["default"] == {"cpu": "2"}
    assert item["defaultRequest"] == {"cpu": "2", "memory": "1Mi"}
    ep = defaulted({"subsets": [{"ports": [{"port": 80}]}]}, V1 + "Endpoints")
    assert ep["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
