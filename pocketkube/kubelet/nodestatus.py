"""Node objects, node status and node Leases as a kubelet writes them (pure).

Theory of operation: a simulated node is an ordinary Node object carrying the
label `pocketkube.io/simulated=true` (kwok's "manage nodes with this
selector"); whoever creates it (the CLI, the agent's bootstrap, or a user's
`kubectl apply`) may give `status.capacity`/`allocatable`, and the agent fills
in the rest the way a kubelet registers: the standard labels
(kubernetes.io/hostname, os, arch and their beta twins), the kubelet's
annotations, spec.podCIDR(s) from the address plan (kubelet/ipam.py), and the
status: capacity/allocatable (defaults 4 CPU, 8Gi, 110 pods, 100Gi disk; the
simulated kubelet reserves nothing, so allocatable = capacity), the four
conditions with upstream reasons and messages, InternalIP and Hostname
addresses, daemonEndpoints, nodeInfo (kubeletVersion v1.32.4,
containerRuntimeVersion simulated://0.1.0) and the images present on the node.

A real node (kubelet/realnode.py) is the same object without the simulated
label, with the control-plane role label, and a `NodeIdentity` carrying what
was read from the host: capacity and allocatable, machine and boot ids, OS
image, kernel, architecture, the runtime's name and version; its Ready
condition turns False (KubeletNotReady, with the runtime's reason) while the
container runtime or its network is not ready.

`report_key` is the status without heartbeat times: the agent posts a status
when it differs from the last one posted, or every 5 minutes
(nodeStatusReportFrequency), as the kubelet does; the Lease is renewed every
10 s with leaseDurationSeconds 40.
"""

from __future__ import annotations

import hashlib
import platform
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pocketkube.kubelet.runtime.interface import ImageStatus
from pocketkube.kubelet.timefmt import micro_time, rfc3339

Obj = dict[str, Any]
SIMULATED_LABEL = "pocketkube.io/simulated"
AGENT_ANNOTATION = "pocketkube.io/node-agent"
HEARTBEAT_ANNOTATION = "pocketkube.io/simulate-heartbeat"
HEARTBEAT_STOPPED = "stopped"
KUBELET_VERSION = "v1.32.4"
KUBELET_PORT = 10250
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40
LEASE_RENEW_INTERVAL = 10.0
STATUS_CHECK_INTERVAL = 10.0
STATUS_REPORT_INTERVAL = 300.0
MAX_IMAGES = 50
DEFAULT_CAPACITY = {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"}
OS_IMAGE = "pocketkube simulated node"
NODE_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    name: str
    internal_ip: str
    pod_cidr: str
    boot_id: str
    runtime: str
    kubelet_port: int = KUBELET_PORT
    # Where the apiserver reaches this node's agent (logs/exec/port-forward): the agent runs on this machine.
    internal_dns: str = "localhost"
    # A real node's facts (simulated nodes: from the Node object and the defaults below).
    capacity: Mapping[str, str] | None = None
    allocatable: Mapping[str, str] | None = None
    os_image: str = OS_IMAGE
    machine_id: str = ""
    system_uuid: str = ""
    kernel: str = ""
    arch: str = "amd64"


def is_simulated(node: Obj) -> bool:
    return ((node.get("metadata") or {}).get("labels") or {}).get(SIMULATED_LABEL) == "true"


def heartbeat_stopped(node: Obj) -> bool:
    return ((node.get("metadata") or {}).get("annotations") or {}).get(HEARTBEAT_ANNOTATION) == HEARTBEAT_STOPPED


def machine_id(name: str) -> str:
    return hashlib.md5(f"pocketkube-node/{name}".encode()).hexdigest()


def system_uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.nodes.pocketkube.io"))


def standard_labels(name: str) -> dict[str, str]:
    return {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", SIMULATED_LABEL: "true"}


def standard_annotations(agent: str = "simulated") -> dict[str, str]:
    return {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            AGENT_ANNOTATION: agent}


CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


def real_node_labels(name: str, arch: str = "amd64") -> dict[str, str]:
    """A real node's labels: the kubelet's standard ones and the control-plane role (it hosts the control plane)."""
    return {"beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", CONTROL_PLANE_LABEL: ""}


def real_node(name: str, pod_cidr: str, runtime: str, arch: str = "amd64") -> Obj:
    """The Node object a real node registers with (its agent posts the status next)."""
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": real_node_labels(name, arch),
                         "annotations": standard_annotations(runtime)},
            "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}}


def skeleton(name: str, capacity: dict[str, str] | None = None, *, control_plane: bool = False) -> Obj:
    """The Node object a simulated node starts as (the agent completes it); the profile's first node
    hosts the control plane and carries its role label, as minikube's node does."""
    cap = {**DEFAULT_CAPACITY, **(capacity or {})}
    labels = {SIMULATED_LABEL: "true", **({CONTROL_PLANE_LABEL: ""} if control_plane else {})}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "status": {"capacity": dict(cap), "allocatable": dict(cap)}}


def registration_patch(node: Obj, pod_cidr: str) -> Obj | None:
    """The metadata/spec merge patch that completes a node's registration, or None if nothing is missing."""
    meta, spec = node.get("metadata") or {}, node.get("spec") or {}
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    name = meta.get("name", "")
    patch: Obj = {}
    missing_labels = {k: v for k, v in standard_labels(name).items() if k not in labels}
    missing_annotations = {k: v for k, v in standard_annotations().items() if k not in annotations}
    if missing_labels or missing_annotations:
        patch["metadata"] = {}
        if missing_labels:
            patch["metadata"]["labels"] = missing_labels
        if missing_annotations:
            patch["metadata"]["annotations"] = missing_annotations
    if not spec.get("podCIDR") and pod_cidr:
        patch["spec"] = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}
    return patch or None


def _resources(node: Obj, ident: NodeIdentity) -> tuple[dict[str, str], dict[str, str]]:
    if ident.capacity is not None:
        return dict(ident.capacity), dict(ident.allocatable or ident.capacity)
    status = node.get("status") or {}
    capacity = {**DEFAULT_CAPACITY, **(status.get("capacity") or {})}
    capacity.setdefault("hugepages-1Gi", "0")
    capacity.setdefault("hugepages-2Mi", "0")
    allocatable = {**capacity, **(status.get("allocatable") or {})}
    return capacity, allocatable


def _images(present: Sequence[ImageStatus]) -> list[Obj]:
    """One entry per image (its digest or id, then every tag), biggest first, as the kubelet lists them."""
    names: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    for i in sorted(present, key=lambda i: i.name):
        names.setdefault(i.ref, [i.ref])
        if i.name not in names[i.ref]:
            names[i.ref].append(i.name)
        sizes[i.ref] = i.size
    ranked = sorted(names, key=lambda ref: (-sizes[ref], names[ref][1:2], ref))[:MAX_IMAGES]
    return [{"names": names[ref], "sizeBytes": sizes[ref]} for ref in ranked]


def _conditions(not_ready: str) -> list[Obj]:
    out = [{"type": t, "status": s, "reason": r, "message": m} for t, s, r, m in NODE_CONDITIONS]
    if not_ready:
        out[-1] = {"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": not_ready}
    return out


def report_key(node: Obj, ident: NodeIdentity, present: Sequence[ImageStatus], not_ready: str = "") -> Obj:
    """The node status without heartbeat and transition times (not_ready: why the runtime is not ready)."""
    capacity, allocatable = _resources(node, ident)
    return {
        "capacity": capacity,
        "allocatable": allocatable,
        "conditions": _conditions(not_ready),
        "addresses": [{"type": "InternalIP", "address": ident.internal_ip}]
        + ([{"type": "InternalDNS", "address": ident.internal_dns}] if ident.internal_dns else [])
        + [{"type": "Hostname", "address": ident.name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": ident.kubelet_port}},
        "nodeInfo": {"machineID": ident.machine_id or machine_id(ident.name),
                     "systemUUID": ident.system_uuid or system_uuid(ident.name),
                     "bootID": ident.boot_id, "kernelVersion": ident.kernel or platform.release(),
                     "osImage": ident.os_image, "containerRuntimeVersion": ident.runtime,
                     "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": "", "operatingSystem": "linux",
                     "architecture": ident.arch},
    } | ({"images": _images(present)} if present else {})


def status(node: Obj, ident: NodeIdentity, present: Sequence[ImageStatus], now: float,
           not_ready: str = "") -> Obj:
    """The full node status to post at `now` (keeps conditions owned by others)."""
    out = report_key(node, ident, present, not_ready)
    previous = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or []}
    ours = {t for t, _, _, _ in NODE_CONDITIONS}
    stamped = [dict(c) for t, c in previous.items() if t not in ours]
    for c in out["conditions"]:
        before = previous.get(c["type"])
        same = before is not None and before.get("status") == c["status"] and before.get("lastTransitionTime")
        stamped.append({**c, "lastHeartbeatTime": rfc3339(now),
                        "lastTransitionTime": before["lastTransitionTime"] if same and before else rfc3339(now)})
    out["conditions"] = stamped
    return out


def lease(name: str, node_uid: str, now: float, resource_version: str = "") -> Obj:
    meta: Obj = {"name": name, "namespace": LEASE_NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}]
    if resource_version:
        meta["resourceVersion"] = resource_version
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION,
                     "renewTime": micro_time(now)}}
