"""Printers for resource.k8s.io (DRA, v1beta1 in 1.32) and the apiserver-internal kinds.

Theory of operation: device classes and claim templates print name and age; resource
claims a state summary (`deleted`, `pending`, `allocated`, `reserved`, comma-joined);
resource slices node, driver and pool. Storage versions print the common encoding
version (`<unset>`) and up to three `apiServerID=encodingVersion` entries; storage
version migrations the `resource.version.group` being migrated (no AGE column, and a
Name column without the "name" format, as upstream).
"""

from __future__ import annotations

from datetime import datetime

from pocketkube.apiserver.printers.columns import (
    AGE,
    NAME,
    Cell,
    Obj,
    col,
    column_printer,
    field,
    items,
    list_with_more,
    meta,
    sub,
)
from pocketkube.apiserver.printers.descriptions import doc

NAME_AGE = column_printer(NAME, AGE)


def resource_claim_state(obj: Obj) -> str:
    deleted = bool(meta(obj).get("deletionTimestamp"))
    status = sub(obj, "status")
    states = ["deleted"] if deleted else []
    if not status.get("allocation"):
        if not deleted:
            states.append("pending")
    else:
        states.append("allocated")
        if items(status, "reservedFor"):
            states.append("reserved")
    return ",".join(states)


RESOURCECLAIM = column_printer(
    NAME,
    col(
        "State",
        "string",
        "A summary of the current state (allocated, pending, reserved, etc.).",
        cell=lambda obj, now: resource_claim_state(obj),
    ),
    AGE,
)

_SLICE = "resource/v1beta1.ResourceSliceSpec."
RESOURCESLICE = column_printer(
    NAME,
    col("Node", "string", doc(_SLICE + "nodeName"), cell=field("spec.nodeName")),
    col("Driver", "string", doc(_SLICE + "driver"), cell=field("spec.driver")),
    col("Pool", "string", doc("resource/v1beta1.ResourcePool.name"), cell=field("spec.pool.name")),
    AGE,
)


def _storage_versions(obj: Obj, now: datetime) -> Cell:
    status = sub(obj, "status")
    return list_with_more(
        [
            f"{v.get('apiServerID', '')}={v.get('encodingVersion', '')}"
            for v in items(status, "storageVersions")
        ]
    )


_SV = "apiserverinternal/v1alpha1.StorageVersionStatus."
STORAGEVERSION = column_printer(
    NAME,
    col(
        "CommonEncodingVersion",
        "string",
        doc(_SV + "commonEncodingVersion"),
        cell=field("status.commonEncodingVersion", "<unset>", None, pointer=True),
    ),
    col("StorageVersions", "string", doc(_SV + "storageVersions"), cell=_storage_versions),
    AGE,
)


def _migrated_resource(obj: Obj, now: datetime) -> Cell:
    res = sub(sub(obj, "spec"), "resource")
    return f"{res.get('resource', '')}.{res.get('version', '')}.{res.get('group', '')}"


STORAGEVERSIONMIGRATION = column_printer(
    col("Name", "string", doc("meta/v1.ObjectMeta.name"), cell=NAME.cell),
    col("Resource", "string", "Fully qualified resource to migrate", cell=_migrated_resource),
)
