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
    CellFunc,
    Obj,
    col,
    column_printer,
    field,
    items,
    list_len,
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


def _storageclass_name(obj: Obj, now: datetime) -> Cell:
    return _name_marking_default(obj, _DEFAULT_SC)


STORAGECLASS = column_printer(
    NAME.with_cell(_storageclass_name),
    col("Provisioner", "string", doc(_SC + "provisioner"), cell=field("provisioner")),
    col("ReclaimPolicy", "string", doc(_SC + "reclaimPolicy"), cell=field("reclaimPolicy", "Delete", None)),
    col(
        "VolumeBindingMode",
        "string",
        doc(_SC + "volumeBindingMode"),
        cell=field("volumeBindingMode", "Immediate", None),
    ),
    col(
        "AllowVolumeExpansion",
        "string",
        doc(_SC + "allowVolumeExpansion"),
        cell=field("allowVolumeExpansion", False, bool),
    ),
    AGE,
)


def _flag(name: str, default: bool) -> CellFunc:
    """A CSIDriverSpec *bool: upstream's default when nil."""
    return field("spec." + name, default, bool, pointer=True)


def _token_requests(obj: Obj, now: datetime) -> Cell:
    tokens = sub(obj, "spec").get("tokenRequests")
    return "<unset>" if tokens is None else ",".join(str(t.get("audience", "")) for t in tokens)


def _lifecycle_modes(obj: Obj, now: datetime) -> Cell:
    return ",".join(str(m) for m in items(sub(obj, "spec"), "volumeLifecycleModes")) or "<none>"


CSIDRIVER = column_printer(
    NAME,
    col("AttachRequired", "boolean", doc(_DRIVER + "attachRequired"), cell=_flag("attachRequired", True)),
    col("PodInfoOnMount", "boolean", doc(_DRIVER + "podInfoOnMount"), cell=_flag("podInfoOnMount", False)),
    col("StorageCapacity", "boolean", doc(_DRIVER + "storageCapacity"), cell=_flag("storageCapacity", False)),
    col("TokenRequests", "string", doc(_DRIVER + "tokenRequests"), cell=_token_requests),
    col(
        "RequiresRepublish",
        "boolean",
        doc(_DRIVER + "requiresRepublish"),
        cell=_flag("requiresRepublish", False),
    ),
    col("Modes", "string", doc(_DRIVER + "volumeLifecycleModes"), cell=_lifecycle_modes),
    AGE,
)

CSINODE = column_printer(
    NAME,
    col(
        "Drivers",
        "integer",
        "Drivers indicates the number of CSI drivers registered on the node",
        cell=field("spec.drivers", 0, list_len),
    ),
    AGE,
)

_VA = "storage/v1.VolumeAttachment"
VOLUMEATTACHMENT = column_printer(
    NAME,
    col("Attacher", "string", doc(_VA + "Spec.attacher"), 0, "name", cell=field("spec.attacher")),
    col(
        "PV",
        "string",
        doc(_VA + "Source.persistentVolumeName"),
        cell=field("spec.source.persistentVolumeName", "", None),
    ),
    col("Node", "string", doc(_VA + "Spec.nodeName"), cell=field("spec.nodeName")),
    col("Attached", "boolean", doc(_VA + "Status.attached"), cell=field("status.attached", False, bool)),
    AGE,
)

_CAPACITY = "storage/v1.CSIStorageCapacity."
CSISTORAGECAPACITY = column_printer(
    NAME,
    col("StorageClassName", "string", doc(_CAPACITY + "storageClassName"), cell=field("storageClassName")),
    col(
        "Capacity",
        "string",
        doc(_CAPACITY + "capacity"),
        cell=field("capacity", "<unset>", str, pointer=True),
    ),
)


def _vac_name(obj: Obj, now: datetime) -> Cell:
    return _name_marking_default(obj, _DEFAULT_VAC)


VOLUMEATTRIBUTESCLASS = column_printer(
    NAME.with_cell(_vac_name),
    col(
        "DriverName",
        "string",
        doc("storage/v1beta1.VolumeAttributesClass.driverName"),
        cell=field("driverName"),
    ),
    AGE,
)
