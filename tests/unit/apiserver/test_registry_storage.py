"""storage.k8s.io/v1 strategies."""

from __future__ import annotations

import copy
from typing import Any

from pocketkube.api import structural
from pocketkube.apiserver.registry import storage

S = storage.STRATEGIES


def msgs(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def test_storage_class_rules() -> None:
    sc = {"metadata": {"name": "standard"}, "provisioner": "rancher.io/local-path"}
    structural.apply_defaults(sc, "io.k8s.api.storage.v1.StorageClass")
    S["StorageClass"].prepare_for_create(sc)
    assert msgs(S["StorageClass"].validate(sc)) == [] and "status" not in sc
    bad = {"metadata": {"name": "x"}, "reclaimPolicy": "Recycle", "volumeBindingMode": "Later"}
    assert msgs(S["StorageClass"].validate(bad)) == [
        "provisioner: Required value",
        'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"',
        'volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"',
    ]
    new = copy.deepcopy(sc)
    new.update(provisioner="other.io/x", parameters={"a": "b"}, volumeBindingMode="WaitForFirstConsumer")
    assert msgs(S["StorageClass"].validate_update(new, sc)) == [
        "parameters: Forbidden: updates to parameters are forbidden.",
        "provisioner: Forbidden: updates to provisioner are forbidden.",
        'volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable',
    ]


def test_volume_attachment() -> None:
    va: dict[str, Any] = {"metadata": {"name": "va"}, "spec": {"attacher": "csi.example.com", "nodeName": "node-1",
                                               "source": {"persistentVolumeName": "pv1"}}}
    s = S["VolumeAttachment"]
    s.prepare_for_create(va)
    assert va["status"] == {"attached": False} and msgs(s.validate(va)) == []
    bad = {"metadata": {"name": "va"}, "spec": {"attacher": "", "nodeName": "n", "source": {}}}
    assert msgs(s.validate(bad)) == [
        "spec.attacher: Required value",
        "spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName",
        "spec.attacher: Required value",
        "spec.attacher: Invalid value: \"\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
        "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
        "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ]
    new = copy.deepcopy(va)
    new["spec"]["nodeName"] = "node-2"
    assert msgs(s.validate_update(new, va))[-1].endswith("field is immutable")


def test_csi_driver_and_node() -> None:
    d: dict[str, Any] = {"metadata": {"name": "csi.example.com"}, "spec": {}}
    structural.apply_defaults(d, "io.k8s.api.storage.v1.CSIDriver")
    assert msgs(S["CSIDriver"].validate(d)) == []
    new = copy.deepcopy(d)
    new["spec"]["attachRequired"] = False
    assert msgs(S["CSIDriver"].validate_update(new, d)) == ["spec.attachedRequired: Invalid value: false: field is immutable"]
    node = {"metadata": {"name": "n1"}, "spec": {"drivers": [{"name": "csi.example.com", "nodeID": "n1"},
                                                               {"name": "csi.example.com", "nodeID": ""}]}}
    assert msgs(S["CSINode"].validate(node)) == ["spec.drivers[1].nodeID: Required value",
                                                 'spec.drivers[1].name: Duplicate value: "csi.example.com"']


def test_csi_storage_capacity() -> None:
    cap: dict[str, Any] = {"metadata": {"name": "c", "namespace": "d"}, "storageClassName": "standard", "capacity": "-1Gi"}
    assert msgs(S["CSIStorageCapacity"].validate(cap)) == ['capacity: Invalid value: "-1Gi": must be greater than or equal to 0']
    new = dict(cap, storageClassName="fast")
    assert msgs(S["CSIStorageCapacity"].validate_update(new, cap)) == [
        'storageClassName: Invalid value: "fast": field is immutable']
