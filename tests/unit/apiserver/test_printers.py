"""Server-side Table printers: cells compared with what a real v1.32 cluster prints.

Expected rows come from the tutorial transcripts (kubectl against minikube) where they
exist, and from the upstream printer logic otherwise. Time is fixed: every timestamp is
written as "so many seconds before NOW".
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pocketkube.apiserver.printers import (
    Column,
    Printer,
    human_duration,
    printer_for,
    registered_printers,
    row_conditions,
    translate_timestamp_since,
)

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def obj(name: str, created: float = 60, **fields: Any) -> dict[str, Any]:
    meta = fields.pop("metadata", {})
    return {"metadata": {"name": name, "creationTimestamp": ago(created), **meta}, **fields}


def cells(group: str, kind: str, o: dict[str, Any]) -> list[Any]:
    return printer_for(group, kind).row(o, NOW)


def headers(group: str, kind: str) -> list[str]:
    return [c.name for c in printer_for(group, kind).columns]


# --- HumanDuration ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-5, "<invalid>"),
        (-2, "<invalid>"),
        (-1.5, "0s"),
        (-1, "0s"),
        (0, "0s"),
        (0.9, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (304, "5m4s"),
        (418, "6m58s"),
        (430, "7m10s"),
        (565, "9m25s"),
        (599, "9m59s"),
        (600, "10m"),
        (34 * 60, "34m"),
        (2 * 3600 + 10 * 60, "130m"),  # under 3h HumanDuration stays in minutes
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 5 * 60, "5h5m"),
        (5 * 3600 + 8 * 60, "5h8m"),
        (8 * 3600 + 59 * 60, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (8 * 86400, "8d"),
        (400 * 86400, "400d"),
        (730 * 86400, "2y"),
        (760 * 86400, "2y30d"),
        (8 * 365 * 86400, "8y"),
        (20 * 365 * 86400, "20y"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


def test_translate_timestamp_since() -> None:
    assert translate_timestamp_since(None, NOW) == "<unknown>"
    assert translate_timestamp_since("", NOW) == "<unknown>"
    assert translate_timestamp_since(ago(34 * 60), NOW) == "34m"
    assert translate_timestamp_since("2024-06-01T11:59:00.123456Z", NOW) == "59s"  # MicroTime
    assert translate_timestamp_since("2024-06-01T13:59:00+02:00", NOW) == "60s"


# --- column definitions -------------------------------------------------------------
def test_column_definition_shape() -> None:
    c = Column("IP", "string", "", "the ip", 1)
    assert c.definition() == {
        "name": "IP",
        "type": "string",
        "format": "",
        "description": "the ip",
        "priority": 1,
    }


def test_pod_columns_exact() -> None:
    cols = printer_for("", "Pod").columns
    assert [(c.name, c.type, c.format, c.priority) for c in cols] == [
        ("Name", "string", "name", 0),
        ("Ready", "string", "", 0),
        ("Status", "string", "", 0),
        ("Restarts", "string", "", 0),
        ("Age", "string", "", 0),
        ("IP", "string", "", 1),
        ("Node", "string", "", 1),
        ("Nominated Node", "string", "", 1),
        ("Readiness Gates", "string", "", 1),
    ]
    assert cols[0].description.startswith("Name must be unique within a namespace.")
    assert cols[5].description.startswith("podIP address allocated to the pod.")


def test_default_table_for_kinds_without_printer() -> None:
    for group, kind in [
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("", "LimitRange"),
        ("example.com", "Widget"),
    ]:
        p = printer_for(group, kind)
        assert [(c.name, c.type, c.format) for c in p.columns] == [
            ("Name", "string", "name"),
            ("Created At", "date", ""),
        ]
    role = obj("pod-reader", metadata={"creationTimestamp": "2024-05-01T10:00:00+02:00"})
    assert cells("rbac.authorization.k8s.io", "Role", role) == ["pod-reader", "2024-05-01T08:00:00Z"]


@pytest.mark.parametrize(("key", "printer"), sorted(registered_printers().items()))
def test_every_printer_survives_a_bare_object(key: tuple[str, str], printer: Printer) -> None:
    row = printer.row({"metadata": {"name": "x"}}, NOW)
    if key == ("networking.k8s.io", "IPAddress"):
        assert len(row) == len(printer.columns) + 1  # upstream quirk: an AGE cell without a column
    else:
        assert len(row) == len(printer.columns), key
    for cell in row:
        assert cell is None or isinstance(cell, str | int | float | bool)
    assert printer.columns[0].name == "Name" or key in (("", "Event"), ("events.k8s.io", "Event"))


# --- pods ---------------------------------------------------------------------------
def running(
    name: str = "app", restarts: int = 0, finished: float | None = None, ready: bool = True
) -> dict[str, Any]:
    cs: dict[str, Any] = {
        "name": name,
        "ready": ready,
        "started": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ago(100)}},
        "image": "img",
        "imageID": "",
    }
    if finished is not None:
        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(finished)}}
    return cs


def pod(name: str, created: float, containers: int = 1, **status: Any) -> dict[str, Any]:
    spec = {
        "containers": [{"name": f"c{i}", "image": "img"} for i in range(containers)],
        "nodeName": "minikube",
    }
    return obj(name, created, spec=spec, status={"phase": "Running", **status})


def test_pod_running_wide_matches_tutorial() -> None:
    p = pod(
        "pod-info-deployment-84b8474657-7wqbv",
        18 * 60,
        containerStatuses=[running()],
        podIP="10.244.0.31",
        podIPs=[{"ip": "10.244.0.31"}],
    )
    assert cells("", "Pod", p) == [
        "pod-info-deployment-84b8474657-7wqbv",
        "1/1",
        "Running",
        "0",
        "18m",
        "10.244.0.31",
        "minikube",
        "<none>",
        "<none>",
    ]
    assert row_conditions("", "Pod", p) is None


def test_pod_restarts_with_last_restart_age() -> None:
    p = pod("coredns-5dd5756b68-pxfzv", 35 * 60, containerStatuses=[running(restarts=2, finished=30 * 60)])
    assert cells("", "Pod", p)[:5] == ["coredns-5dd5756b68-pxfzv", "1/1", "Running", "2 (30m ago)", "35m"]


def test_pod_restarts_newest_finish_wins_across_containers() -> None:
    p = pod(
        "two",
        3600,
        containers=2,
        containerStatuses=[
            running("c0", restarts=1, finished=50 * 60),
            running("c1", restarts=3, finished=28 * 60),
        ],
    )
    assert cells("", "Pod", p)[1:4] == ["2/2", "Running", "4 (28m ago)"]


def test_pod_image_pull_backoff() -> None:
    cs = {
        "name": "c0",
        "ready": False,
        "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff"}},
    }
    p = pod("pod-info-deployment-5c7f779b8b-b5wfc", 51, containerStatuses=[cs], phase="Pending")
    assert cells("", "Pod", p)[:5] == [
        "pod-info-deployment-5c7f779b8b-b5wfc",
        "0/1",
        "ImagePullBackOff",
        "0",
        "51s",
    ]


def test_pod_pending_unscheduled() -> None:
    p = obj("p", 5, spec={"containers": [{"name": "a"}]}, status={"phase": "Pending"})
    assert cells("", "Pod", p) == ["p", "0/1", "Pending", "0", "5s", "<none>", "<none>", "<none>", "<none>"]


def init_pod(init_statuses: list[dict[str, Any]], **status: Any) -> dict[str, Any]:
    p = pod(
        "init", 120, containerStatuses=[{"name": "c0", "state": {"waiting": {"reason": "PodInitializing"}}}]
    )
    p["spec"]["initContainers"] = [{"name": s["name"], "image": "busybox"} for s in init_statuses]
    p["status"].update(phase="Pending", initContainerStatuses=init_statuses, **status)
    return p


def test_pod_init_running() -> None:
    p = init_pod([{"name": "i0", "restartCount": 0, "state": {"running": {}}}])
    assert cells("", "Pod", p)[1:4] == ["0/1", "Init:0/1", "0"]


def test_pod_init_second_of_two() -> None:
    done = {"name": "i0", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    waiting = {"name": "i1", "state": {"waiting": {"reason": "PodInitializing"}}}
    assert cells("", "Pod", init_pod([done, waiting]))[2] == "Init:1/2"


def test_pod_init_crashloop_counts_init_restarts() -> None:
    cs = {
        "name": "i0",
        "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(40)}},
    }
    assert cells("", "Pod", init_pod([cs]))[1:4] == ["0/1", "Init:CrashLoopBackOff", "3 (40s ago)"]


@pytest.mark.parametrize(
    ("terminated", "expected"),
    [
        ({"exitCode": 1, "reason": "Error"}, "Init:Error"),
        ({"exitCode": 2}, "Init:ExitCode:2"),
        ({"exitCode": 137, "signal": 9}, "Init:Signal:9"),
    ],
)
def test_pod_init_failed(terminated: dict[str, Any], expected: str) -> None:
    cs = {"name": "i0", "restartCount": 0, "state": {"terminated": terminated}}
    assert cells("", "Pod", init_pod([cs]))[2] == expected


def test_pod_completed() -> None:
    cs = {
        "name": "c0",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
    }
    p = pod("job-abc", 300, containerStatuses=[cs], phase="Succeeded")
    assert cells("", "Pod", p)[1:4] == ["0/1", "Completed", "0"]
    assert row_conditions("", "Pod", p) == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    failed = pod("job-def", 300, containerStatuses=[], phase="Failed")
    assert row_conditions("", "Pod", failed) == [
        {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
    ]


@pytest.mark.parametrize(
    ("terminated", "expected"),
    [
        ({"exitCode": 137, "reason": "OOMKilled"}, "OOMKilled"),
        ({"exitCode": 3}, "ExitCode:3"),
        ({"signal": 15}, "Signal:15"),
    ],
)
def test_pod_container_terminated(terminated: dict[str, Any], expected: str) -> None:
    p = pod("p", 60, containerStatuses=[{"name": "c0", "state": {"terminated": terminated}}])
    assert cells("", "Pod", p)[2] == expected


def test_pod_first_container_decides() -> None:
    waiting = {"name": "c0", "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 5}
    p = pod("p", 600, containers=2, containerStatuses=[waiting, running("c1")])
    assert cells("", "Pod", p)[1:4] == ["1/2", "CrashLoopBackOff", "5"]


@pytest.mark.parametrize(("ready_status", "expected"), [("False", "NotReady"), ("True", "Running")])
def test_pod_completed_with_running_container(ready_status: str, expected: str) -> None:
    done = {"name": "c0", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    p = pod(
        "p",
        600,
        containers=2,
        containerStatuses=[done, running("c1")],
        conditions=[{"type": "Ready", "status": ready_status}],
    )
    assert cells("", "Pod", p)[1:3] == ["1/2", expected]


def test_pod_terminating_unknown_and_terminal() -> None:
    p = pod("p", 600, containerStatuses=[running()])
    p["metadata"]["deletionTimestamp"] = ago(-30)
    assert cells("", "Pod", p)[2] == "Terminating"
    p["status"]["reason"] = "NodeLost"
    assert cells("", "Pod", p)[2] == "Unknown"
    done = {"name": "c0", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    finished = pod("q", 600, containerStatuses=[done], phase="Succeeded")
    finished["metadata"]["deletionTimestamp"] = ago(-30)
    assert cells("", "Pod", finished)[2] == "Completed"


def test_pod_reason_evicted_and_scheduling_gated() -> None:
    evicted = obj(
        "e", 60, spec={"containers": [{"name": "a"}]}, status={"phase": "Failed", "reason": "Evicted"}
    )
    assert cells("", "Pod", evicted)[2] == "Evicted"
    gated = obj(
        "g",
        60,
        spec={"containers": [{"name": "a"}]},
        status={
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
        },
    )
    assert cells("", "Pod", gated)[2] == "SchedulingGated"


def sidecar_pod(init_statuses: list[dict[str, Any]], initialized: bool) -> dict[str, Any]:
    spec = {
        "initContainers": [{"name": "proxy", "restartPolicy": "Always"}, {"name": "setup"}],
        "containers": [{"name": "app"}],
    }
    status = {
        "phase": "Running" if initialized else "Pending",
        "initContainerStatuses": init_statuses,
        "containerStatuses": [running("app")] if initialized else [],
        "conditions": [{"type": "Initialized", "status": "True" if initialized else "False"}],
    }
    return obj("side", 3600, spec=spec, status=status)


def test_pod_sidecar_running() -> None:
    sidecar = running("proxy", restarts=1, finished=20 * 60)
    setup = {
        "name": "setup",
        "restartCount": 2,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
    }
    # Sidecar restarts count, the finished plain init container's do not.
    assert cells("", "Pod", sidecar_pod([sidecar, setup], True))[1:4] == ["2/2", "Running", "1 (20m ago)"]


def test_pod_sidecar_while_initializing() -> None:
    sidecar = running("proxy")
    setup = {"name": "setup", "restartCount": 0, "state": {"running": {}}}
    assert cells("", "Pod", sidecar_pod([sidecar, setup], False))[1:4] == ["1/2", "Init:1/2", "0"]


def test_pod_wide_nominated_and_readiness_gates() -> None:
    p = pod(
        "p",
        60,
        containerStatuses=[running()],
        nominatedNodeName="node-2",
        podIPs=[{"ip": "fd00::5"}, {"ip": "10.244.0.5"}],
        conditions=[
            {"type": "example.com/a", "status": "True"},
            {"type": "example.com/b", "status": "False"},
        ],
    )
    p["spec"]["readinessGates"] = [{"conditionType": "example.com/a"}, {"conditionType": "example.com/b"}]
    assert cells("", "Pod", p)[5:] == ["fd00::5", "minikube", "node-2", "1/2"]


# --- services, endpoints, nodes ----------------------------------------------------------
def svc(
    name: str, svc_type: str, cluster_ip: str, ports: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    status = extra.pop("status", {"loadBalancer": {}})
    spec = {"type": svc_type, "clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "ports": ports, **extra}
    return obj(name, 39 * 60, spec=spec, status=status)


def test_services_match_tutorial() -> None:
    k8s = svc(
        "kubernetes",
        "ClusterIP",
        "10.96.0.1",
        [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}],
    )
    assert cells("", "Service", k8s) == [
        "kubernetes",
        "ClusterIP",
        "10.96.0.1",
        "<none>",
        "443/TCP",
        "39m",
        "<none>",
    ]
    dns_ports = [
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        {"name": "metrics", "port": 9153, "protocol": "TCP"},
    ]
    dns = svc("kube-dns", "ClusterIP", "10.96.0.10", dns_ports, selector={"k8s-app": "kube-dns"})
    assert cells("", "Service", dns) == [
        "kube-dns",
        "ClusterIP",
        "10.96.0.10",
        "<none>",
        "53/UDP,53/TCP,9153/TCP",
        "39m",
        "k8s-app=kube-dns",
    ]
    lb = svc(
        "demo-service",
        "LoadBalancer",
        "10.99.155.149",
        [{"port": 80, "nodePort": 31717, "protocol": "TCP"}],
        selector={"app": "pod-info"},
        status={"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}},
    )
    lb["metadata"]["creationTimestamp"] = ago(126)
    assert cells("", "Service", lb)[:6] == [
        "demo-service",
        "LoadBalancer",
        "10.99.155.149",
        "127.0.0.1",
        "80:31717/TCP",
        "2m6s",
    ]


def test_service_external_ip_variants() -> None:
    pending = svc("lb", "LoadBalancer", "10.96.1.1", [{"port": 80, "nodePort": 30080, "protocol": "TCP"}])
    assert cells("", "Service", pending)[3] == "<pending>"
    both = svc(
        "lb2",
        "LoadBalancer",
        "10.96.1.2",
        [],
        externalIPs=["1.2.3.4"],
        status={
            "loadBalancer": {"ingress": [{"hostname": "b.example"}, {"ip": "9.9.9.9"}, {"ip": "9.9.9.9"}]}
        },
    )
    assert cells("", "Service", both)[3:5] == ["9.9.9.9,b.example,1.2.3.4", "<none>"]
    np = svc(
        "np",
        "NodePort",
        "10.96.1.3",
        [{"port": 80, "nodePort": 30001, "protocol": "TCP"}],
        externalIPs=["5.6.7.8"],
    )
    assert cells("", "Service", np)[3:5] == ["5.6.7.8", "80:30001/TCP"]
    ext = obj("ext", spec={"type": "ExternalName", "externalName": "db.example.com"})
    assert cells("", "Service", ext)[1:5] == ["ExternalName", "<none>", "db.example.com", "<none>"]
    headless = svc("h", "ClusterIP", "None", [{"port": 5432, "protocol": "TCP"}])
    assert cells("", "Service", headless)[2] == "None"


def test_endpoints() -> None:
    ep = obj(
        "web",
        subsets=[
            {
                "addresses": [
                    {"ip": "10.244.0.5"},
                    {"ip": "10.244.0.6"},
                    {"ip": "fd00::7"},
                    {"ip": "10.244.0.8"},
                ],
                "ports": [{"port": 8080, "protocol": "TCP"}],
            }
        ],
    )
    assert cells("", "Endpoints", ep) == [
        "web",
        "10.244.0.5:8080,10.244.0.6:8080,[fd00::7]:8080 + 1 more...",
        "60s",
    ]
    k8s = obj(
        "kubernetes",
        subsets=[{"addresses": [{"ip": "192.168.49.2"}], "ports": [{"name": "https", "port": 8443}]}],
    )
    assert cells("", "Endpoints", k8s)[1] == "192.168.49.2:8443"
    headless = obj("h", subsets=[{"addresses": [{"ip": "10.0.0.1"}]}])
    assert cells("", "Endpoints", headless)[1] == "10.0.0.1"
    assert cells("", "Endpoints", obj("none"))[1] == "<none>"


def node(labels: dict[str, str], ready: str | None = "True", **spec: Any) -> dict[str, Any]:
    conditions = [{"type": "MemoryPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    status = {
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": "192.168.49.2"},
            {"type": "Hostname", "address": "minikube"},
        ],
        "nodeInfo": {
            "kubeletVersion": "v1.28.3",
            "osImage": "Ubuntu 22.04.3 LTS",
            "kernelVersion": "6.5.0-14-generic",
            "containerRuntimeVersion": "docker://24.0.7",
        },
    }
    return obj("minikube", 430, metadata={"labels": labels}, spec=spec, status=status)


def test_node_matches_tutorial() -> None:
    labels = {"kubernetes.io/hostname": "minikube", "node-role.kubernetes.io/control-plane": ""}
    assert cells("", "Node", node(labels)) == [
        "minikube",
        "Ready",
        "control-plane",
        "7m10s",
        "v1.28.3",
        "192.168.49.2",
        "<none>",
        "Ubuntu 22.04.3 LTS",
        "6.5.0-14-generic",
        "docker://24.0.7",
    ]


def test_node_status_and_roles() -> None:
    labels = {
        "kubernetes.io/role": "worker",
        "node-role.kubernetes.io/infra": "",
        "node-role.kubernetes.io/": "",
    }
    n = node(labels, ready="False", unschedulable=True)
    assert cells("", "Node", n)[1:3] == ["NotReady,SchedulingDisabled", "infra,worker"]
    assert cells("", "Node", node({}, ready=None))[1:3] == ["Unknown", "<none>"]
    bare = obj("bare")
    assert cells("", "Node", bare)[4:] == ["", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]


# --- core misc ----------------------------------------------------------------------
def test_namespace_secret_configmap_serviceaccount() -> None:
    assert cells("", "Namespace", obj("default", 34 * 60, status={"phase": "Active"})) == [
        "default",
        "Active",
        "34m",
    ]
    secret = obj("tls", type="kubernetes.io/tls", data={"tls.crt": "eA==", "tls.key": "eA=="})
    assert cells("", "Secret", secret) == ["tls", "kubernetes.io/tls", 2, "60s"]
    cm = obj("kube-root-ca.crt", data={"ca.crt": "..."}, binaryData={"b": "AA=="})
    assert cells("", "ConfigMap", cm) == ["kube-root-ca.crt", 2, "60s"]
    assert cells("", "ConfigMap", obj("empty")) == ["empty", 0, "60s"]
    assert cells("", "ServiceAccount", obj("default")) == ["default", 0, "60s"]


def test_podtemplate_and_replicationcontroller() -> None:
    template = {
        "metadata": {"labels": {"b": "2", "a": "1"}},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }
    assert cells("", "PodTemplate", obj("t", template=template)) == ["t", "web", "nginx", "a=1,b=2"]
    rc = obj(
        "rc",
        spec={"replicas": 3, "selector": {"app": "web"}, "template": template},
        status={"replicas": 3, "readyReplicas": 2},
    )
    assert cells("", "ReplicationController", rc) == ["rc", 3, 3, 2, "60s", "web", "nginx", "app=web"]


def test_componentstatus_and_resourcequota() -> None:
    cs = obj("etcd-0", conditions=[{"type": "Healthy", "status": "True", "message": "ok"}])
    assert cells("", "ComponentStatus", cs) == ["etcd-0", "Healthy", "ok", ""]
    assert cells("", "ComponentStatus", obj("x")) == ["x", "Unknown", "", ""]
    rq = obj(
        "quota",
        status={
            "hard": {"requests.cpu": "1", "pods": "10", "limits.memory": "2Gi", "limits.cpu": "2"},
            "used": {"requests.cpu": "500m", "pods": "3", "limits.cpu": "0"},
        },
    )
    assert cells("", "ResourceQuota", rq) == [
        "quota",
        "pods: 3/10, requests.cpu: 500m/1",
        "limits.cpu: 0/2, limits.memory: 0/2Gi",
        "60s",
    ]


def test_persistent_volumes_and_claims() -> None:
    pv = obj(
        "pvc-123",
        metadata={},
        spec={
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "claimRef": {"namespace": "default", "name": "data"},
            "storageClassName": "standard",
            "volumeMode": "Filesystem",
        },
        status={"phase": "Bound"},
    )
    assert cells("", "PersistentVolume", pv) == [
        "pvc-123",
        "1Gi",
        "RWO,RWX",
        "Delete",
        "Bound",
        "default/data",
        "standard",
        "<unset>",
        "",
        "60s",
        "Filesystem",
    ]
    bound = obj(
        "data",
        spec={
            "volumeName": "pvc-123",
            "storageClassName": "standard",
            "resources": {"requests": {"storage": "500Mi"}},
        },
        status={"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]},
    )
    assert cells("", "PersistentVolumeClaim", bound) == [
        "data",
        "Bound",
        "pvc-123",
        "1Gi",
        "RWO",
        "standard",
        "<unset>",
        "60s",
        "<unset>",
    ]
    pending = obj(
        "wait",
        metadata={
            "annotations": {"volume.beta.kubernetes.io/storage-class": "old"},
            "deletionTimestamp": ago(0),
        },
        spec={"storageClassName": "new"},
        status={"phase": "Pending"},
    )
    assert cells("", "PersistentVolumeClaim", pending)[1:7] == ["Terminating", "", "", "", "old", "<unset>"]


def test_events_core_and_events_k8s_io() -> None:
    core = obj(
        "web.17a",
        type="Normal",
        reason="Scheduled",
        involvedObject={"kind": "Pod", "name": "web", "namespace": "default"},
        message="Successfully assigned default/web to minikube\n",
        source={"component": "default-scheduler"},
        firstTimestamp=ago(86),
        lastTimestamp=ago(86),
        count=1,
    )
    assert cells("", "Event", core) == [
        "86s",
        "Normal",
        "Scheduled",
        "pod/web",
        "",
        "default-scheduler",
        "Successfully assigned default/web to minikube",
        "86s",
        1,
        "web.17a",
    ]
    pulling = obj(
        "web.17b",
        type="Normal",
        reason="Pulling",
        involvedObject={"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
        message="Pulling image",
        source={"component": "kubelet", "host": "minikube"},
        firstTimestamp=ago(85),
        lastTimestamp=ago(45),
        count=2,
    )
    assert cells("", "Event", pulling)[:9] == [
        "45s",
        "Normal",
        "Pulling",
        "pod/web",
        "spec.containers{app}",
        "kubelet, minikube",
        "Pulling image",
        "85s",
        2,
    ]
    new_api = obj(
        "web.17c",
        type="Warning",
        reason="FailedMount",
        regarding={"kind": "Pod", "name": "web"},
        note="mount failed",
        reportingController="kubelet",
        reportingInstance="minikube",
        eventTime="2024-06-01T11:58:00.000000Z",
        series={"count": 4, "lastObservedTime": "2024-06-01T11:59:30.000000Z"},
    )
    assert cells("events.k8s.io", "Event", new_api)[:9] == [
        "30s",
        "Warning",
        "FailedMount",
        "pod/web",
        "",
        "kubelet, minikube",
        "mount failed",
        "2m",
        4,
    ]
    single = obj("n.1", type="Normal", reason="Created", regarding={"kind": "Node"}, eventTime=ago(10))
    assert cells("events.k8s.io", "Event", single)[:9] == [
        "10s",
        "Normal",
        "Created",
        "node",
        "",
        "",
        "",
        "10s",
        1,
    ]
    assert headers("events.k8s.io", "Event") == headers("", "Event")


# --- apps ------------------------------------------------------------------------------
TEMPLATE = {
    "spec": {"containers": [{"name": "app", "image": "pod-info-app"}, {"name": "log", "image": "busybox"}]}
}


def test_deployment_matches_tutorial() -> None:
    d = obj(
        "pod-info-deployment",
        304,
        spec={"replicas": 3, "selector": {"matchLabels": {"app": "pod-info"}}, "template": TEMPLATE},
        status={"replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3},
    )
    assert cells("apps", "Deployment", d) == [
        "pod-info-deployment",
        "3/3",
        3,
        3,
        "5m4s",
        "app,log",
        "pod-info-app,busybox",
        "app=pod-info",
    ]
    assert headers("apps", "Deployment") == [
        "Name",
        "Ready",
        "Up-to-date",
        "Available",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]


def test_deployment_selector_expressions_and_fresh_status() -> None:
    selector = {
        "matchLabels": {"tier": "web"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "dev"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "Exists"},
            {"key": "team", "operator": "NotIn", "values": ["x"]},
        ],
    }
    d = obj("d", spec={"replicas": 2, "selector": selector, "template": TEMPLATE})
    assert cells("apps", "Deployment", d)[1:4] == ["0/2", 0, 0]
    assert cells("apps", "Deployment", d)[7] == "!canary,env in (dev,prod),team notin (x),tier=web,zone"
    bad = obj("b", spec={"selector": {"matchExpressions": [{"key": "k", "operator": "Bogus"}]}})
    assert cells("apps", "Deployment", bad)[1] == "0/1"
    assert cells("apps", "Deployment", bad)[7] == "<invalid>"
    assert cells("apps", "ReplicaSet", bad)[7] == "<error>"


def test_replicaset_daemonset_statefulset() -> None:
    rs = obj(
        "web-84b8474657",
        spec={
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "84b8474657"}},
            "template": TEMPLATE,
        },
        status={"replicas": 3, "readyReplicas": 3},
    )
    assert cells("apps", "ReplicaSet", rs) == [
        "web-84b8474657",
        3,
        3,
        3,
        "60s",
        "app,log",
        "pod-info-app,busybox",
        "app=web,pod-template-hash=84b8474657",
    ]
    ds_template = {
        "spec": {
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "containers": [{"name": "kube-proxy", "image": "kp"}],
        }
    }
    ds = obj(
        "kube-proxy",
        2100,
        spec={"selector": {"matchLabels": {"k8s-app": "kube-proxy"}}, "template": ds_template},
        status={
            "desiredNumberScheduled": 1,
            "currentNumberScheduled": 1,
            "numberReady": 1,
            "updatedNumberScheduled": 1,
            "numberAvailable": 1,
        },
    )
    assert cells("apps", "DaemonSet", ds) == [
        "kube-proxy",
        1,
        1,
        1,
        1,
        1,
        "kubernetes.io/os=linux",
        "35m",
        "kube-proxy",
        "kp",
        "k8s-app=kube-proxy",
    ]
    sts = obj("db", spec={"replicas": 3, "template": TEMPLATE}, status={"readyReplicas": 2})
    assert cells("apps", "StatefulSet", sts) == ["db", "2/3", "60s", "app,log", "pod-info-app,busybox"]


def test_controllerrevision() -> None:
    owner = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "name": "kube-proxy",
        "controller": True,
        "uid": "u",
    }
    cr = obj("kube-proxy-7c9b", metadata={"ownerReferences": [owner]}, revision=1)
    assert cells("apps", "ControllerRevision", cr) == [
        "kube-proxy-7c9b",
        "daemonset.apps/kube-proxy",
        1,
        "60s",
    ]
    core_owner = {"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": True}
    assert (
        cells("apps", "ControllerRevision", obj("c", metadata={"ownerReferences": [core_owner]}))[1]
        == "pod/p"
    )
    assert cells("apps", "ControllerRevision", obj("n"))[1] == "<none>"


# --- batch ------------------------------------------------------------------------------
def job(conditions: list[dict[str, Any]] | None = None, **kw: Any) -> dict[str, Any]:
    spec = {
        "completions": 1,
        "parallelism": 1,
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
    }
    spec.update(kw.pop("spec", {}))
    spec["template"] = {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}
    status = {"conditions": conditions or [], **kw}
    return obj("pi", 120, spec=spec, status=status)


def test_job_statuses() -> None:
    done = job(
        [{"type": "Complete", "status": "True"}], succeeded=1, startTime=ago(100), completionTime=ago(90)
    )
    assert cells("batch", "Job", done) == [
        "pi",
        "Complete",
        "1/1",
        "10s",
        "2m",
        "pi",
        "perl",
        "batch.kubernetes.io/controller-uid=u1",
    ]
    assert headers("batch", "Job")[:5] == ["Name", "Status", "Completions", "Duration", "Age"]
    running_job = job(active=1, startTime=ago(100))
    assert cells("batch", "Job", running_job)[1:4] == ["Running", "0/1", "100s"]
    assert cells("batch", "Job", job())[1:4] == ["Running", "0/1", ""]
    failed = job([{"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}])
    assert cells("batch", "Job", failed)[1] == "Failed"
    assert cells("batch", "Job", job([{"type": "Suspended", "status": "True"}]))[1] == "Suspended"
    assert cells("batch", "Job", job([{"type": "FailureTarget", "status": "True"}]))[1] == "FailureTarget"
    terminating = job([{"type": "Suspended", "status": "True"}])
    terminating["metadata"]["deletionTimestamp"] = ago(0)
    assert cells("batch", "Job", terminating)[1] == "Terminating"


def test_job_completions_variants() -> None:
    parallel = job(spec={"completions": None, "parallelism": 3}, succeeded=1)
    assert cells("batch", "Job", parallel)[2] == "1/1 of 3"
    single = job(spec={"completions": None, "parallelism": 1})
    assert cells("batch", "Job", single)[2] == "0/1"
    many = job(spec={"completions": 5}, succeeded=4)
    assert cells("batch", "Job", many)[2] == "4/5"


def test_cronjob() -> None:
    spec = {
        "schedule": "*/1 * * * *",
        "suspend": False,
        "jobTemplate": {
            "spec": {"template": {"spec": {"containers": [{"name": "hello", "image": "busybox"}]}}}
        },
    }
    cj = obj("hello", 600, spec=spec, status={"active": [{"name": "hello-1"}], "lastScheduleTime": ago(42)})
    assert cells("batch", "CronJob", cj) == [
        "hello",
        "*/1 * * * *",
        "<none>",
        "False",
        1,
        "42s",
        "10m",
        "hello",
        "busybox",
        "<none>",
    ]
    spec2 = {**spec, "timeZone": "Etc/UTC"}
    spec2.pop("suspend")
    assert cells("batch", "CronJob", obj("tz", spec=spec2))[2:6] == ["Etc/UTC", "<unset>", 0, "<none>"]
    assert [c.type for c in printer_for("batch", "CronJob").columns][:4] == [
        "string",
        "string",
        "string",
        "boolean",
    ]


# --- networking ---------------------------------------------------------------------------
def test_ingress_ingressclass_networkpolicy() -> None:
    ing = obj(
        "web",
        spec={
            "ingressClassName": "nginx",
            "rules": [
                {"host": "a.example"},
                {"host": "b.example"},
                {},
                {"host": "c.example"},
                {"host": "d.example"},
            ],
            "tls": [{"hosts": ["a.example"]}],
        },
        status={"loadBalancer": {"ingress": [{"ip": "192.168.49.2"}]}},
    )
    assert cells("networking.k8s.io", "Ingress", ing) == [
        "web",
        "nginx",
        "a.example,b.example,c.example + 2 more...",
        "192.168.49.2",
        "80, 443",
        "60s",
    ]
    bare = obj("x", spec={"defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}})
    assert cells("networking.k8s.io", "Ingress", bare)[1:5] == ["<none>", "*", "", "80"]
    ic = obj(
        "nginx",
        spec={
            "controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "P", "name": "p1"},
        },
    )
    assert cells("networking.k8s.io", "IngressClass", ic) == [
        "nginx",
        "k8s.io/ingress-nginx",
        "P.k8s.example.com/p1",
        "60s",
    ]
    assert cells("networking.k8s.io", "IngressClass", obj("n", spec={"controller": "c"}))[2] == "<none>"
    np = obj("deny", spec={"podSelector": {}})
    assert cells("networking.k8s.io", "NetworkPolicy", np) == ["deny", "<none>", "60s"]
    np2 = obj("web", spec={"podSelector": {"matchLabels": {"app": "web"}}})
    assert cells("networking.k8s.io", "NetworkPolicy", np2)[1] == "app=web"


def test_endpointslice() -> None:
    es = obj(
        "kube-dns-abc",
        addressType="IPv4",
        ports=[
            {"name": "dns", "port": 53},
            {"name": "dns-tcp", "port": 53},
            {"name": "metrics", "port": 9153},
            {"name": "x"},
        ],
        endpoints=[{"addresses": ["10.244.0.2"]}, {"addresses": ["10.244.0.3"]}],
    )
    assert cells("discovery.k8s.io", "EndpointSlice", es) == [
        "kube-dns-abc",
        "IPv4",
        "53,53,9153 + 1 more...",
        "10.244.0.2,10.244.0.3",
        "60s",
    ]
    empty = obj("e", addressType="IPv4", ports=[{}], endpoints=[])
    assert cells("discovery.k8s.io", "EndpointSlice", empty)[2:4] == ["*", "<unset>"]


# --- rbac --------------------------------------------------------------------------------
def test_role_bindings() -> None:
    rb = obj(
        "read-pods",
        roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        subjects=[
            {"kind": "User", "name": "jane"},
            {"kind": "ServiceAccount", "name": "default", "namespace": "dev"},
            {"kind": "Group", "name": "ops"},
            {"kind": "User", "name": "joe"},
        ],
    )
    assert cells("rbac.authorization.k8s.io", "RoleBinding", rb) == [
        "read-pods",
        "Role/pod-reader",
        "60s",
        "jane, joe",
        "ops",
        "dev/default",
    ]
    crb = obj(
        "cluster-admin",
        roleRef={"kind": "ClusterRole", "name": "cluster-admin"},
        subjects=[{"kind": "Group", "name": "system:masters"}],
    )
    assert cells("rbac.authorization.k8s.io", "ClusterRoleBinding", crb) == [
        "cluster-admin",
        "ClusterRole/cluster-admin",
        "60s",
        "",
        "system:masters",
        "",
    ]
    assert headers("rbac.authorization.k8s.io", "ClusterRoleBinding") == [
        "Name",
        "Role",
        "Age",
        "Users",
        "Groups",
        "ServiceAccounts",
    ]


# --- storage --------------------------------------------------------------------------------
def test_storage_kinds() -> None:
    sc = obj(
        "standard",
        metadata={"annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        provisioner="k8s.io/minikube-hostpath",
    )
    assert cells("storage.k8s.io", "StorageClass", sc) == [
        "standard (default)",
        "k8s.io/minikube-hostpath",
        "Delete",
        "Immediate",
        False,
        "60s",
    ]
    drv = obj(
        "hostpath.csi.k8s.io",
        spec={
            "tokenRequests": [{"audience": "a"}, {"audience": "b"}],
            "volumeLifecycleModes": ["Persistent", "Ephemeral"],
        },
    )
    assert cells("storage.k8s.io", "CSIDriver", drv) == [
        "hostpath.csi.k8s.io",
        True,
        False,
        False,
        "a,b",
        False,
        "Persistent,Ephemeral",
        "60s",
    ]
    assert cells("storage.k8s.io", "CSIDriver", obj("d"))[4:7] == ["<unset>", False, "<none>"]
    assert cells("storage.k8s.io", "CSINode", obj("minikube", spec={"drivers": [{"name": "x"}]})) == [
        "minikube",
        1,
        "60s",
    ]
    va = obj(
        "csi-1",
        spec={"attacher": "x.csi", "nodeName": "n1", "source": {"persistentVolumeName": "pv1"}},
        status={"attached": True},
    )
    assert cells("storage.k8s.io", "VolumeAttachment", va) == ["csi-1", "x.csi", "pv1", "n1", True, "60s"]
    cap = obj("csisc-1", storageClassName="fast", capacity="10Gi")
    assert cells("storage.k8s.io", "CSIStorageCapacity", cap) == ["csisc-1", "fast", "10Gi"]
    assert cells("storage.k8s.io", "CSIStorageCapacity", obj("c2", storageClassName="f"))[2] == "<unset>"


# --- the rest ---------------------------------------------------------------------------------
def test_lease_priorityclass_runtimeclass_pdb() -> None:
    lease = obj("minikube", metadata={"namespace": "kube-node-lease"}, spec={"holderIdentity": "minikube"})
    assert cells("coordination.k8s.io", "Lease", lease) == ["minikube", "minikube", "60s"]
    assert cells("coordination.k8s.io", "Lease", obj("l"))[1] == ""
    pc = obj("system-node-critical", value=2000001000, preemptionPolicy="PreemptLowerPriority")
    assert cells("scheduling.k8s.io", "PriorityClass", pc) == [
        "system-node-critical",
        2000001000,
        False,
        "60s",
        "PreemptLowerPriority",
    ]
    assert cells("node.k8s.io", "RuntimeClass", obj("gvisor", handler="runsc")) == ["gvisor", "runsc", "60s"]
    pdb = obj("web", spec={"minAvailable": 2}, status={"disruptionsAllowed": 1})
    assert cells("policy", "PodDisruptionBudget", pdb) == ["web", "2", "N/A", 1, "60s"]
    pdb2 = obj("db", spec={"maxUnavailable": "25%"})
    assert cells("policy", "PodDisruptionBudget", pdb2)[1:4] == ["N/A", "25%", 0]


def test_certificate_signing_request() -> None:
    csr = obj(
        "csr-abc",
        spec={
            "signerName": "kubernetes.io/kube-apiserver-client",
            "username": "minikube-user",
            "expirationSeconds": 86400,
        },
        status={"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"},
    )
    assert cells("certificates.k8s.io", "CertificateSigningRequest", csr) == [
        "csr-abc",
        "60s",
        "kubernetes.io/kube-apiserver-client",
        "minikube-user",
        "24h",
        "Approved,Issued",
    ]
    denied = obj("d", status={"conditions": [{"type": "Approved"}, {"type": "Denied"}, {"type": "Failed"}]})
    assert cells("certificates.k8s.io", "CertificateSigningRequest", denied)[2:] == [
        "<none>",
        "",
        "<none>",
        "Denied,Failed",
    ]
    assert cells("certificates.k8s.io", "CertificateSigningRequest", obj("p"))[5] == "Pending"


def test_horizontal_pod_autoscaler_v2_and_v1() -> None:
    v2 = obj(
        "php-apache",
        apiVersion="autoscaling/v2",
        spec={
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "php-apache"},
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                }
            ],
        },
        status={"currentReplicas": 1, "desiredReplicas": 1},
    )
    assert cells("autoscaling", "HorizontalPodAutoscaler", v2) == [
        "php-apache",
        "Deployment/php-apache",
        "cpu: <unknown>/50%",
        "1",
        10,
        1,
        "60s",
    ]
    v2["status"]["currentMetrics"] = [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "current": {"averageUtilization": 23, "averageValue": "115m"}},
        }
    ]
    assert cells("autoscaling", "HorizontalPodAutoscaler", v2)[2] == "cpu: 23%/50%"
    v1 = obj(
        "web",
        apiVersion="autoscaling/v1",
        spec={
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            "targetCPUUtilizationPercentage": 80,
        },
        status={"currentReplicas": 0},
    )
    assert cells("autoscaling", "HorizontalPodAutoscaler", v1)[2:6] == ["cpu: <unknown>/80%", "<unset>", 5, 0]
    v1["status"]["currentCPUUtilizationPercentage"] = 12
    assert cells("autoscaling", "HorizontalPodAutoscaler", v1)[2] == "cpu: 12%/80%"


def test_hpa_metric_kinds_and_more() -> None:
    metrics = [
        {
            "type": "Resource",
            "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}},
        },
        {
            "type": "Pods",
            "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}},
        },
        {
            "type": "External",
            "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "30"}},
        },
    ]
    statuses = [
        {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "50Mi"}}},
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "current": {"averageValue": "500"}}},
    ]
    hpa = obj(
        "h",
        spec={
            "scaleTargetRef": {"kind": "Deployment", "name": "d"},
            "minReplicas": 2,
            "maxReplicas": 4,
            "metrics": metrics,
        },
        status={"currentMetrics": statuses},
    )
    assert cells("autoscaling", "HorizontalPodAutoscaler", hpa)[2] == "memory: 50Mi/100Mi, 500/1k + 1 more..."
    one = {**hpa, "spec": {**hpa["spec"], "metrics": metrics[2:]}, "status": {}}
    assert cells("autoscaling", "HorizontalPodAutoscaler", one)[2] == "<unknown>/30"
    obj_avg = [{"type": "Object", "object": {"target": {"type": "AverageValue", "averageValue": "2"}}}]
    avg = {**hpa, "spec": {**hpa["spec"], "metrics": obj_avg}, "status": {}}
    assert cells("autoscaling", "HorizontalPodAutoscaler", avg)[2] == "<unknown>/2 (avg)"
    none = {**hpa, "spec": {**hpa["spec"], "metrics": []}}
    assert cells("autoscaling", "HorizontalPodAutoscaler", none)[2] == "<none>"


def test_admission_and_flowcontrol() -> None:
    wh = obj("ingress-nginx-admission", webhooks=[{"name": "a"}])
    assert cells("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", wh) == [
        "ingress-nginx-admission",
        1,
        "60s",
    ]
    binding = obj("b", spec={"policyName": "p", "paramRef": {"name": "cfg"}})
    assert cells("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding", binding)[1:3] == [
        "p",
        "*/cfg",
    ]
    fs = obj(
        "exempt",
        spec={"priorityLevelConfiguration": {"name": "exempt"}, "matchingPrecedence": 1},
        status={"conditions": [{"type": "Dangling", "status": "False"}]},
    )
    assert cells("flowcontrol.apiserver.k8s.io", "FlowSchema", fs) == [
        "exempt",
        "exempt",
        1,
        "<none>",
        "60s",
        "False",
    ]
    pl = obj(
        "workload-low",
        spec={
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": 100,
                "limitResponse": {
                    "type": "Queue",
                    "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50},
                },
            },
        },
    )
    assert cells("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", pl) == [
        "workload-low",
        "Limited",
        100,
        128,
        6,
        50,
        "60s",
    ]
    exempt = obj("exempt", spec={"type": "Exempt"})
    assert cells("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", exempt)[2:6] == ["<none>"] * 4


# --- performance ----------------------------------------------------------------------------
def test_pod_rows_are_cheap() -> None:
    pods = [
        pod(
            f"web-{i}",
            600 + i,
            containerStatuses=[running(restarts=i % 3, finished=300 if i % 3 else None)],
            podIPs=[{"ip": "10.244.0.9"}],
        )
        for i in range(5000)
    ]
    row = printer_for("", "Pod").row
    start = time.perf_counter()
    out = [row(p, NOW) for p in pods]
    elapsed = time.perf_counter() - start
    assert out[1][3] == "1 (5m ago)"
    assert elapsed < 1.0, f"5000 pod rows took {elapsed:.3f}s"
