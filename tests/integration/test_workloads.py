"""Deployments and ReplicaSets through the real kubectl (issue 4 acceptance: controllers on simulated nodes).

Pods run on the cluster's simulated node(s); annotations of the simulated
runtime slow their start (so a rollout can be watched) or keep them unready
(so a progress deadline passes). Pod watches run on a thread with the official
Python client and record every state the API showed.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cluster import Cluster

TUTORIAL = Path(__file__).resolve().parent.parent / "fixtures" / "tutorial"
SLOW_START = {"pocketkube.io/simulate-start-delay": "700ms"}


def deployment(name: str, replicas: int = 3, image: str = "nginx:1.25", *, strategy: dict[str, Any] | None = None,
               annotations: dict[str, str] | None = None, **spec: Any) -> str:
    template: dict[str, Any] = {"metadata": {"labels": {"app": name}},
                                "spec": {"containers": [{"name": "nginx", "image": image}]}}
    if annotations:
        template["metadata"]["annotations"] = annotations
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template,
                     **({"strategy": strategy} if strategy else {}), **spec}}
    return json.dumps(body)


def get(cluster: Cluster, ns: str, *what: str) -> Any:
    return json.loads(cluster.kubectl("get", *what, "-n", ns, "-o", "json").out)


def rows(text: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in text.splitlines()[1:] if line.strip()}


def rolled_out(cluster: Cluster, ns: str, name: str, replicas: int) -> bool:
    d = get(cluster, ns, "deployment", name)
    st = d.get("status") or {}
    return st.get("observedGeneration") == d["metadata"]["generation"] and \
        st.get("replicas") == st.get("updatedReplicas") == st.get("availableReplicas") == replicas


def wait_rolled_out(cluster: Cluster, ns: str, name: str, replicas: int, timeout: float = 60) -> None:
    cluster.wait_for(lambda: rolled_out(cluster, ns, name, replicas), timeout=timeout)


def live_pods(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    return [p for p in get(cluster, ns, "pods")["items"] if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (pod.get("status") or {}).get("conditions") or [])


class PodWatch:
    """Every pod state of a namespace the API reports, as (pods by name) snapshots."""

    def __init__(self, cluster: Cluster, ns: str) -> None:
        from kubernetes import client, watch
        self.api = client.CoreV1Api(cluster.api_client())
        self.ns = ns
        self.watch = watch.Watch()
        self.pods: dict[str, dict[str, Any]] = {}
        self.snapshots: list[dict[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.error: Exception | None = None
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for event in self.watch.stream(self.api.list_namespaced_pod, self.ns, timeout_seconds=120,
                                           _request_timeout=130):
                pod = self.api.api_client.sanitize_for_serialization(event["object"])
                with self.lock:
                    if event["type"] == "DELETED":
                        self.pods.pop(pod["metadata"]["name"], None)
                    else:
                        self.pods[pod["metadata"]["name"]] = pod
                    self.snapshots.append(dict(self.pods))
        except Exception as e:  # reported by watching() unless the watch was being stopped
            self.error = e

    def mark(self) -> int:
        with self.lock:
            return len(self.snapshots)

    def since(self, mark: int) -> list[dict[str, dict[str, Any]]]:
        with self.lock:
            return list(self.snapshots[mark:])


@contextmanager
def watching(cluster: Cluster, ns: str) -> Iterator[PodWatch]:
    w = PodWatch(cluster, ns)
    w.thread.start()
    try:
        yield w
        assert w.error is None, f"pod watch failed: {w.error!r}"
    finally:
        w.stopping = True
        w.watch.stop()
        w.api.api_client.close()
        w.thread.join(timeout=5)


def image_of(pod: dict[str, Any]) -> str:
    return str(pod["spec"]["containers"][0]["image"])


def test_tutorial_deployment_becomes_ready(cluster: Cluster, ns: str) -> None:
    manifest = (TUTORIAL / "deployment.yaml").read_text().replace("namespace: development", f"namespace: {ns}")
    assert cluster.kubectl("apply", "-f", "-", input=manifest).out.strip() == \
        "deployment.apps/pod-info-deployment created"
    wait_rolled_out(cluster, ns, "pod-info-deployment", 3)
    row = rows(cluster.kubectl("get", "deployments", "-n", ns).out)["pod-info-deployment"]
    assert row[1:4] == ["3/3", "3", "3"]
    rs = get(cluster, ns, "replicasets")["items"]
    assert len(rs) == 1
    h = rs[0]["metadata"]["labels"]["pod-template-hash"]
    assert rs[0]["metadata"]["name"] == f"pod-info-deployment-{h}" and re.fullmatch(r"[bcdfghjklmnpqrstvwxz2-9]+", h)
    pods = live_pods(cluster, ns)
    assert len(pods) == 3 and all(p["metadata"]["name"].startswith(f"pod-info-deployment-{h}-") for p in pods)
    assert all(p["metadata"]["ownerReferences"][0] | {"uid": ""} == {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs[0]["metadata"]["name"], "uid": "",
        "controller": True, "blockOwnerDeletion": True} for p in pods)


def test_a_deleted_pod_is_replaced(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=deployment("web"))
    wait_rolled_out(cluster, ns, "web", 3)
    victim = live_pods(cluster, ns)[0]["metadata"]["name"]
    assert cluster.kubectl("delete", "pod", victim, "-n", ns).out.strip() == f'pod "{victim}" deleted'

    def replaced() -> bool:
        pods = live_pods(cluster, ns)
        return len(pods) == 3 and victim not in {p["metadata"]["name"] for p in pods} and all(map(ready, pods))
    cluster.wait_for(replaced, timeout=30)
    rs_name = get(cluster, ns, "replicasets")["items"][0]["metadata"]["name"]
    described = cluster.kubectl("describe", "replicaset", rs_name, "-n", ns).out
    created = re.findall(rf"Normal\s+SuccessfulCreate\s+\S+\s+replicaset-controller\s+Created pod: {rs_name}-",
                         described)
    assert len(created) == 4  # three, then the replacement


def test_scale_up_and_back(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=deployment("web"))
    wait_rolled_out(cluster, ns, "web", 3)
    assert cluster.kubectl("scale", "deployment/web", "--replicas=5", "-n", ns).out.strip() == \
        "deployment.apps/web scaled"
    wait_rolled_out(cluster, ns, "web", 5)
    assert rows(cluster.kubectl("get", "deployments", "-n", ns).out)["web"][1:4] == ["5/5", "5", "5"]
    cluster.kubectl("scale", "deployment/web", "--replicas=3", "-n", ns)
    wait_rolled_out(cluster, ns, "web", 3)
    cluster.wait_for(lambda: len(live_pods(cluster, ns)) == 3)
    rs = get(cluster, ns, "replicasets")["items"][0]
    name = rs["metadata"]["name"]
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "3"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "4"
    events = cluster.kubectl("describe", "deployment", "web", "-n", ns).out
    for message in (f"Scaled up replica set {name} from 0 to 3", f"Scaled up replica set {name} from 3 to 5",
                    f"Scaled down replica set {name} from 5 to 3"):
        assert re.search(rf"Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+{message}", events), message


def test_rolling_update_keeps_surge_and_unavailability_bounds(cluster: Cluster, ns: str) -> None:
    replicas, surge, unavailable = 4, 1, 1
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    cluster.kubectl("apply", "-n", ns, "-f", "-",
                    input=deployment("web", replicas, strategy=strategy, annotations=SLOW_START))
    wait_rolled_out(cluster, ns, "web", replicas)
    with watching(cluster, ns) as w:
        cluster.wait_for(lambda: len(w.since(0)) >= replicas)  # the watch has listed the pods
        mark = w.mark()
        assert cluster.kubectl("set", "image", "deployment/web", "nginx=nginx:1.27", "-n", ns).out.strip() == \
            "deployment.apps/web image updated"
        status = cluster.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=70).out
        assert status.splitlines()[-1] == 'deployment "web" successfully rolled out'
        cluster.wait_for(lambda: all(image_of(p) == "nginx:1.27" for p in live_pods(cluster, ns)) and
                         len(live_pods(cluster, ns)) == replicas)
        snapshots = w.since(mark)
    assert any({image_of(p) for p in s.values()} == {"nginx:1.25", "nginx:1.27"} for s in snapshots)
    for snapshot in snapshots:
        live = [p for p in snapshot.values() if not p["metadata"].get("deletionTimestamp")]
        assert len(live) <= replicas + surge, [p["metadata"]["name"] for p in live]
        assert sum(map(ready, live)) >= replicas - unavailable, [p["metadata"]["name"] for p in live]


def test_rollout_history_undo_and_status(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=deployment("web", annotations=SLOW_START))
    wait_rolled_out(cluster, ns, "web", 3)
    first = get(cluster, ns, "replicasets")["items"][0]["metadata"]["name"]
    cluster.kubectl("set", "image", "deployment/web", "nginx=nginx:1.27", "-n", ns)
    cluster.kubectl("annotate", "deployment/web", "kubernetes.io/change-cause=upgrade to 1.27", "-n", ns)
    out = cluster.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=70).out
    lines = out.splitlines()
    assert lines[-1] == 'deployment "web" successfully rolled out'
    waiting = re.compile(r'Waiting for deployment spec update to be observed\.\.\.|Waiting for deployment "web" '
                         r'rollout to finish: (\d+ out of 3 new replicas have been updated|\d+ old replicas are '
                         r'pending termination|\d+ of 3 updated replicas are available)\.\.\.')
    assert all(waiting.fullmatch(line) for line in lines[:-1]), lines

    def history() -> list[list[str]]:
        out = cluster.kubectl("rollout", "history", "deployment/web", "-n", ns).out
        return [line.split(None, 1) for line in out.splitlines()[1:] if line.strip()]
    cluster.wait_for(lambda: history() == [["REVISION", "CHANGE-CAUSE"], ["1", "<none>"], ["2", "upgrade to 1.27"]])
    assert cluster.kubectl("rollout", "undo", "deployment/web", "-n", ns).out.strip() == \
        "deployment.apps/web rolled back"
    cluster.wait_for(lambda: get(cluster, ns, "deployment", "web")["metadata"]["annotations"].get(
        "deployment.kubernetes.io/revision") == "3")
    wait_rolled_out(cluster, ns, "web", 3)
    rss = {rs["metadata"]["name"]: rs for rs in get(cluster, ns, "replicasets")["items"]}
    assert len(rss) == 2  # the first ReplicaSet came back: no third one
    back = rss[first]["metadata"]["annotations"]
    assert back["deployment.kubernetes.io/revision"] == "3"
    assert back["deployment.kubernetes.io/revision-history"] == "1"
    assert rss[first]["spec"]["replicas"] == 3
    cluster.wait_for(lambda: {image_of(p) for p in live_pods(cluster, ns)} == {"nginx:1.25"})
    assert [row[0] for row in history()[1:]] == ["2", "3"]
    detail = cluster.kubectl("rollout", "history", "deployment/web", "-n", ns, "--revision=3").out
    assert "Image:\tnginx:1.25" in detail or re.search(r"Image:\s+nginx:1.25", detail)


def test_recreate_stops_every_old_pod_before_starting_new_ones(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=deployment("web", strategy={"type": "Recreate"}))
    wait_rolled_out(cluster, ns, "web", 3)
    with watching(cluster, ns) as w:
        cluster.wait_for(lambda: len(w.since(0)) >= 3)
        mark = w.mark()
        cluster.kubectl("set", "image", "deployment/web", "nginx=nginx:1.27", "-n", ns)
        wait_rolled_out(cluster, ns, "web", 3)
        cluster.wait_for(lambda: {image_of(p) for p in live_pods(cluster, ns)} == {"nginx:1.27"})
        snapshots = w.since(mark)
    assert any(not s for s in snapshots)  # a moment with no pod at all
    for snapshot in snapshots:
        images = {image_of(p) for p in snapshot.values()}
        assert images != {"nginx:1.25", "nginx:1.27"}, "new pods started beside old ones"


def test_pause_resume_and_restart(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=deployment("web"))
    wait_rolled_out(cluster, ns, "web", 3)
    assert cluster.kubectl("rollout", "pause", "deployment/web", "-n", ns).out.strip() == \
        "deployment.apps/web paused"
    cluster.kubectl("set", "image", "deployment/web", "nginx=nginx:1.27", "-n", ns)
    cluster.kubectl("scale", "deployment/web", "--replicas=4", "-n", ns)
    cluster.wait_for(lambda: get(cluster, ns, "deployment", "web")["status"].get("availableReplicas") == 4)
    d = get(cluster, ns, "deployment", "web")
    assert d["status"]["observedGeneration"] == d["metadata"]["generation"]
    progressing = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")
    assert len(get(cluster, ns, "replicasets")["items"]) == 1  # scaled, not rolled out
    assert cluster.kubectl("rollout", "resume", "deployment/web", "-n", ns).out.strip() == \
        "deployment.apps/web resumed"
    wait_rolled_out(cluster, ns, "web", 4)
    cluster.wait_for(lambda: {image_of(p) for p in live_pods(cluster, ns)} == {"nginx:1.27"})
    assert cluster.kubectl("rollout", "restart", "deployment/web", "-n", ns).out.strip() == \
        "deployment.apps/web restarted"
    cluster.wait_for(lambda: get(cluster, ns, "deployment", "web")["metadata"]["annotations"].get(
        "deployment.kubernetes.io/revision") == "3")
    wait_rolled_out(cluster, ns, "web", 4)
    newest = max(get(cluster, ns, "replicasets")["items"],
                 key=lambda rs: int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))
    assert "kubectl.kubernetes.io/restartedAt" in newest["spec"]["template"]["metadata"]["annotations"]


def test_describe_deployment_and_replicaset(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=deployment("web"))
    wait_rolled_out(cluster, ns, "web", 3)
    cluster.wait_for(lambda: "Progressing    True    NewReplicaSetAvailable" in
                     cluster.kubectl("describe", "deployment", "web", "-n", ns).out)
    rs = get(cluster, ns, "replicasets")["items"][0]["metadata"]["name"]
    out = cluster.kubectl("describe", "deployment", "web", "-n", ns).out
    for line in ("Annotations:            deployment.kubernetes.io/revision: 1",
                 "Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable",
                 "StrategyType:           RollingUpdate",
                 "RollingUpdateStrategy:  25% max unavailable, 25% max surge",
                 "  Available      True    MinimumReplicasAvailable",
                 "  Progressing    True    NewReplicaSetAvailable",
                 "OldReplicaSets:  <none>",
                 f"NewReplicaSet:   {rs} (3/3 replicas created)"):
        assert line in out.splitlines(), line
    assert re.search(rf"Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+"
                     rf"Scaled up replica set {rs} from 0 to 3", out)
    out = cluster.kubectl("describe", "replicaset", rs, "-n", ns).out
    for line in ("Controlled By:  Deployment/web", "Replicas:       3 current / 3 desired",
                 "Pods Status:    3 Running / 0 Waiting / 0 Succeeded / 0 Failed"):
        assert line in out.splitlines(), line
    created = re.findall(rf"Normal\s+SuccessfulCreate\s+\S+\s+replicaset-controller\s+Created pod: ({rs}-\w+)", out)
    assert sorted(created) == sorted(p["metadata"]["name"] for p in live_pods(cluster, ns))


def test_progress_deadline_exceeded(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=deployment(
        "stuck", 2, annotations={"pocketkube.io/simulate-ready": "false"}, progressDeadlineSeconds=2))
    result = cluster.kubectl("rollout", "status", "deployment/stuck", "-n", ns, "--timeout=60s", check=False,
                             timeout=70)
    assert result.returncode == 1
    assert 'error: deployment "stuck" exceeded its progress deadline' in result.stderr
    d = get(cluster, ns, "deployment", "stuck")
    rs = get(cluster, ns, "replicasets")["items"][0]["metadata"]["name"]
    conditions = {c["type"]: (c["status"], c["reason"], c["message"]) for c in d["status"]["conditions"]}
    assert conditions == {
        "Available": ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
        "Progressing": ("False", "ProgressDeadlineExceeded", f'ReplicaSet "{rs}" has timed out progressing.')}
