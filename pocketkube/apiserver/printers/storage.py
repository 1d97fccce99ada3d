"""Printers for storage.k8s.io kinds.

Theory of operation: storage classes print ` (default)` after the name when the GA or
beta is-default-class annotation is "true", and the defaulted reclaim policy (Delete)
and binding mode (Immediate) when unset. CSI drivers print their boolean knobs with
upstream's defaults (attachRequired true, the others false), token audiences or
`<unset>`, and lifecycle modes or `<none>`. CSINodes count drivers; volume attachments
show attacher, PV, node and attached; CSIStorageCapacities have no AGE column;
VolumeAttributesClasses (storage v1beta1 in 1.32) mark their alpha default annotation.
"""

from __future__ import annotations

from datetime import datetime

from pocketkube.apiserver.printers.columns import (
    AGE,
    NAME,
    Cell,
    Obj,
    Printer,
    age,
    col,
    items,
    meta,
    name_of,
    sub,
)
from pocketkube.apiserver.printers.descriptions import doc

_SC = "storage/v1.StorageClass."
_DRIVER = "storage/v1.CSIDriverSpec."
_DEFAULT_SC = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
_DEFAULT_VAC = ("volumeattributesclass.alpha.kubernetes.io/is-default-class",)


def _name_marking_default(obj: Obj, annotations: tuple[str, ...]) -> str:
    """The name, with ` (default)` when one of these is-default-class annotations is "true"."""
    values = meta(obj).get("annotations") or {}
    default = any(values.get(a) == "true" for a in annotations)
    return name_of(obj) + " (default)" if default else name_of(obj)


def _storageclass_row(obj: Obj, now: datetime) -> list[Cell]:
    return [
        _name_marking_default(obj, _DEFAULT_SC),
        str(obj.get("provisioner") or ""),
        obj.get("reclaimPolicy") or "Delete",
        obj.get("volumeBindingMode") or "Immediate",
        bool(obj.get("allowVolumeExpansion")),
        age(obj, now),
    ]


STORAGECLASS = Printer(
    (
        NAME,
        col("Provisioner", "string", doc(_SC + "provisioner")),
        col("ReclaimPolicy", "string", doc(_SC + "reclaimPolicy")),
        col("VolumeBindingMode", "string", doc(_SC + "volumeBindingMode")),
        col("AllowVolumeExpansion", "string", doc(_SC + "allowVolumeExpansion")),
        AGE,
    ),
    _storageclass_row,
)


def _flag(spec: Obj, key: str, default: bool) -> bool:
    value = spec.get(key)
    return default if value is None else bool(value)


def _csidriver_row(obj: Obj, now: datetime) -> list[Cell]:
    spec = sub(obj, "spec")
    tokens = spec.get("tokenRequests")
    token_cell = "<unset>" if tokens is None else ",".join(str(t.get("audience", "")) for t in tokens)
    modes = ",".join(str(m) for m in items(spec, "volumeLifecycleModes")) or "<none>"
    return [
        name_of(obj),
        _flag(spec, "attachRequired", True),
        _flag(spec, "podInfoOnMount", False),
        _flag(spec, "storageCapacity", False),
        token_cell,
        _flag(spec, "requiresRepublish", False),
        modes,
        age(obj, now),
    ]


CSIDRIVER = Printer(
    (
        NAME,
        col("AttachRequired", "boolean", doc(_DRIVER + "attachRequired")),
        col("PodInfoOnMount", "boolean", doc(_DRIVER + "podInfoOnMount")),
        col("StorageCapacity", "boolean", doc(_DRIVER + "storageCapacity")),
        col("TokenRequests", "string", doc(_DRIVER + "tokenRequests")),
        col("RequiresRepublish", "boolean", doc(_DRIVER + "requiresRepublish")),
        col("Modes", "string", doc(_DRIVER + "volumeLifecycleModes")),
        AGE,
    ),
    _csidriver_row,
)


def _csinode_row(obj: Obj, now: datetime) -> list[Cell]:
    return [name_of(obj), len(items(sub(obj, "spec"), "drivers")), age(obj, now)]


CSINODE = Printer(
    (
        NAME,
        col("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
        AGE,
    ),
    _csinode_row,
)


def _volumeattachment_row(obj: Obj, now: datetime) -> list[Cell]:
    spec = sub(obj, "spec")
    pv = sub(spec, "source").get("persistentVolumeName") or ""
    attached = bool(sub(obj, "status").get("attached"))
    return [
        name_of(obj),
        str(spec.get("attacher") or ""),
        pv,
        str(spec.get("nodeName") or ""),
        attached,
        age(obj, now),
    ]


VOLUMEATTACHMENT = Printer(
    (
        NAME,
        col("Attacher", "string", doc("storage/v1.VolumeAttachmentSpec.attacher"), 0, "name"),
        col("PV", "string", doc("storage/v1.VolumeAttachmentSource.persistentVolumeName")),
        col("Node", "string", doc("storage/v1.VolumeAttachmentSpec.nodeName")),
        col("Attached", "boolean", doc("storage/v1.VolumeAttachmentStatus.attached")),
        AGE,
    ),
    _volumeattachment_row,
)


def _csistoragecapacity_row(obj: Obj, now: datetime) -> list[Cell]:
    capacity = obj.get("capacity")
    return [
        name_of(obj),
        str(obj.get("storageClassName") or ""),
        "<unset>" if capacity is None else str(capacity),
    ]


CSISTORAGECAPACITY = Printer(
    (
        NAME,
        col("StorageClassName", "string", doc("storage/v1.CSIStorageCapacity.storageClassName")),
        col("Capacity", "string", doc("storage/v1.CSIStorageCapacity.capacity")),
    ),
    _csistoragecapacity_row,
)


def _vac_row(obj: Obj, now: datetime) -> list[Cell]:
    return [_name_marking_default(obj, _DEFAULT_VAC), str(obj.get("driverName") or ""), age(obj, now)]


VOLUMEATTRIBUTESCLASS = Printer(
    (NAME, col("DriverName", "string", doc("storage/v1beta1.VolumeAttributesClass.driverName")), AGE),
    _vac_row,
)
