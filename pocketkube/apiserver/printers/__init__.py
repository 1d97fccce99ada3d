"""Server-side Table printers (meta.k8s.io/v1 Table columns and cells), as kube-apiserver v1.32.

Theory of operation: kubectl's human-readable `get` output is entirely the server's
Table. Upstream registers, per internal type, a list of column definitions and a row
function (`pkg/printers/internalversion/printers.go`) and always calls it with
Wide=true; kinds without one get the default table (`Name`, `Created At`) of
`apiserver/pkg/registry/rest/table.go`. Here the same pairs are `Printer`s keyed by
(API group, kind) and applied to JSON objects as the API serves them; group modules
hold the row logic (core, services/nodes, pods, events, apps, batch, autoscaling,
networking, rbac, storage, admission, resource, other).

Public API:
    Column, Printer                 column definition / printer dataclasses
    printer_for(group, kind)        the printer, or the default table
    has_printer / registered_printers  which kinds have their own printer
    row_conditions(group, kind, o)  TableRow.conditions upstream adds (pods: Completed)
    human_duration(seconds)         apimachinery HumanDuration
    translate_timestamp_since(ts, now)
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.printers import (
    admission,
    apps,
    autoscaling,
    batch,
    core,
    events,
    networking,
    other,
    rbac,
    resource,
    services,
    storage,
)
from pocketkube.apiserver.printers.columns import DEFAULT_PRINTER, Column, Printer
from pocketkube.apiserver.printers.duration import human_duration, translate_timestamp_since
from pocketkube.apiserver.printers.pods import POD, pod_row_conditions

__all__ = [
    "DEFAULT_PRINTER",
    "Column",
    "Printer",
    "human_duration",
    "has_printer",
    "printer_for",
    "registered_printers",
    "row_conditions",
    "translate_timestamp_since",
]

_ADM = "admissionregistration.k8s.io"
_FC = "flowcontrol.apiserver.k8s.io"

_PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Pod"): POD,
    ("", "PodTemplate"): core.PODTEMPLATE,
    ("", "ReplicationController"): core.REPLICATIONCONTROLLER,
    ("", "Service"): services.SERVICE,
    ("", "Endpoints"): services.ENDPOINTS,
    ("", "Node"): services.NODE,
    ("", "Event"): events.EVENT,
    ("", "Namespace"): core.NAMESPACE,
    ("", "Secret"): core.SECRET,
    ("", "ServiceAccount"): core.SERVICEACCOUNT,
    ("", "PersistentVolume"): core.PERSISTENTVOLUME,
    ("", "PersistentVolumeClaim"): core.PERSISTENTVOLUMECLAIM,
    ("", "ComponentStatus"): core.COMPONENTSTATUS,
    ("", "ConfigMap"): core.CONFIGMAP,
    ("", "ResourceQuota"): core.RESOURCEQUOTA,
    ("apps", "Deployment"): apps.DEPLOYMENT,
    ("apps", "ReplicaSet"): apps.REPLICASET,
    ("apps", "DaemonSet"): apps.DAEMONSET,
    ("apps", "StatefulSet"): apps.STATEFULSET,
    ("apps", "ControllerRevision"): apps.CONTROLLERREVISION,
    ("batch", "Job"): batch.JOB,
    ("batch", "CronJob"): batch.CRONJOB,
    ("autoscaling", "HorizontalPodAutoscaler"): autoscaling.HORIZONTALPODAUTOSCALER,
    ("autoscaling", "Scale"): autoscaling.SCALE,
    ("networking.k8s.io", "Ingress"): networking.INGRESS,
    ("networking.k8s.io", "IngressClass"): networking.INGRESSCLASS,
    ("networking.k8s.io", "NetworkPolicy"): networking.NETWORKPOLICY,
    ("networking.k8s.io", "ServiceCIDR"): networking.SERVICECIDR,
    ("networking.k8s.io", "IPAddress"): networking.IPADDRESS,
    ("discovery.k8s.io", "EndpointSlice"): networking.ENDPOINTSLICE,
    ("events.k8s.io", "Event"): events.EVENTS_V1,
    ("rbac.authorization.k8s.io", "RoleBinding"): rbac.ROLEBINDING,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): rbac.CLUSTERROLEBINDING,
    ("certificates.k8s.io", "CertificateSigningRequest"): other.CERTIFICATESIGNINGREQUEST,
    ("certificates.k8s.io", "ClusterTrustBundle"): other.CLUSTERTRUSTBUNDLE,
    ("coordination.k8s.io", "Lease"): other.LEASE,
    ("coordination.k8s.io", "LeaseCandidate"): other.LEASECANDIDATE,
    ("scheduling.k8s.io", "PriorityClass"): other.PRIORITYCLASS,
    ("node.k8s.io", "RuntimeClass"): other.RUNTIMECLASS,
    ("policy", "PodDisruptionBudget"): other.PODDISRUPTIONBUDGET,
    ("storage.k8s.io", "StorageClass"): storage.STORAGECLASS,
    ("storage.k8s.io", "CSIDriver"): storage.CSIDRIVER,
    ("storage.k8s.io", "CSINode"): storage.CSINODE,
    ("storage.k8s.io", "VolumeAttachment"): storage.VOLUMEATTACHMENT,
    ("storage.k8s.io", "CSIStorageCapacity"): storage.CSISTORAGECAPACITY,
    ("storage.k8s.io", "VolumeAttributesClass"): storage.VOLUMEATTRIBUTESCLASS,
    (_ADM, "MutatingWebhookConfiguration"): admission.WEBHOOKCONFIGURATION,
    (_ADM, "ValidatingWebhookConfiguration"): admission.WEBHOOKCONFIGURATION,
    (_ADM, "ValidatingAdmissionPolicy"): admission.VALIDATINGADMISSIONPOLICY,
    (_ADM, "ValidatingAdmissionPolicyBinding"): admission.POLICYBINDING,
    (_ADM, "MutatingAdmissionPolicy"): admission.MUTATINGADMISSIONPOLICY,
    (_ADM, "MutatingAdmissionPolicyBinding"): admission.POLICYBINDING,
    (_FC, "FlowSchema"): admission.FLOWSCHEMA,
    (_FC, "PriorityLevelConfiguration"): admission.PRIORITYLEVELCONFIGURATION,
    ("internal.apiserver.k8s.io", "StorageVersion"): resource.STORAGEVERSION,
    ("storagemigration.k8s.io", "StorageVersionMigration"): resource.STORAGEVERSIONMIGRATION,
    ("resource.k8s.io", "DeviceClass"): resource.NAME_AGE,
    ("resource.k8s.io", "ResourceClaim"): resource.RESOURCECLAIM,
    ("resource.k8s.io", "ResourceClaimTemplate"): resource.NAME_AGE,
    ("resource.k8s.io", "ResourceSlice"): resource.RESOURCESLICE,
}


def printer_for(group: str, kind: str) -> Printer:
    """The upstream printer for a kind, or the default table (Name, Created At)."""
    return _PRINTERS.get((group, kind), DEFAULT_PRINTER)


def registered_printers() -> dict[tuple[str, str], Printer]:
    """Every (group, kind) with its own printer (a copy; kinds absent use the default table)."""
    return dict(_PRINTERS)


def has_printer(group: str, kind: str) -> bool:
    """Whether the kind has its own printer (False: the default table applies)."""
    return (group, kind) in _PRINTERS


def row_conditions(group: str, kind: str, obj: dict[str, Any]) -> list[dict[str, str]] | None:
    """TableRow.conditions for one object: only pods have them (Completed when terminal)."""
    if group == "" and kind == "Pod":
        return pod_row_conditions(obj)
    return None
