"""Printers for the simple core/v1 kinds.

Theory of operation: each printer mirrors its upstream printXxx (v1.32) on the JSON
shape of the v1 object. Upstream prints the internal type after defaulting, so where
a served object could omit a defaulted field the row uses the default (e.g. a
replication controller's replicas default to 1). Kinds here: namespaces, secrets,
configmaps, serviceaccounts, podtemplates, replicationcontrollers, componentstatuses,
resourcequotas, persistentvolumes and persistentvolumeclaims.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pocketkube.apiserver.printers.columns import (
    AGE,
    NAME,
    Cell,
    Obj,
    Printer,
    age,
    col,
    container_cells,
    format_labels,
    items,
    meta,
    name_of,
    quantity,
    sub,
    template_columns,
    template_row,
)
from pocketkube.apiserver.printers.descriptions import doc


def _namespace_row(obj: Obj, now: datetime) -> list[Cell]:
    return [name_of(obj), str(sub(obj, "status").get("phase") or ""), age(obj, now)]


NAMESPACE = Printer((NAME, col("Status", "string", "The status of the namespace"), AGE), _namespace_row)


def _secret_row(obj: Obj, now: datetime) -> list[Cell]:
    return [name_of(obj), str(obj.get("type") or ""), len(obj.get("data") or {}), age(obj, now)]


SECRET = Printer(
    (
        NAME,
        col("Type", "string", doc("core/v1.Secret.type")),
        col("Data", "string", doc("core/v1.Secret.data")),
        AGE,
    ),
    _secret_row,
)


def _configmap_row(obj: Obj, now: datetime) -> list[Cell]:
    count = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return [name_of(obj), count, age(obj, now)]


CONFIGMAP = Printer((NAME, col("Data", "string", doc("core/v1.ConfigMap.data")), AGE), _configmap_row)


def _serviceaccount_row(obj: Obj, now: datetime) -> list[Cell]:
    return [name_of(obj), len(items(obj, "secrets")), age(obj, now)]


SERVICEACCOUNT = Printer(
    (NAME, col("Secrets", "string", doc("core/v1.ServiceAccount.secrets")), AGE), _serviceaccount_row
)


def _podtemplate_row(obj: Obj, now: datetime) -> list[Cell]:
    template = sub(obj, "template")
    names, images = container_cells(sub(template, "spec"))
    return [name_of(obj), names, images, format_labels(sub(template, "metadata").get("labels"))]


PODTEMPLATE = Printer(
    (
        NAME,
        col("Containers", "string", "Names of each container in the template."),
        col("Images", "string", "Images referenced by each container in the template."),
        col("Pod Labels", "string", "The labels for the pod template."),
    ),
    _podtemplate_row,
)


def _rc_row(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = sub(obj, "spec"), sub(obj, "status")
    replicas = spec.get("replicas")
    own: list[Cell] = [
        1 if replicas is None else int(replicas),
        int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0),
    ]
    return template_row(obj, now, own, sub(sub(spec, "template"), "spec"), format_labels(spec.get("selector")))


REPLICATIONCONTROLLER = Printer(
    template_columns(
        col("Desired", "integer", doc("core/v1.ReplicationControllerSpec.replicas")),
        col("Current", "integer", doc("core/v1.ReplicationControllerStatus.replicas")),
        col("Ready", "integer", doc("core/v1.ReplicationControllerStatus.readyReplicas")),
        selector_doc=doc("core/v1.ReplicationControllerSpec.selector"),
    ),
    _rc_row,
)


def _componentstatus_row(obj: Obj, now: datetime) -> list[Cell]:
    status, message, error = "Unknown", "", ""
    for cond in items(obj, "conditions"):
        if cond.get("type") == "Healthy":
            status = "Healthy" if cond.get("status") == "True" else "Unhealthy"
            message, error = cond.get("message") or "", cond.get("error") or ""
            break
    return [name_of(obj), status, message, error]


COMPONENTSTATUS = Printer(
    (
        NAME,
        col("Status", "string", "Status of the component conditions"),
        col("Message", "string", "Message of the component conditions"),
        col("Error", "string", "Error of the component conditions"),
    ),
    _componentstatus_row,
)


def _resourcequota_row(obj: Obj, now: datetime) -> list[Cell]:
    status = sub(obj, "status")
    hard, used = status.get("hard") or {}, status.get("used") or {}
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        target = limits if resource.startswith("limits.") else requests
        target.append(f"{resource}: {quantity(used.get(resource))}/{quantity(hard[resource])}")
    return [name_of(obj), ", ".join(requests), ", ".join(limits), age(obj, now)]


RESOURCEQUOTA = Printer(
    (
        NAME,
        col(
            "Request",
            "string",
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        col(
            "Limit",
            "string",
            "Limits control the maximum amount of cpu/memory that a container may use independent of "
            "contention on the node.",
        ),
        AGE,
    ),
    _resourcequota_row,
)


# --- persistent volumes and claims --------------------------------------------
_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes(modes: Any) -> str:
    """helper.GetAccessModesAsString: short forms in a fixed order, deduplicated."""
    present = set(modes or ())
    return ",".join(short for long, short in _ACCESS_MODES if long in present)


def _storage_class(obj: Obj) -> str:
    annotations = meta(obj).get("annotations") or {}
    if _STORAGE_CLASS_ANNOTATION in annotations:
        return str(annotations[_STORAGE_CLASS_ANNOTATION])
    return str(sub(obj, "spec").get("storageClassName") or "")


def _volume_phase(obj: Obj, status: Obj) -> str:
    """STATUS of a volume or claim: Terminating once deleted, else its phase."""
    return "Terminating" if meta(obj).get("deletionTimestamp") else str(status.get("phase") or "")


def _pv_row(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = sub(obj, "spec"), sub(obj, "status")
    claim = sub(spec, "claimRef")
    claim_cell = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if spec.get("claimRef") else ""
    phase = _volume_phase(obj, status)
    return [
        name_of(obj),
        quantity((spec.get("capacity") or {}).get("storage")),
        access_modes(spec.get("accessModes")),
        str(spec.get("persistentVolumeReclaimPolicy") or ""),
        phase,
        claim_cell,
        _storage_class(obj),
        spec.get("volumeAttributesClassName") or "<unset>",
        str(status.get("reason") or ""),
        age(obj, now),
        spec.get("volumeMode") or "<unset>",
    ]


PERSISTENTVOLUME = Printer(
    (
        NAME,
        col("Capacity", "string", doc("core/v1.PersistentVolumeSpec.capacity")),
        col("Access Modes", "string", doc("core/v1.PersistentVolumeSpec.accessModes")),
        col("Reclaim Policy", "string", doc("core/v1.PersistentVolumeSpec.persistentVolumeReclaimPolicy")),
        col("Status", "string", doc("core/v1.PersistentVolumeStatus.phase")),
        col("Claim", "string", doc("core/v1.PersistentVolumeSpec.claimRef")),
        col("StorageClass", "string", "StorageClass of the pv"),
        col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
        col("Reason", "string", doc("core/v1.PersistentVolumeStatus.reason")),
        AGE,
        col("VolumeMode", "string", doc("core/v1.PersistentVolumeSpec.volumeMode"), 1),
    ),
    _pv_row,
)


def _pvc_row(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = sub(obj, "spec"), sub(obj, "status")
    phase = _volume_phase(obj, status)
    volume = str(spec.get("volumeName") or "")
    capacity, modes = "", ""
    if volume:
        modes = access_modes(status.get("accessModes"))
        capacity = quantity((status.get("capacity") or {}).get("storage"))
    return [
        name_of(obj),
        phase,
        volume,
        capacity,
        modes,
        _storage_class(obj),
        spec.get("volumeAttributesClassName") or "<unset>",
        age(obj, now),
        spec.get("volumeMode") or "<unset>",
    ]


PERSISTENTVOLUMECLAIM = Printer(
    (
        NAME,
        col("Status", "string", doc("core/v1.PersistentVolumeClaimStatus.phase")),
        col("Volume", "string", doc("core/v1.PersistentVolumeClaimSpec.volumeName")),
        col("Capacity", "string", doc("core/v1.PersistentVolumeClaimStatus.capacity")),
        col("Access Modes", "string", doc("core/v1.PersistentVolumeClaimStatus.accessModes")),
        col("StorageClass", "string", "StorageClass of the pvc"),
        col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
        AGE,
        col("VolumeMode", "string", doc("core/v1.PersistentVolumeClaimSpec.volumeMode"), 1),
    ),
    _pvc_row,
)
