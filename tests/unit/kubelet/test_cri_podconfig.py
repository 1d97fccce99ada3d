"""Pod -> CRI sandbox/container specs as the kubelet builds them, and the protobuf conversions."""

from __future__ import annotations

from typing import Any

import pytest

from pocketkube.kubelet.runtime import cri_convert as cv
from pocketkube.kubelet.runtime import cri_podconfig as pc
from pocketkube.kubelet.runtime.cri_pb import cri_pb2 as pb
from pocketkube.kubelet.runtime.cri_types import (
    ContainerSecurity,
    ContainerSpec,
    CRIContainerState,
    Mount,
    MountPropagation,
    NamespaceMode,
    NamespaceOptions,
    PodSandboxSpec,
    SecurityProfile,
)


@pytest.mark.parametrize(("milli", "shares"), [(0, 2), (1, 2), (2, 2), (100, 102), (250, 256), (1000, 1024),
                                               (500_000, 262144)])
def test_milli_cpu_to_shares(milli: int, shares: int) -> None:
    assert pc.milli_cpu_to_shares(milli) == shares


@pytest.mark.parametrize(("milli", "quota"), [(0, 0), (1, 1000), (5, 1000), (10, 1000), (250, 25000),
                                              (500, 50000), (2000, 200000)])
def test_milli_cpu_to_quota(milli: int, quota: int) -> None:
    assert pc.milli_cpu_to_quota(milli, 100000) == quota


def _c(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> dict[str, object]:
    return {"name": "c", "resources": {"requests": requests or {}, "limits": limits or {}}}


def test_resources_as_the_kubelet_computes_them() -> None:
    r = pc.linux_resources(_c({"cpu": "250m", "memory": "32Mi"}, {"cpu": "500m", "memory": "64Mi"}), "Burstable",
                           1 << 30)
    assert (r.cpu_shares, r.cpu_quota, r.cpu_period, r.memory_limit_in_bytes) == (256, 50000, 100000, 64 << 20)
    assert r.oom_score_adj == 1000 - (1000 * (32 << 20)) // (1 << 30)
    only_limit = pc.linux_resources(_c(limits={"cpu": "1", "memory": "1Gi"}), "Guaranteed", 1 << 30)
    assert (only_limit.cpu_shares, only_limit.cpu_quota, only_limit.oom_score_adj) == (1024, 100000, -997)
    none = pc.linux_resources({"name": "c"}, "BestEffort")
    assert (none.cpu_shares, none.cpu_quota, none.memory_limit_in_bytes, none.oom_score_adj) == (2, 0, 0, 1000)


@pytest.mark.parametrize(("request_bytes", "capacity", "adj"), [(0, 100, 999), (99, 100, 10), (100, 100, 3),
                                                                 (200, 100, 3), (50, 100, 500)])
def test_burstable_oom_score_adj(request_bytes: int, capacity: int, adj: int) -> None:
    assert pc.oom_score_adj("Burstable", request_bytes, capacity) == adj


POD: dict[str, Any] = {
    "metadata": {"name": "web-" + "x" * 70, "namespace": "default", "uid": "u-1", "labels": {"app": "web"},
                 "annotations": {"note": "1"}},
    "spec": {"containers": [{"name": "httpd", "image": "busybox", "command": ["httpd"], "args": ["-f"],
                             "workingDir": "/www", "tty": True,
                             "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {}}],
                             "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 53,
                                                                                 "protocol": "UDP"}],
                             "securityContext": {"allowPrivilegeEscalation": False,
                                                 "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}}],
             "securityContext": {"runAsUser": 1000, "supplementalGroups": [5],
                                 "sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"}]},
             "terminationGracePeriodSeconds": 30},
    "status": {"qosClass": "BestEffort"},
}


def test_sandbox_spec_from_pod() -> None:
    s = pc.sandbox_spec(POD, log_root="/p/var/log/pods", cgroup_root="/pocketkube/kubepods", attempt=1)
    assert s.hostname == ("web-" + "x" * 70)[:63] and s.attempt == 1
    assert s.log_directory == "/p/var/log/pods/default_" + POD["metadata"]["name"] + "_u-1"
    assert s.cgroup_parent == "/pocketkube/kubepods/besteffort/podu-1"
    assert s.labels == {"app": "web", "io.kubernetes.pod.name": POD["metadata"]["name"],
                        "io.kubernetes.pod.namespace": "default", "io.kubernetes.pod.uid": "u-1"}
    assert s.annotations == {"note": "1"}
    assert [(p.container_port, p.host_port, p.protocol) for p in s.port_mappings] == [(80, 8080, "TCP"),
                                                                                      (53, 0, "UDP")]
    assert s.namespace_options == NamespaceOptions(NamespaceMode.POD, NamespaceMode.CONTAINER, NamespaceMode.POD)
    assert (s.run_as_user, s.supplemental_groups) == (1000, (5,))
    assert s.sysctls == {"net.ipv4.ip_local_port_range": "1024 65535"}


def test_host_namespaces_and_hostname() -> None:
    pod = {"metadata": {"name": "h", "namespace": "kube-system", "uid": "u"},
           "spec": {"hostNetwork": True, "hostPID": True, "hostIPC": True, "hostname": "ignored", "containers": []}}
    s = pc.sandbox_spec(pod)
    assert s.hostname == ""  # runc refuses a hostname without its own UTS namespace
    assert s.namespace_options == NamespaceOptions(NamespaceMode.NODE, NamespaceMode.NODE, NamespaceMode.NODE)
    assert s.cgroup_parent == "/kubepods/besteffort/podu" and s.log_directory == "/var/log/pods/kube-system_h_u"
    shared = pc.sandbox_spec({"metadata": {"name": "s"}, "spec": {"shareProcessNamespace": True, "hostname": "x"}})
    assert shared.namespace_options.pid is NamespaceMode.POD and shared.hostname == "x"


def test_container_spec_from_pod() -> None:
    container = POD["spec"]["containers"][0]
    c = pc.container_spec(POD, container, restart_count=3, init=True)
    assert (c.name, c.image, c.attempt, c.command, c.args, c.working_dir, c.tty) == (
        "httpd", "busybox", 3, ("httpd",), ("-f",), "/www", True)
    assert c.envs == (("A", "1"),) and c.log_path == "httpd/3.log"
    assert c.labels["io.kubernetes.container.name"] == "httpd" and c.labels["io.kubernetes.pod.uid"] == "u-1"
    assert c.annotations["io.kubernetes.container.restartCount"] == "3"
    assert c.annotations["io.kubernetes.pod.terminationGracePeriod"] == "30"
    assert c.annotations["io.kubernetes.container.terminationMessagePath"] == "/dev/termination-log"
    assert c.annotations["io.pocketkube.container.init"] == "true"
    assert c.annotations["io.kubernetes.container.hash"] == pc.container_hash(container)
    sec = c.security
    assert sec.no_new_privs and sec.add_capabilities == ("NET_ADMIN",) and sec.drop_capabilities == ("ALL",)
    assert sec.run_as_user == 1000 and sec.namespace_options.pid is NamespaceMode.CONTAINER
    envs = pc.container_spec(POD, container, envs=(("X", "y"),)).envs
    assert envs == (("X", "y"),)


def test_sandbox_to_protobuf() -> None:
    spec = PodSandboxSpec(name="n", namespace="ns", uid="u", run_as_user=0, seccomp=SecurityProfile("Unconfined"))
    cfg = cv.sandbox_config(spec)
    ctx = cfg.linux.security_context
    assert ctx.namespace_options.pid == pb.CONTAINER  # explicit: unset would mean POD
    assert ctx.HasField("run_as_user") and ctx.run_as_user.value == 0 and not ctx.HasField("run_as_group")
    assert ctx.seccomp.profile_type == pb.SecurityProfile.Unconfined
    assert not cfg.HasField("dns_config") and not cfg.linux.HasField("resources")


def test_container_to_protobuf() -> None:
    spec = ContainerSpec(name="c", image="busybox", mounts=(Mount("/data", "/host", True,
                                                                  MountPropagation.HOST_TO_CONTAINER),),
                         security=ContainerSecurity(privileged=True, run_as_group=7))
    cfg = cv.container_config(spec)
    assert cfg.image.image == "busybox" and cfg.image.user_specified_image == "busybox"
    assert cfg.mounts[0].propagation == pb.PROPAGATION_HOST_TO_CONTAINER and cfg.mounts[0].readonly
    sec = cfg.linux.security_context
    assert sec.privileged and sec.run_as_group.value == 7 and not sec.HasField("run_as_user")
    assert sec.namespace_options.pid == pb.CONTAINER and not cfg.linux.HasField("resources")


def test_status_from_protobuf() -> None:
    s = pb.ContainerStatus(id="c1", metadata=pb.ContainerMetadata(name="app", attempt=2), state=pb.CONTAINER_EXITED,
                           created_at=1_700_000_000_000_000_000, started_at=1_700_000_001_000_000_000,
                           exit_code=137, reason="OOMKilled", image=pb.ImageSpec(image="docker.io/library/busybox:latest"),
                           mounts=[pb.Mount(container_path="/a", host_path="/b", propagation=pb.PROPAGATION_BIDIRECTIONAL)])
    st = cv.container_status_from_pb(s)
    assert st.state is CRIContainerState.EXITED and st.created_at == 1_700_000_000.0
    assert st.started_at == 1_700_000_001.0 and st.finished_at is None and st.resources is None
    assert st.mounts[0].propagation is MountPropagation.BIDIRECTIONAL and st.reason == "OOMKilled"
    img = cv.image_from_pb(pb.Image(id="sha256:x", uid=pb.Int64Value(value=0)))
    assert img.uid == 0 and cv.image_from_pb(pb.Image(id="sha256:y")).uid is None
