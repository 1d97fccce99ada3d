"""The tutorial's steps, verbatim, through the real kubectl (issue 2 acceptance)."""

from __future__ import annotations

import re
from pathlib import Path

from cluster import Cluster

TUTORIAL = Path(__file__).resolve().parent.parent / "fixtures" / "tutorial"


def header(text: str) -> list[str]:
    return text.splitlines()[0].split()


def rows(text: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in text.splitlines()[1:] if line.strip()}


def test_namespace_steps(cluster: Cluster) -> None:
    ns = cluster.kubectl("get", "namespaces").out
    assert header(ns) == ["NAME", "STATUS", "AGE"]
    for name in ("default", "kube-node-lease", "kube-public", "kube-system"):
        assert rows(ns)[name][1] == "Active"

    assert cluster.kubectl("apply", "-f", str(TUTORIAL / "namespace.yaml")).out.strip() == \
        "namespace/development created"
    assert cluster.kubectl("apply", "-f", str(TUTORIAL / "namespace.yaml")).out.strip() == \
        "namespace/development unchanged"
    out = cluster.kubectl("apply", "-f", str(TUTORIAL / "namespaces.yaml")).out.splitlines()
    assert out == ["namespace/development unchanged", "namespace/production created"]
    listing = rows(cluster.kubectl("get", "namespaces").out)
    assert listing["development"][1] == "Active" and listing["production"][1] == "Active"
    assert re.fullmatch(r"\d+s", listing["production"][2])

    # Content inside a namespace goes with it.
    cluster.kubectl("apply", "-f", str(TUTORIAL / "deployment.yaml"))
    out = cluster.kubectl("delete", "-f", str(TUTORIAL / "namespaces.yaml"), timeout=60).out.splitlines()
    assert out == ['namespace "development" deleted', 'namespace "production" deleted']
    listing = rows(cluster.kubectl("get", "namespaces").out)
    assert "development" not in listing and "production" not in listing
    gone = cluster.kubectl("get", "deployments", "-n", "development")
    assert gone.stdout == "" and "No resources found in development namespace." in gone.stderr


def test_deployment_service_busybox_apply(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(TUTORIAL / "namespace.yaml"))
    try:
        assert cluster.kubectl("apply", "-f", str(TUTORIAL / "deployment.yaml")).out.strip() == \
            "deployment.apps/pod-info-deployment created"
        assert cluster.kubectl("apply", "-f", str(TUTORIAL / "service.yaml")).out.strip() == \
            "service/demo-service created"
        assert cluster.kubectl("apply", "-f", str(TUTORIAL / "busybox.yaml")).out.strip() == \
            "deployment.apps/busybox created"

        deploy = cluster.kubectl("get", "deployments", "-n", "development").out
        assert header(deploy) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]

        def ready() -> bool:
            out = cluster.kubectl("get", "deployments", "-n", "development").out
            return rows(out)["pod-info-deployment"][1:4] == ["3/3", "3", "3"]

        cluster.wait_for(ready, timeout=60)

        svc = cluster.kubectl("get", "svc", "-A").out
        assert header(svc) == ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
        lines = {line.split()[1]: line.split() for line in svc.splitlines()[1:]}
        assert lines["kubernetes"][2:6] == ["ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
        demo = lines["demo-service"]
        assert demo[2] == "LoadBalancer" and demo[4] == "<pending>"
        assert re.fullmatch(r"10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+", demo[3])
        assert re.fullmatch(r"80:3\d{4}/TCP", demo[5])

        everything = cluster.kubectl("get", "all", "-A").out
        assert "service/demo-service" in everything
        assert "deployment.apps/pod-info-deployment" in everything
        assert "deployment.apps/busybox" in everything

        wide = cluster.kubectl("get", "pods", "-o", "wide", "-n", "development").out
        assert header(wide) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                                "READINESS", "GATES"]
        pods = [line.split() for line in wide.splitlines()[1:]]
        assert len(pods) == 3
        for pod in pods:
            assert pod[0].startswith("pod-info-deployment-") and pod[1:4] == ["1/1", "Running", "0"]
            assert pod[5].startswith("10.244.") and pod[7:] == ["<none>", "<none>"]
        assert len({p[5] for p in pods}) == 3, "distinct pod IPs"

        wide_deploy = cluster.kubectl("get", "deploy", "busybox", "-o", "wide").out
        assert header(wide_deploy) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES",
                                       "SELECTOR"]
        assert rows(wide_deploy)["busybox"][5:] == ["busybox-container", "busybox:latest", "app=busybox"]

        # Re-applying unchanged manifests changes nothing.
        again = cluster.kubectl("apply", "-f", str(TUTORIAL / "deployment.yaml")).out.strip()
        assert again == "deployment.apps/pod-info-deployment unchanged"
        yaml_out = cluster.kubectl("get", "deploy", "pod-info-deployment", "-n", "development", "-o", "yaml").out
        for line in ("progressDeadlineSeconds: 600", "revisionHistoryLimit: 10", "maxSurge: 25%",
                     "dnsPolicy: ClusterFirst", "terminationMessagePath: /dev/termination-log",
                     "schedulerName: default-scheduler", "terminationGracePeriodSeconds: 30"):
            assert line in yaml_out
    finally:
        cluster.kubectl("delete", "-f", str(TUTORIAL / "busybox.yaml"), "--ignore-not-found")
        cluster.kubectl("delete", "-f", str(TUTORIAL / "namespace.yaml"), "--ignore-not-found", timeout=60)
