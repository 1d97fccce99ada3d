"""A real cluster with a containerd node (`pocketkube start --node-runtime containerd`), driven by kubectl.

The tutorial from "Deploy an application" through "View your application logs" with a busybox
stand-in for pod-info-app (busybox httpd serving the downward-API values from its env on :3000),
image pull failures, limits (describe, cgroups, OOMKilled), crash loops, probes (readiness,
liveness restarts), volumes (configMap, the service account token), port-forward, mirror pods of
the control plane, then the node's life: killing the agent leaves the pods running and they are re-adopted,
`pocketkube stop` stops every container, `start` brings the pods back, `delete` leaves nothing on
the host (processes, mounts, cgroups, network namespaces, CNI bridge and chains).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from nodekit import e2e_mark

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))

from cluster import KUBECTL, Cluster

from pocketkube.kubelet import nodepurge
from pocketkube.kubelet.hostcleanup import HostSnapshot, default_cgroup_root, links, nat_chains, snapshot_host

pytestmark = e2e_mark()
PROFILE = f"pke2e{os.getpid()}"
NS = "development"
POD_NET = ipaddress.ip_network("10.244.0.0/24")
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: pod-info-deployment
  namespace: development
  labels: {app: pod-info}
spec:
  replicas: 3
  selector: {matchLabels: {app: pod-info}}
  template:
    metadata: {labels: {app: pod-info}}
    spec:
      containers:
      - name: pod-info-container
        image: busybox:latest
        ports: [{containerPort: 3000}]
        resources:
          requests: {cpu: 50m, memory: 16Mi}
          limits: {cpu: 500m, memory: 64Mi}
        command: ["sh", "-c"]
        args:
        - mkdir -p /www && printf '{"pod_name":"%s","pod_namespace":"%s","pod_ip":"%s"}' "$POD_NAME"
          "$POD_NAMESPACE" "$POD_IP" > /www/index.html && exec httpd -f -v -p 3000 -h /www
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
"""
BUSYBOX = """
apiVersion: v1
kind: Pod
metadata: {name: busybox, namespace: default}
spec:
  containers:
  - {name: busybox, image: busybox:latest, command: ["sleep", "3600"]}
"""


@pytest.fixture(scope="module")
def cluster(host_state: HostSnapshot) -> Iterator[Cluster]:
    before = snapshot_host()  # other e2e tests may have left cni0 for the session's teardown
    c = Cluster(PROFILE)
    try:
        c.start("--node-runtime", "containerd")
        yield c
    finally:
        profile_dir = c.tmp / "state" / PROFILE
        c.close()
        left = leaks(profile_dir, before)
        assert left == [], f"pocketkube delete left these behind: {left}"


def leaks(profile_dir: Path, before: HostSnapshot) -> list[str]:
    found = [f"process {p}" for p in nodepurge.profile_pids(profile_dir)]
    found += [f"mount {m}" for m in nodepurge.mounts_under(profile_dir)]
    top = default_cgroup_root(profile_dir).strip("/").split("/")
    found += [f"cgroup {p}" for p in Path("/sys/fs/cgroup").glob(f"*/{top[0]}/{top[1]}")]
    if "cni0" not in before.links and "cni0" in links():
        found.append("link cni0")
    found += [f"nat chain {c}" for c in nat_chains() - before.nat_chains]
    if profile_dir.exists():
        found.append(f"folder {profile_dir}")
    return found


def pods(c: Cluster, ns: str, selector: str = "") -> list[dict]:
    args = ["get", "pods", "-n", ns, "-o", "json"] + (["-l", selector] if selector else [])
    return list(json.loads(c.kubectl(*args).out)["items"])


def row(c: Cluster, ns: str, name: str) -> list[str]:
    return c.kubectl("get", "pod", name, "-n", ns, "--no-headers").out.split()


def running(c: Cluster, ns: str, selector: str, count: int) -> list[dict]:
    def ok() -> list[dict] | None:
        items = [p for p in pods(c, ns, selector) if not p["metadata"].get("deletionTimestamp")]
        good = [p for p in items if p["status"].get("phase") == "Running" and all(
            s.get("ready") for s in p["status"].get("containerStatuses") or [{}])]
        return good if len(good) == count == len(items) else None
    return list(c.wait_for(ok, timeout=60))


def test_the_node_is_real_and_hosts_the_control_plane(cluster: Cluster) -> None:
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").out)["items"]
    assert [n["metadata"]["name"] for n in nodes] == [PROFILE]
    node = nodes[0]
    assert node["spec"]["podCIDR"] == "10.244.0.0/24"
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://1.6")
    addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
    assert addresses["InternalDNS"] == "localhost" and not addresses["InternalIP"].startswith("127.")
    assert node["status"]["capacity"]["pods"] == "110" and int(node["status"]["capacity"]["cpu"]) >= 1
    assert "control-plane" in cluster.kubectl("get", "nodes").out

    def mirrors() -> str | None:
        out = cluster.kubectl("get", "pods", "-n", "kube-system").out
        ok = all(re.search(rf"^{name}-{PROFILE}\s+1/1\s+Running\s", out, re.M)
                 for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"))
        return out if ok else None
    cluster.wait_for(mirrors, timeout=30)
    logs = cluster.kubectl("logs", "-n", "kube-system", f"kube-apiserver-{PROFILE}", "--tail", "50").out
    assert re.search(r"^I\d{4} \d\d:\d\d:\d\d\.\d{6} ", logs, re.M)


def test_deploy_explore_and_view_logs(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", NS)
    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT)
    items = running(cluster, NS, "app=pod-info", 3)
    cluster.wait_for(lambda: "3/3     3            3" in cluster.kubectl("get", "deployments", "-n", NS).out)
    ips = [p["status"]["podIP"] for p in items]
    assert len(set(ips)) == 3 and all(ipaddress.ip_address(ip) in POD_NET for ip in ips)
    first = items[0]["metadata"]["name"]
    events = cluster.kubectl("describe", "pod", first, "-n", NS).out
    for reason in ("Scheduled", "Pulled", "Created", "Started"):
        assert re.search(rf"Normal\s+{reason}\s", events), events
    assert re.search(r"Limits:\s+cpu:\s+500m\s+memory:\s+64Mi", events)
    assert re.search(r"Requests:\s+cpu:\s+50m\s+memory:\s+16Mi", events)
    # deleting a pod brings a new one
    cluster.kubectl("delete", "pod", first, "-n", NS)
    items = running(cluster, NS, "app=pod-info", 3)
    assert first not in {p["metadata"]["name"] for p in items}
    # exec into a busybox pod and fetch a pod's page by its IP
    cluster.kubectl("apply", "-f", "-", input=BUSYBOX)
    running(cluster, "default", "", 1)
    target = items[0]
    out = cluster.kubectl("exec", "-i", "busybox", "--", "/bin/sh",
                          input=f"wget -qO- {target['status']['podIP']}:3000\nexit\n").out
    assert json.loads(out) == {"pod_name": target["metadata"]["name"], "pod_namespace": NS,
                               "pod_ip": target["status"]["podIP"]}
    logs = cluster.kubectl("logs", target["metadata"]["name"], "-n", NS).out
    assert re.search(r"\[::ffff:10\.244\.0\.\d+\]:\d+: response:200", logs), logs


def test_a_typo_in_the_image_backs_off(cluster: Cluster) -> None:
    cluster.kubectl("run", "typo", "--image=busyboxx:latest")
    cluster.wait_for(lambda: row(cluster, "default", "typo")[2] == "ImagePullBackOff", timeout=20)
    events = cluster.kubectl("describe", "pod", "typo").out
    assert re.search(r'Warning\s+Failed\s+.*Failed to pull image "busyboxx:latest": rpc error: code = NotFound', events)
    assert re.search(r"Warning\s+Failed\s+.*Error: ErrImagePull", events)
    assert re.search(r'Normal\s+BackOff\s+.*Back-off pulling image "busyboxx:latest"', events)
    cluster.kubectl("delete", "pod", "typo", "--wait=false")


def test_limits_are_enforced(cluster: Cluster) -> None:
    name = cluster.kubectl("get", "pods", "-n", NS, "-o", "name").out.split()[0]
    quota = cluster.kubectl("exec", "-n", NS, name, "--", "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us").out
    assert quota.strip() == "50000"
    hog = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hog"}, "spec": {
        "restartPolicy": "Never", "containers": [{
            "name": "hog", "image": "busybox", "command": ["dd", "if=/dev/zero", "of=/dev/null", "bs=200M"],
            "resources": {"limits": {"memory": "32Mi"}}}]}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(hog))
    cluster.wait_for(lambda: row(cluster, "default", "hog")[2] == "OOMKilled", timeout=30)
    state = json.loads(cluster.kubectl("get", "pod", "hog", "-o", "json").out)["status"]["containerStatuses"][0]
    assert state["state"]["terminated"]["reason"] == "OOMKilled" and state["state"]["terminated"]["exitCode"] == 137


def test_a_crashing_container_backs_off(cluster: Cluster) -> None:
    cluster.kubectl("run", "crash", "--image=busybox", "--", "sh", "-c", "echo dying; exit 3")
    cluster.wait_for(lambda: row(cluster, "default", "crash")[3] == "2", timeout=40)
    cluster.wait_for(lambda: row(cluster, "default", "crash")[2] == "CrashLoopBackOff", timeout=20)
    restarts = " ".join(row(cluster, "default", "crash")[3:6])
    assert re.match(r"^2 \(\d+s ago\)", restarts), restarts
    status = json.loads(cluster.kubectl("get", "pod", "crash", "-o", "json").out)["status"]["containerStatuses"][0]
    assert status["state"]["waiting"]["message"].startswith("back-off 20s restarting failed container=crash")
    assert status["lastState"]["terminated"]["exitCode"] == 3
    assert cluster.kubectl("logs", "crash").out == "dying\n"
    assert cluster.kubectl("logs", "crash", "--previous").out == "dying\n"
    assert "BackOff" in cluster.kubectl("describe", "pod", "crash").out


PROBED = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello-from-configmap}
---
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  terminationGracePeriodSeconds: 2  # httpd as PID 1 ignores SIGTERM: SIGKILL after the grace period
  containers:
  - name: web
    image: busybox
    command: ["sh", "-c", "touch /tmp/healthy; mkdir -p /w; cat /etc/cfg/greeting > /w/index.html;
              exec httpd -f -p 3000 -h /w"]
    readinessProbe:
      httpGet: {path: /, port: 3000}
      periodSeconds: 1
    livenessProbe:
      exec: {command: ["cat", "/tmp/healthy"]}
      periodSeconds: 1
      failureThreshold: 1
    volumeMounts: [{name: cfg, mountPath: /etc/cfg}]
  volumes:
  - name: cfg
    configMap: {name: settings}
"""


def test_probes_volumes_and_port_forward(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=PROBED)
    cluster.wait_for(lambda: row(cluster, "default", "probed")[1:3] == ["1/1", "Running"], timeout=30)
    token = cluster.kubectl("exec", "probed", "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    assert token.out == "default"
    port = 20000 + os.getpid() % 10000
    forward = subprocess.Popen([KUBECTL, "port-forward", "pod/probed", f"{port}:3000"], env=cluster.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        page = cluster.wait_for(lambda: _get(f"http://127.0.0.1:{port}/"), timeout=20)
        assert page == "hello-from-configmap"
    finally:
        forward.terminate()
        forward.wait(10)
    cluster.kubectl("exec", "probed", "--", "rm", "/tmp/healthy")
    cluster.wait_for(lambda: row(cluster, "default", "probed")[3] == "1", timeout=30)
    cluster.wait_for(lambda: row(cluster, "default", "probed")[1:3] == ["1/1", "Running"], timeout=15)
    time.sleep(2)  # the new instance stays: only the failed one was killed
    assert row(cluster, "default", "probed")[1:4] == ["1/1", "Running", "1"]
    events = cluster.kubectl("describe", "pod", "probed").out
    assert re.search(r"Warning\s+Unhealthy\s+.*Liveness probe failed: cat: can't open '/tmp/healthy'", events)
    assert re.search(r"Normal\s+Killing\s+\S+\s+kubelet\s+Container web failed liveness probe, will be restarted",
                     events), events


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return str(r.read().decode())
    except OSError:
        return None


def _container_pids(profile_dir: Path) -> set[int]:
    return nodepurge.cgroup_pids(default_cgroup_root(profile_dir))


def test_the_node_agent_restarts_and_the_cluster_stops_and_starts(cluster: Cluster) -> None:
    profile_dir = cluster.tmp / "state" / PROFILE
    before = {p["metadata"]["name"]: p for p in pods(cluster, NS, "app=pod-info")}
    pids = _container_pids(profile_dir)
    assert pids
    agent = int((profile_dir / "run" / "node-agent.pid").read_text())
    os.kill(agent, signal.SIGKILL)
    cluster.wait_for(lambda: (profile_dir / "run" / "node-agent.pid").read_text() != str(agent), timeout=20)
    time.sleep(3)  # the new agent re-adopts: nothing restarts
    assert _container_pids(profile_dir) == pids
    after = {p["metadata"]["name"]: p for p in running(cluster, NS, "app=pod-info", 3)}
    assert after.keys() == before.keys()
    for name, p in after.items():
        assert p["status"]["podIP"] == before[name]["status"]["podIP"]
        assert p["status"]["containerStatuses"][0]["restartCount"] == 0
    cluster.pocketkube("stop", "--profile", PROFILE)
    assert _container_pids(profile_dir) == set()
    assert nodepurge.profile_pids(profile_dir) == set()  # no containerd, no shims
    cluster.start()

    def restarted() -> list[dict] | None:  # the same pods, each container restarted once in a new sandbox
        items = running(cluster, NS, "app=pod-info", 3)
        done = all(p["status"]["containerStatuses"][0]["restartCount"] == 1 for p in items)
        return items if done else None
    items = cluster.wait_for(restarted, timeout=30)
    assert {p["metadata"]["name"] for p in items} == before.keys()
    assert "SandboxChanged" in cluster.kubectl("describe", "pod", items[0]["metadata"]["name"], "-n", NS).out
    target = items[0]
    out = cluster.kubectl("exec", "busybox", "--", "wget", "-qO-", f"{target['status']['podIP']}:3000").out
    assert json.loads(out)["pod_ip"] == target["status"]["podIP"]
