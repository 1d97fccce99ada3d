"""storage.k8s.io/v1 defaults (upstream pkg/apis/storage/v1/defaults.go, v1.32 gates).

Theory of operation: StorageClass reclaimPolicy Delete and volumeBindingMode
Immediate. CSIDriver: attachRequired true, podInfoOnMount false,
storageCapacity false, fsGroupPolicy ReadWriteOnceWithFSType,
volumeLifecycleModes [Persistent], requiresRepublish false, seLinuxMount false.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.defaults import defaults_for

Obj = dict[str, Any]


@defaults_for("io.k8s.api.storage.v1.StorageClass")
def storage_class(obj: Obj) -> None:
    if obj.get("reclaimPolicy") is None:
        obj["reclaimPolicy"] = "Delete"
    if obj.get("volumeBindingMode") is None:
        obj["volumeBindingMode"] = "Immediate"


@defaults_for("io.k8s.api.storage.v1.CSIDriver")
def csi_driver(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    spec.setdefault("attachRequired", True)
    spec.setdefault("podInfoOnMount", False)
    spec.setdefault("storageCapacity", False)
    spec.setdefault("fsGroupPolicy", "ReadWriteOnceWithFSType")
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]
    spec.setdefault("requiresRepublish", False)
    spec.setdefault("seLinuxMount", False)
