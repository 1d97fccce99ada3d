"""The `system:controller:<name>` ClusterRoles of kube-controller-manager's controllers (v1.32 defaults).

Theory of operation: upstream gives every controller loop its own service
account `kube-system/<name>` and a ClusterRole `system:controller:<name>` bound
to it (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go,
default feature gates of v1.32). These are the same roles, rule for rule.

pocketkube's controller-manager runs its controllers in one process with one
identity, the user `system:kube-controller-manager` (what upstream does with
`--use-service-account-credentials=false`). So that it runs with the union of
exactly the roles of the controllers it runs or will run (CONTROLLER_MANAGER_RUNS),
each of those bindings names that user besides the upstream service account.
Switching to per-controller service-account credentials later means emptying
that tuple; nothing else changes.
"""

from __future__ import annotations

from typing import Any

Rule = dict[str, Any]

READ = "get,list,watch"
RW = "create,delete,get,list,patch,update,watch"


def r(verbs: str, groups: str, resources: str, names: str = "") -> Rule:
    """A PolicyRule from comma-separated lists (`""` in groups is the core group), sorted as upstream."""
    rule: Rule = {"verbs": sorted(verbs.split(",")), "apiGroups": sorted(set(groups.split(","))),
                  "resources": sorted(resources.split(","))}
    if names:
        rule["resourceNames"] = sorted(names.split(","))
    return rule


def url(verbs: str, urls: str) -> Rule:
    return {"verbs": sorted(verbs.split(",")), "nonResourceURLs": sorted(urls.split(","))}


EVENTS = r("create,patch,update", ",events.k8s.io", "events")

CONTROLLER_ROLES: dict[str, list[Rule]] = {
    "attachdetach-controller": [
        r("list,watch", "", "persistentvolumeclaims,persistentvolumes"), r(READ, "", "nodes"),
        r("patch,update", "", "nodes/status"), r("list,watch", "", "pods"), EVENTS,
        r("create,delete,get,list,watch", "storage.k8s.io", "volumeattachments"),
        r(READ, "storage.k8s.io", "csidrivers"), r(READ, "storage.k8s.io", "csinodes")],
    "certificate-controller": [
        r("delete,get,list,watch", "certificates.k8s.io", "certificatesigningrequests"),
        r("update", "certificates.k8s.io", "certificatesigningrequests/approval,certificatesigningrequests/status"),
        r("approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client-kubelet"),
        r("sign", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client,"
          "kubernetes.io/kube-apiserver-client-kubelet,kubernetes.io/kubelet-serving,kubernetes.io/legacy-unknown"),
        r("create", "authorization.k8s.io", "subjectaccessreviews"), EVENTS],
    "clusterrole-aggregation-controller": [
        r("escalate,get,list,patch,update,watch", "rbac.authorization.k8s.io", "clusterroles")],
    "cronjob-controller": [
        r("get,list,update,watch", "batch", "cronjobs"), r(RW, "batch", "jobs"),
        r("update", "batch", "cronjobs/status"), r("update", "batch", "cronjobs/finalizers"),
        r("delete,list,watch", "", "pods"), EVENTS],
    "daemon-set-controller": [
        r(READ, "apps,extensions", "daemonsets"), r("update", "apps,extensions", "daemonsets/status"),
        r("update", "apps,extensions", "daemonsets/finalizers"), r("list,watch", "", "nodes"),
        r("create,delete,list,patch,watch", "", "pods"), r("create", "", "pods/binding"),
        r(RW, "apps", "controllerrevisions"), EVENTS],
    "deployment-controller": [
        r("get,list,update,watch", "apps,extensions", "deployments"),
        r("update", "apps,extensions", "deployments/status"), r("update", "apps,extensions", "deployments/finalizers"),
        r(RW, "apps,extensions", "replicasets"), r("get,list,update,watch", "", "pods"), EVENTS],
    "disruption-controller": [
        r(READ, "apps,extensions", "deployments"), r(READ, "apps,extensions", "replicasets"),
        r(READ, "", "replicationcontrollers"), r(READ, "policy", "poddisruptionbudgets"),
        r(READ, "apps", "statefulsets"), r("update", "policy", "poddisruptionbudgets/status"),
        r("patch,update", "", "pods/status"), r("get", "*", "*/scale"), EVENTS],
    "endpoint-controller": [
        r(READ, "", "pods,services"), r("create,delete,get,list,update,watch", "", "endpoints"),
        r("create", "", "endpoints/restricted"), EVENTS],
    "endpointslice-controller": [
        r(READ, "", "nodes,pods,services"), r("update", "", "services/finalizers"),
        r("create,delete,get,list,update,watch", "discovery.k8s.io", "endpointslices"), EVENTS],
    "endpointslicemirroring-controller": [
        r(READ, "", "endpoints,services"), r("update", "", "services/finalizers"),
        r("update", "", "endpoints/finalizers"),
        r("create,delete,get,list,update,watch", "discovery.k8s.io", "endpointslices"), EVENTS],
    "ephemeral-volume-controller": [
        r(READ, "", "pods"), r("update", "", "pods/finalizers"),
        r("create,get,list,watch", "", "persistentvolumeclaims"), EVENTS],
    "expand-controller": [
        r("get,list,patch,update,watch", "", "persistentvolumes"),
        r("patch,update", "", "persistentvolumeclaims/status"), r(READ, "", "persistentvolumeclaims"), EVENTS],
    "generic-garbage-collector": [r("delete,get,list,patch,update,watch", "*", "*"), EVENTS],
    "horizontal-pod-autoscaler": [
        r(READ, "autoscaling", "horizontalpodautoscalers"),
        r("update", "autoscaling", "horizontalpodautoscalers/status"), r("get,update", "*", "*/scale"),
        r("list,watch", "", "pods"), r("list,watch", "metrics.k8s.io", "pods"),
        r(READ, "custom.metrics.k8s.io", "*"), r(READ, "external.metrics.k8s.io", "*"), EVENTS],
    "job-controller": [
        r("get,list,patch,update,watch", "batch", "jobs"), r("update", "batch", "jobs/status"),
        r("update", "batch", "jobs/finalizers"), r("create,delete,list,patch,watch", "", "pods"), EVENTS],
    "legacy-service-account-token-cleaner": [
        r("get", "", "configmaps", "kube-apiserver-legacy-service-account-token-tracking"),
        r("delete,patch", "", "secrets")],
    "namespace-controller": [
        r("delete,get,list,watch", "", "namespaces"), r("update", "", "namespaces/finalize,namespaces/status"),
        r("delete,deletecollection,get,list,watch", "*", "*")],
    "node-controller": [
        r("delete,get,list,patch,update,watch", "", "nodes"), r("patch,update", "", "nodes/status"),
        r("patch,update", "", "pods/status"), r("delete,get,list,watch", "", "pods"), EVENTS],
    "persistent-volume-binder": [
        r("create,delete,get,list,update,watch", "", "persistentvolumes"),
        r("update", "", "persistentvolumes/status"), r("get,list,update,watch", "", "persistentvolumeclaims"),
        r("update", "", "persistentvolumeclaims/status"), r("create,delete,get,list,watch", "", "pods"),
        r(READ, "storage.k8s.io", "storageclasses"), r("list,watch", "", "nodes"), EVENTS,
        r("watch", "", "events")],
    "pod-garbage-collector": [
        r("delete,list,watch", "", "pods"), r(READ, "", "nodes"), r("patch", "", "pods/status")],
    "pv-protection-controller": [r("get,list,update,watch", "", "persistentvolumes"), EVENTS],
    "pvc-protection-controller": [
        r("get,list,update,watch", "", "persistentvolumeclaims"), r(READ, "", "pods"), EVENTS],
    "replicaset-controller": [
        r("get,list,update,watch", "apps,extensions", "replicasets"),
        r("update", "apps,extensions", "replicasets/status"), r("update", "apps,extensions", "replicasets/finalizers"),
        r("create,delete,list,patch,watch", "", "pods"), EVENTS],
    "replication-controller": [
        r("get,list,update,watch", "", "replicationcontrollers"), r("update", "", "replicationcontrollers/status"),
        r("update", "", "replicationcontrollers/finalizers"), r("create,delete,list,patch,watch", "", "pods"),
        EVENTS],
    "resourcequota-controller": [
        r("list,watch", "*", "*"), r("update", "", "resourcequotas/status"), EVENTS],
    "root-ca-cert-publisher": [r("create,update", "", "configmaps"), EVENTS],
    "route-controller": [r("list,watch", "", "nodes"), r("patch", "", "nodes/status"), EVENTS],
    "service-account-controller": [r("create", "", "serviceaccounts"), EVENTS],
    "service-controller": [
        r(READ, "", "services"), r("patch,update", "", "services/status"), r("list,watch", "", "nodes"), EVENTS],
    "statefulset-controller": [
        r("list,watch", "", "pods"), r(READ, "apps", "statefulsets"), r("update", "apps", "statefulsets/status"),
        r("update", "apps", "statefulsets/finalizers"), r("create,delete,get,patch,update", "", "pods"),
        r(RW, "apps", "controllerrevisions"), r("create,get,list,watch", "", "persistentvolumeclaims"),
        r("delete,update", "", "persistentvolumeclaims"), r("update", "", "pods/finalizers"), EVENTS],
    "ttl-after-finished-controller": [r("delete,get,list,watch", "batch", "jobs"), EVENTS],
    "ttl-controller": [r("list,patch,update,watch", "", "nodes"), EVENTS],
    "validatingadmissionpolicy-status-controller": [
        r(READ, "admissionregistration.k8s.io", "validatingadmissionpolicies"),
        r("get,patch,update", "admissionregistration.k8s.io", "validatingadmissionpolicies/status"), EVENTS],
}

# The controllers pocketkube's controller-manager runs now or is planned to run (one identity for all).
CONTROLLER_MANAGER_RUNS = (
    "namespace-controller", "service-account-controller", "root-ca-cert-publisher", "replicaset-controller",
    "deployment-controller", "generic-garbage-collector", "node-controller", "pod-garbage-collector",
    "job-controller", "cronjob-controller", "endpoint-controller", "endpointslice-controller",
    "endpointslicemirroring-controller", "statefulset-controller", "daemon-set-controller",
    "disruption-controller", "replication-controller", "resourcequota-controller", "horizontal-pod-autoscaler",
    "ttl-after-finished-controller", "ttl-controller", "service-controller",
)
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
