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
    POD_TEMPLATE_SPEC,
    Cell,
    CellFunc,
    Column,
    Obj,
    Printer,
    age,
    col,
    column_printer,
    container_cells,
    field,
    format_labels,
    items,
    list_len,
    meta,
    name_of,
    quantity,
    replica_columns,
    sub,
    template_printer,
)
from pocketkube.apiserver.printers.descriptions import doc

NAMESPACE = column_printer(
    NAME, col("Status", "string", "The status of the namespace", cell=field("status.phase")), AGE
)

SECRET = column_printer(
    NAME,
    col("Type", "string", doc("core/v1.Secret.type"), cell=field("type")),
    col("Data", "string", doc("core/v1.Secret.data"), cell=field("data", 0, len)),
    AGE,
)


def _configmap_data(obj: Obj, now: datetime) -> Cell:
    return len(obj.get("data") or {}) + len(obj.get("binaryData") or {})


CONFIGMAP = column_printer(
    NAME, col("Data", "string", doc("core/v1.ConfigMap.data"), cell=_configmap_data), AGE
)

SERVICEACCOUNT = column_printer(
    NAME,
    col("Secrets", "string", doc("core/v1.ServiceAccount.secrets"), cell=field("secrets", 0, list_len)),
    AGE,
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


REPLICATIONCONTROLLER = template_printer(
    *replica_columns("core/v1.ReplicationController"),
    pod_spec=POD_TEMPLATE_SPEC,
    selector=field("spec.selector", "<none>", format_labels),
    selector_doc=doc("core/v1.ReplicationControllerSpec.selector"),
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


def _storage_class(obj: Obj, now: datetime) -> Cell:
    annotations = meta(obj).get("annotations") or {}
    if _STORAGE_CLASS_ANNOTATION in annotations:
        return str(annotations[_STORAGE_CLASS_ANNOTATION])
    return str(sub(obj, "spec").get("storageClassName") or "")


def _volume_status(obj: Obj, now: datetime) -> Cell:
    """STATUS of a volume or claim: Terminating once deleted, else its phase."""
    return "Terminating" if meta(obj).get("deletionTimestamp") else str(sub(obj, "status").get("phase") or "")


def _claim(obj: Obj, now: datetime) -> Cell:
    spec = sub(obj, "spec")
    claim = sub(spec, "claimRef")
    return f"{claim.get('namespace', '')}/{claim.get('name', '')}" if spec.get("claimRef") else ""


def _pv_capacity(obj: Obj, now: datetime) -> Cell:
    return quantity((sub(obj, "spec").get("capacity") or {}).get("storage"))


def _class_columns(what: str) -> tuple[Column, ...]:
    """STORAGECLASS and VOLUMEATTRIBUTESCLASS, alike for a volume and a claim (`what`: pv, pvc)."""
    return (
        col("StorageClass", "string", f"StorageClass of the {what}", cell=_storage_class),
        col(
            "VolumeAttributesClass",
            "string",
            f"VolumeAttributesClass of the {what}",
            cell=field("spec.volumeAttributesClassName", "<unset>", None),
        ),
    )


def _volume_mode(doc_key: str) -> Column:
    """The wide VOLUMEMODE of a volume or claim (`<unset>` when the spec has none)."""
    return col("VolumeMode", "string", doc(doc_key), 1, cell=field("spec.volumeMode", "<unset>", None))


_PV = "core/v1.PersistentVolume"
PERSISTENTVOLUME = column_printer(
    NAME,
    col("Capacity", "string", doc(_PV + "Spec.capacity"), cell=_pv_capacity),
    col(
        "Access Modes",
        "string",
        doc(_PV + "Spec.accessModes"),
        cell=field("spec.accessModes", "", access_modes),
    ),
    col(
        "Reclaim Policy",
        "string",
        doc(_PV + "Spec.persistentVolumeReclaimPolicy"),
        cell=field("spec.persistentVolumeReclaimPolicy"),
    ),
    col("Status", "string", doc(_PV + "Status.phase"), cell=_volume_status),
    col("Claim", "string", doc(_PV + "Spec.claimRef"), cell=_claim),
    *_class_columns("pv"),
    col("Reason", "string", doc(_PV + "Status.reason"), cell=field("status.reason")),
    AGE,
    _volume_mode(_PV + "Spec.volumeMode"),
)


def _bound_volume(cell: CellFunc) -> CellFunc:
    """A claim's cell that is only printed once it is bound to a volume (else empty)."""
    return lambda obj, now: cell(obj, now) if sub(obj, "spec").get("volumeName") else ""


_PVC = "core/v1.PersistentVolumeClaim"
PERSISTENTVOLUMECLAIM = column_printer(
    NAME,
    col("Status", "string", doc(_PVC + "Status.phase"), cell=_volume_status),
    col("Volume", "string", doc(_PVC + "Spec.volumeName"), cell=field("spec.volumeName")),
    col(
        "Capacity",
        "string",
        doc(_PVC + "Status.capacity"),
        cell=_bound_volume(
            lambda obj, now: quantity((sub(obj, "status").get("capacity") or {}).get("storage"))
        ),
    ),
    col(
        "Access Modes",
        "string",
        doc(_PVC + "Status.accessModes"),
        cell=_bound_volume(field("status.accessModes", "", access_modes)),
    ),
    *_class_columns("pvc"),
    AGE,
    _volume_mode(_PVC + "Spec.volumeMode"),
)
