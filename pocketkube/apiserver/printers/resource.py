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
    Printer,
    age,
    col,
    items,
    list_with_more,
    meta,
    name_of,
    sub,
)
from pocketkube.apiserver.printers.descriptions import doc


def _name_age_row(obj: Obj, now: datetime) -> list[Cell]:
    return [name_of(obj), age(obj, now)]


NAME_AGE = Printer((NAME, AGE), _name_age_row)


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


def _resourceclaim_row(obj: Obj, now: datetime) -> list[Cell]:
    return [name_of(obj), resource_claim_state(obj), age(obj, now)]


RESOURCECLAIM = Printer(
    (
        NAME,
        col("State", "string", "A summary of the current state (allocated, pending, reserved, etc.)."),
        AGE,
    ),
    _resourceclaim_row,
)


def _resourceslice_row(obj: Obj, now: datetime) -> list[Cell]:
    spec = sub(obj, "spec")
    return [
        name_of(obj),
        str(spec.get("nodeName") or ""),
        str(spec.get("driver") or ""),
        str(sub(spec, "pool").get("name") or ""),
        age(obj, now),
    ]


RESOURCESLICE = Printer(
    (
        NAME,
        col("Node", "string", doc("resource/v1beta1.ResourceSliceSpec.nodeName")),
        col("Driver", "string", doc("resource/v1beta1.ResourceSliceSpec.driver")),
        col("Pool", "string", doc("resource/v1beta1.ResourcePool.name")),
        AGE,
    ),
    _resourceslice_row,
)


def _storageversion_row(obj: Obj, now: datetime) -> list[Cell]:
    status = sub(obj, "status")
    common = status.get("commonEncodingVersion")
    versions = [
        f"{v.get('apiServerID', '')}={v.get('encodingVersion', '')}" for v in items(status, "storageVersions")
    ]
    return [name_of(obj), "<unset>" if common is None else common, list_with_more(versions), age(obj, now)]


_SV = "apiserverinternal/v1alpha1.StorageVersionStatus."
STORAGEVERSION = Printer(
    (
        NAME,
        col("CommonEncodingVersion", "string", doc(_SV + "commonEncodingVersion")),
        col("StorageVersions", "string", doc(_SV + "storageVersions")),
        AGE,
    ),
    _storageversion_row,
)


def _svm_row(obj: Obj, now: datetime) -> list[Cell]:
    res = sub(sub(obj, "spec"), "resource")
    return [name_of(obj), f"{res.get('resource', '')}.{res.get('version', '')}.{res.get('group', '')}"]


STORAGEVERSIONMIGRATION = Printer(
    (
        col("Name", "string", doc("meta/v1.ObjectMeta.name")),
        col("Resource", "string", "Fully qualified resource to migrate"),
    ),
    _svm_row,
)
