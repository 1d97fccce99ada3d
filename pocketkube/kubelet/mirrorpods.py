"""Mirror pods of the control plane: the API objects a kubelet posts for its static pods (pure).

Theory of operation: kubeadm runs kube-apiserver, kube-controller-manager and kube-scheduler as
static pods of the control-plane node; that node's kubelet posts a *mirror pod* for each, which
is what `kubectl get pods -n kube-system` lists. pocketkube runs these components as processes
of the profile's supervisor, so the node agent hosting the profile's first node posts the same
mirror pods for those processes:
- `mirror_pod`: `<component>-<node>` in kube-system, labels component=<name> and
  tier=control-plane, annotations kubernetes.io/config.hash / config.mirror (a hash of the pod's
  spec), config.seen and config.source=file, an ownerReference to the Node (controller), as the
  kubelet sets them; spec as kubeadm writes it: host network, priorityClassName
  system-node-critical, a NoExecute toleration, one container named after the component whose
  command is the process's command line and whose image names pocketkube's build of it.
- `mirror_status`: the process as the pod's only container: running since the process started
  (containerID process://<pid>, restartCount = how often the agent saw the pid change), ready
  while it runs, phase Running; waiting (ContainerCreating) while no process runs; the pod
  conditions of podstatus.conditions; hostIP = podIP = the node's IP (host network).
The SQLite datastore is not a separate pod: it is embedded in the kube-apiserver process (as
k3s embeds kine), and its URL shows in that pod's command (--storage=sqlite://...). An etcd
datastore is an external process pocketkube does not run, so it has no mirror pod either.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pocketkube import __version__
from pocketkube.kubelet import podstatus
from pocketkube.kubelet.timefmt import micro_time, rfc3339

Obj = dict[str, Any]
NAMESPACE = "kube-system"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
HASH_ANNOTATION = "kubernetes.io/config.hash"
SEEN_ANNOTATION = "kubernetes.io/config.seen"
SOURCE_ANNOTATION = "kubernetes.io/config.source"
PRIORITY_CLASS = "system-node-critical"


@dataclass(frozen=True, slots=True)
class Component:
    name: str  # the pod's container name: kube-apiserver
    part: str  # the supervisor's component: apiserver (run/<part>.pid, logs/<part>.log)

    def pod_name(self, node: str) -> str:
        return f"{self.name}-{node}"

    @property
    def image(self) -> str:
        return f"docker.io/pocketkube/{self.name}:v{__version__}"


COMPONENTS = (Component("kube-apiserver", "apiserver"),
              Component("kube-controller-manager", "controller-manager"),
              Component("kube-scheduler", "scheduler"))


@dataclass(frozen=True, slots=True)
class ProcessFacts:
    pid: int
    started_at: float
    command: tuple[str, ...]


def _spec(component: Component, node: str, command: Sequence[str]) -> Obj:
    container = {"name": component.name, "image": component.image, "command": list(command),
                 "imagePullPolicy": "IfNotPresent", "resources": {},
                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
    return {"containers": [container], "dnsPolicy": "ClusterFirst", "enableServiceLinks": True,
            "hostNetwork": True, "nodeName": node, "preemptionPolicy": "PreemptLowerPriority",
            "priorityClassName": PRIORITY_CLASS, "restartPolicy": "Always", "schedulerName": "default-scheduler",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "terminationGracePeriodSeconds": 30,
            "tolerations": [{"effect": "NoExecute", "operator": "Exists"}]}


def config_hash(spec: Obj) -> str:
    return hashlib.md5(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def mirror_pod(component: Component, node: str, node_uid: str, command: Sequence[str], seen_at: float) -> Obj:
    spec = _spec(component, node, command)
    digest = config_hash(spec)
    meta: Obj = {"name": component.pod_name(node), "namespace": NAMESPACE,
                 "labels": {"component": component.name, "tier": "control-plane"},
                 "annotations": {HASH_ANNOTATION: digest, MIRROR_ANNOTATION: digest,
                                 SEEN_ANNOTATION: micro_time(seen_at).replace("Z", "000Z"),
                                 SOURCE_ANNOTATION: "file"}}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid,
                                    "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def is_current(pod: Obj, component: Component, node: str, node_uid: str, command: Sequence[str]) -> bool:
    """The existing mirror pod matches what would be posted now (same spec hash, same node owner)."""
    meta = pod.get("metadata") or {}
    owners = meta.get("ownerReferences") or []
    owned = not node_uid or any(o.get("kind") == "Node" and o.get("uid") == node_uid for o in owners)
    return owned and (meta.get("annotations") or {}).get(MIRROR_ANNOTATION) == config_hash(
        _spec(component, node, command))


def _container_status(component: Component, facts: ProcessFacts | None, restarts: int) -> Obj:
    base: Obj = {"name": component.name, "image": component.image, "imageID": "", "lastState": {},
                 "restartCount": restarts}
    if facts is None:
        return {**base, "ready": False, "started": False, "state": {"waiting": {"reason": "ContainerCreating"}}}
    return {**base, "containerID": f"process://{facts.pid}", "ready": True, "started": True,
            "state": {"running": {"startedAt": rfc3339(facts.started_at)}}}


def mirror_status(pod: Obj, component: Component, facts: ProcessFacts | None, *, node_ip: str, restarts: int,
                  now: float) -> Obj:
    previous = pod.get("status") or {}
    container = _container_status(component, facts, restarts)
    phase = "Running" if facts is not None else "Pending"
    status: Obj = {"phase": phase, "conditions": podstatus.conditions(
        pod.get("spec") or {}, [], [container], pod_phase=phase, sandbox_ready=facts is not None,
        previous=list(previous.get("conditions") or []), now=now)}
    if node_ip:
        status.update({"hostIP": node_ip, "hostIPs": [{"ip": node_ip}], "podIP": node_ip, "podIPs": [{"ip": node_ip}]})
    status["startTime"] = previous.get("startTime") or rfc3339(facts.started_at if facts is not None else now)
    status["containerStatuses"] = [container]
    status["qosClass"] = previous.get("qosClass") or "BestEffort"
    return status
