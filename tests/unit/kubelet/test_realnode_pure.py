"""The real node's pure pieces: pod DNS and /etc/hosts, mirror pods, the real Node's status, host
capacity, plain component logs, which container `kubectl logs` reads, the CLI's node-runtime choice,
the host snapshot `pocketkube delete` restores from."""

from __future__ import annotations

from pathlib import Path

import pytest

from pocketkube.cli import lifecycle
from pocketkube.cli.profile import Settings
from pocketkube.kubelet import logs, mirrorpods, nodepurge, nodestatus, poddns
from pocketkube.kubelet.crilocator import log_container_id
from pocketkube.kubelet.hostcleanup import HostSnapshot
from pocketkube.kubelet.hostinfo import HostFacts
from pocketkube.kubelet.mirrorpods import COMPONENTS, ProcessFacts
from pocketkube.kubelet.runtime.interface import ImageStatus

HOST = poddns.ResolvConf(("10.255.255.53",), ("corp.example",), ("edns0",))


def pod(**spec: object) -> dict:
    return {"metadata": {"name": "web-1", "namespace": "development"}, "spec": {"containers": [], **spec}}


def test_cluster_first_dns_is_the_cluster_server_with_the_namespace_searches() -> None:
    dns = poddns.dns_config(pod(), HOST)
    assert dns.servers == ("10.96.0.10",)
    assert dns.searches == ("development.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example")
    assert dns.options == ("ndots:5",)


def test_other_dns_policies() -> None:
    assert poddns.dns_config(pod(dnsPolicy="Default"), HOST).servers == ("10.255.255.53",)
    host_net = poddns.dns_config(pod(hostNetwork=True), HOST)
    assert host_net.servers == ("10.255.255.53",) and host_net.options == ("edns0",)
    assert poddns.dns_config(pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), HOST).servers == (
        "10.96.0.10",)
    custom = poddns.dns_config(pod(dnsPolicy="None", dnsConfig={
        "nameservers": ["1.1.1.1", "1.1.1.1", "8.8.8.8"], "searches": ["a.b"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "rotate"}]}), HOST)
    assert (custom.servers, custom.searches, custom.options) == (("1.1.1.1", "8.8.8.8"), ("a.b",),
                                                                 ("ndots:2", "rotate"))
    merged = poddns.dns_config(pod(dnsConfig={"options": [{"name": "ndots", "value": "1"}]}), HOST)
    assert merged.options == ("ndots:1",)


def test_resolv_conf_parsing() -> None:
    text = "# comment\nnameserver 10.0.0.1\nnameserver 10.0.0.2 ; x\nsearch a b\noptions ndots:2 timeout:1\n"
    assert poddns.parse_resolv_conf(text) == poddns.ResolvConf(("10.0.0.1", "10.0.0.2"), ("a", "b"),
                                                               ("ndots:2", "timeout:1"))


def test_hosts_file_as_the_kubelet_writes_it() -> None:
    text = poddns.hosts_file(pod(hostAliases=[{"ip": "10.1.2.3", "hostnames": ["foo", "bar"]}]), ["10.244.0.7"])
    assert text == ("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
                    "ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\n"
                    "fe00::2\tip6-allrouters\n10.244.0.7\tweb-1\n\n# Entries added by HostAliases.\n"
                    "10.1.2.3\tfoo\tbar\n")
    sub = poddns.hosts_file(pod(hostname="db", subdomain="dbs"), ["10.244.0.8"])
    assert "10.244.0.8\tdb.dbs.development.svc.cluster.local\tdb\n" in sub
    node = poddns.hosts_file(pod(hostNetwork=True), ["192.0.2.2"], node_hosts="127.0.0.1 localhost\n")
    assert node == "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n"
    assert poddns.mounts_etc_hosts({"volumeMounts": [{"name": "h", "mountPath": "/etc/hosts"}]})


def test_mirror_pods_look_like_kubeadm_static_pods() -> None:
    api = COMPONENTS[0]
    obj = mirrorpods.mirror_pod(api, "dev", "node-uid", ["python", "-m", "pocketkube.cmd.apiserver"], 1.7e9)
    meta, spec = obj["metadata"], obj["spec"]
    assert (meta["name"], meta["namespace"]) == ("kube-apiserver-dev", "kube-system")
    assert meta["labels"] == {"component": "kube-apiserver", "tier": "control-plane"}
    notes = meta["annotations"]
    assert notes["kubernetes.io/config.source"] == "file"
    assert notes["kubernetes.io/config.mirror"] == notes["kubernetes.io/config.hash"]
    assert notes["kubernetes.io/config.seen"].endswith("000Z")
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "dev", "uid": "node-uid",
                                        "controller": True}]
    assert spec["priorityClassName"] == "system-node-critical" and spec["hostNetwork"] is True
    assert spec["nodeName"] == "dev" and spec["containers"][0]["name"] == "kube-apiserver"
    assert mirrorpods.is_current(obj, api, "dev", "node-uid", ["python", "-m", "pocketkube.cmd.apiserver"])
    assert not mirrorpods.is_current(obj, api, "dev", "other-uid", ["python", "-m", "pocketkube.cmd.apiserver"])
    assert not mirrorpods.is_current(obj, api, "dev", "node-uid", ["python"])


def test_mirror_status_is_running_while_the_process_runs() -> None:
    api = COMPONENTS[0]
    obj = mirrorpods.mirror_pod(api, "dev", "u", ["x"], 1.7e9)
    status = mirrorpods.mirror_status(obj, api, ProcessFacts(42, 1.7e9, ("x",)), node_ip="192.0.2.2", restarts=1,
                                      now=1.7e9 + 5)
    assert status["phase"] == "Running" and status["podIP"] == status["hostIP"] == "192.0.2.2"
    cs = status["containerStatuses"][0]
    assert cs["containerID"] == "process://42" and cs["ready"] and cs["restartCount"] == 1
    assert "running" in cs["state"]
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    down = mirrorpods.mirror_status(obj, api, None, node_ip="192.0.2.2", restarts=1, now=1.7e9 + 5)
    assert down["phase"] == "Pending" and down["containerStatuses"][0]["state"]["waiting"]["reason"]


def facts() -> HostFacts:
    return HostFacts(cpus=2, memory_bytes=8 << 30, storage_bytes=100 << 30, machine_id="m" * 32, system_uuid="s",
                     boot_id="b", kernel="6.1", os_image="Debian GNU/Linux 12 (bookworm)", arch="amd64")


def test_host_capacity_and_allocatable_with_the_default_eviction_thresholds() -> None:
    h = facts()
    assert h.capacity() == {"cpu": "2", "ephemeral-storage": "104857600Ki", "hugepages-1Gi": "0",
                            "hugepages-2Mi": "0", "memory": "8388608Ki", "pods": "110"}
    alloc = h.allocatable()
    assert alloc["memory"] == "8286208Ki" and alloc["ephemeral-storage"] == str(int((100 << 30) * 0.9))


def test_a_real_node_reports_the_host_and_the_runtime() -> None:
    h = facts()
    ident = nodestatus.NodeIdentity(name="dev", internal_ip="192.0.2.2", pod_cidr="10.244.0.0/24", boot_id="b",
                                    runtime="containerd://1.6.20~ds1", capacity=h.capacity(),
                                    allocatable=h.allocatable(), os_image=h.os_image, machine_id=h.machine_id,
                                    system_uuid=h.system_uuid, kernel=h.kernel)
    node = nodestatus.real_node("dev", "10.244.0.0/24", "containerd")
    assert nodestatus.CONTROL_PLANE_LABEL in node["metadata"]["labels"]
    assert nodestatus.SIMULATED_LABEL not in node["metadata"]["labels"]
    assert node["metadata"]["annotations"][nodestatus.AGENT_ANNOTATION] == "containerd"
    key = nodestatus.report_key(node, ident, [ImageStatus("docker.io/library/busybox:latest", "sha256:1", 10)])
    assert key["capacity"]["cpu"] == "2" and key["allocatable"]["memory"] == "8286208Ki"
    assert key["nodeInfo"]["containerRuntimeVersion"] == "containerd://1.6.20~ds1"
    assert key["nodeInfo"]["osImage"] == "Debian GNU/Linux 12 (bookworm)" and key["nodeInfo"]["kernelVersion"] == "6.1"
    assert {"type": "InternalIP", "address": "192.0.2.2"} in key["addresses"]
    assert {"type": "InternalDNS", "address": "localhost"} in key["addresses"]
    down = nodestatus.report_key(node, ident, [], "container runtime network not ready: NetworkReady=false")
    assert down["conditions"][-1] == {"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                                      "message": "container runtime network not ready: NetworkReady=false"}


def test_plain_component_logs_get_their_klog_times() -> None:
    clock = logs.PlainClock(2026, 5)
    first = clock.record(b"I1122 03:04:05.123456   42 server.py:1] serving")
    assert logs.format_time(first.ts_ns) == "2026-11-22T03:04:05.123456Z" and first.stream == "stdout"
    assert clock.record(b"  a traceback line").ts_ns == first.ts_ns  # no header: the previous line's time
    js = clock.record(b'{"ts": "2026-11-22T03:04:06.000001+00:00", "level": "info"}')
    assert logs.format_time(js.ts_ns) == "2026-11-22T03:04:06.000001Z"
    records, rest = logs.split_records(b"I1122 03:04:05.000000 1 a.py:1] x\npartial", clock)
    assert [r.content for r in records] == [b"I1122 03:04:05.000000 1 a.py:1] x"] and rest == b"partial"


def test_logs_read_the_instance_the_kubelet_would() -> None:
    running = {"containerStatuses": [{"name": "app", "containerID": "containerd://new", "state": {"running": {}},
                                      "lastState": {"terminated": {"containerID": "containerd://old"}}}]}
    assert log_container_id(running, "app", False) == "new"
    assert log_container_id(running, "app", True) == "old"
    backoff = {"containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                      "lastState": {"terminated": {"containerID": "containerd://last"}}}]}
    assert log_container_id(backoff, "app", False) == log_container_id(backoff, "app", True) == "last"
    assert log_container_id(backoff, "other", False) == ""


def test_the_node_runtime_is_chosen_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "missing_prerequisites", lambda: [])
    monkeypatch.delenv(lifecycle.NODE_RUNTIME_ENV, raising=False)
    assert lifecycle.choose_node_runtime(Settings(), None) == "containerd"
    assert lifecycle.choose_node_runtime(Settings(), "simulated") == "simulated"
    monkeypatch.setenv(lifecycle.NODE_RUNTIME_ENV, "simulated")
    assert lifecycle.choose_node_runtime(Settings(), None) == "simulated"
    kept = Settings(extra={"node_runtime": "containerd"})
    assert lifecycle.choose_node_runtime(kept, None) == "containerd"
    with pytest.raises(lifecycle.LifecycleError, match="delete it"):
        lifecycle.choose_node_runtime(kept, "simulated")
    monkeypatch.delenv(lifecycle.NODE_RUNTIME_ENV)
    monkeypatch.setattr(lifecycle, "missing_prerequisites", lambda: ["root"])
    assert lifecycle.choose_node_runtime(Settings(), None) == "simulated"
    with pytest.raises(lifecycle.LifecycleError, match="needs root"):
        lifecycle.choose_node_runtime(Settings(), "containerd")


def test_the_host_snapshot_is_kept_once(tmp_path: Path) -> None:
    first = HostSnapshot(frozenset({"lo", "eth0"}), frozenset({"CNI-X"}), "0")
    nodepurge.save_host_snapshot(tmp_path, first)
    nodepurge.save_host_snapshot(tmp_path, HostSnapshot(frozenset({"cni0"}), frozenset(), "1"))
    assert nodepurge.load_host_snapshot(tmp_path) == first
    assert nodepurge.load_host_snapshot(tmp_path / "none") is None
    assert nodepurge.mounts_under(tmp_path) == []  # nothing is mounted under a fresh folder


def test_missing_prerequisites_name_the_apt_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from pocketkube.kubelet import noderuntime

    monkeypatch.setattr(noderuntime.os.path, "exists", lambda p: p != "/usr/sbin/runc")
    monkeypatch.setattr(noderuntime.os, "geteuid", lambda: 0)
    assert noderuntime.missing_prerequisites() == ["/usr/sbin/runc (apt package runc)"]
