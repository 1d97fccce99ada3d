"""storage.k8s.io/v1 defaulting."""

from __future__ import annotations

from pocketkube.api import structural

STORAGE = "io.k8s.api.storage.v1."


def test_storage_class_defaults() -> None:
    sc = {"provisioner": "rancher.io/local-path"}
    structural.apply_defaults(sc, STORAGE + "StorageClass")
    assert sc == {"provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}


def test_csi_driver_defaults() -> None:
    d: dict = {"spec": {}}
    structural.apply_defaults(d, STORAGE + "CSIDriver")
    assert d["spec"] == {"attachRequired": True, "podInfoOnMount": False, "storageCapacity": False,
                         "fsGroupPolicy": "ReadWriteOnceWithFSType", "volumeLifecycleModes": ["Persistent"],
                         "requiresRepublish": False, "seLinuxMount": False}
