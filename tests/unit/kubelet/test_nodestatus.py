from __future__ import annotations

from pocketkube.kubelet import nodestatus
from pocketkube.kubelet.nodestatus import NodeIdentity
from pocketkube.kubelet.runtime.interface import ImageStatus

IDENT = NodeIdentity(name="sim-1", internal_ip="10.89.0.2", pod_cidr="10.244.0.0/24", boot_id="boot",
                     runtime="simulated://0.1.0")


def test_skeleton_and_registration_patch() -> None:
    node = nodestatus.skeleton("sim-1", {"cpu": "8"})
    assert nodestatus.is_simulated(node)
    assert node["status"]["capacity"] == {"cpu": "8", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    patch = nodestatus.registration_patch(node, "10.244.0.0/24")
    assert patch is not None
    assert patch["spec"] == {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]}
    assert patch["metadata"]["labels"]["kubernetes.io/hostname"] == "sim-1"
    assert "pocketkube.io/simulated" not in patch["metadata"]["labels"]  # already there
    done = {"metadata": {"name": "sim-1", "labels": nodestatus.standard_labels("sim-1"),
                         "annotations": nodestatus.standard_annotations()},
            "spec": {"podCIDR": "10.244.0.0/24"}}
    assert nodestatus.registration_patch(done, "10.244.9.0/24") is None


def test_status_looks_like_a_kubelet_s() -> None:
    node = nodestatus.skeleton("sim-1")
    images = [ImageStatus("docker.io/library/nginx:1.27", "docker.io/library/nginx@sha256:1", 100),
              ImageStatus("docker.io/library/busybox:latest", "docker.io/library/busybox@sha256:2", 300)]
    status = nodestatus.status(node, IDENT, images, 1_700_000_000.0)
    assert [c["type"] for c in status["conditions"]] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    ready = status["conditions"][-1]
    assert (ready["status"], ready["reason"], ready["message"]) == ("True", "KubeletReady",
                                                                   "kubelet is posting ready status")
    assert ready["lastHeartbeatTime"] == ready["lastTransitionTime"] == "2023-11-14T22:13:20Z"
    assert status["addresses"] == [{"type": "InternalIP", "address": "10.89.0.2"},
                                   {"type": "InternalDNS", "address": "localhost"},
                                   {"type": "Hostname", "address": "sim-1"}]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert status["nodeInfo"]["kubeletVersion"] == "v1.32.4"
    assert status["nodeInfo"]["containerRuntimeVersion"] == "simulated://0.1.0"
    assert len(status["nodeInfo"]["machineID"]) == 32
    assert status["capacity"]["hugepages-2Mi"] == "0" and status["allocatable"] == status["capacity"]
    assert status["images"][0]["names"] == ["docker.io/library/busybox@sha256:2", "docker.io/library/busybox:latest"]
    assert "images" not in nodestatus.status(node, IDENT, [], 0.0)


def test_heartbeats_keep_transition_times_and_foreign_conditions() -> None:
    node = nodestatus.skeleton("sim-1")
    node["status"] = nodestatus.status(node, IDENT, [], 1000.0)
    node["status"]["conditions"].insert(0, {"type": "NetworkUnavailable", "status": "False"})
    later = nodestatus.status(node, IDENT, [], 2000.0)
    assert later["conditions"][0] == {"type": "NetworkUnavailable", "status": "False"}
    ready = later["conditions"][-1]
    assert ready["lastTransitionTime"] == "1970-01-01T00:16:40Z" and ready["lastHeartbeatTime"] == \
        "1970-01-01T00:33:20Z"
    assert nodestatus.report_key(node, IDENT, []) == nodestatus.report_key(node, IDENT, [])


def test_lease_and_heartbeat_annotation() -> None:
    lease = nodestatus.lease("sim-1", "uid-1", 1_700_000_000.5, "42")
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "sim-1",
                                                     "uid": "uid-1"}]
    assert lease["spec"] == {"holderIdentity": "sim-1", "leaseDurationSeconds": 40,
                             "renewTime": "2023-11-14T22:13:20.500000Z"}
    node = {"metadata": {"annotations": {nodestatus.HEARTBEAT_ANNOTATION: "stopped"}}}
    assert nodestatus.heartbeat_stopped(node) and not nodestatus.heartbeat_stopped({})
