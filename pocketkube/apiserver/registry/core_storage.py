"""PersistentVolumes and PersistentVolumeClaims (core/v1): validation and strategies (upstream v1.32).

Theory of operation: a PV needs access modes, a `storage` capacity and exactly
one volume source (immutable afterwards); a PVC needs access modes and a
positive `resources.requests[storage]`, and its spec is immutable except that
volumeName may be set once, a bound claim's storage request may grow, and a nil
storageClassName may be set. Both are created with status {phase: Pending}
(PVs also record lastPhaseTransitionTime, stamped again when /status changes
the phase). `validate_pvc_spec` also serves ephemeral volume claim templates.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pocketkube.apiserver.registry import core_checks as chk
from pocketkube.apiserver.registry import core_pod_update as upd
from pocketkube.apiserver.registry import core_scheduling as sched
from pocketkube.apiserver.registry import core_volumes as vols
from pocketkube.apiserver.registry.core_checks import Errs
from pocketkube.apiserver.strategy import Obj, Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import meta

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
VOLUME_MODES = ("Block", "Filesystem")
_PV_SOURCES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "glusterfs", "flocker", "nfs", "rbd",
               "quobyte", "cephfs", "iscsi", "cinder", "fc", "flexVolume", "azureFile", "vsphereVolume",
               "photonPersistentDisk", "portworxVolume", "azureDisk", "scaleIO", "local", "storageos", "csi")
_ERR_KEY = {"cephfs": "cephFS"}
_PATH_KEY = {"gcePersistentDisk": "persistentDisk"}

now: Callable[[], str] = lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731


def _access_modes(modes: list[str], path: str) -> Errs:
    errs: Errs = []
    rwop = other = False
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(errors.not_supported(path, mode, ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            rwop = True
        else:
            other = True
    if rwop and other:
        errs.append(errors.forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def validate_pv_spec(spec: Obj, path: str = "spec") -> Errs:
    errs: Errs = []
    modes = spec.get("accessModes") or []
    if not modes:
        errs.append(errors.required(f"{path}.accessModes"))
    errs += _access_modes(modes, f"{path}.accessModes")
    errs += _capacity(spec.get("capacity") or {}, f"{path}.capacity")
    policy = spec.get("persistentVolumeReclaimPolicy") or ""
    if policy and policy not in RECLAIM_POLICIES:
        errs.append(errors.not_supported(f"{path}.persistentVolumeReclaimPolicy", policy, RECLAIM_POLICIES))
    affinity = spec.get("nodeAffinity")
    if affinity is not None:
        if affinity.get("required") is None:
            errs.append(errors.required(f"{path}.nodeAffinity.required", "must specify required node constraints"))
        else:
            errs += sched.validate_node_selector(affinity["required"], f"{path}.nodeAffinity.required", False)
    errs += _pv_source(spec, path, affinity is not None)
    host = (spec.get("hostPath") or {}).get("path") or ""
    if host and host.rstrip("/") == "" and policy == "Recycle":
        errs.append(errors.forbidden(f"{path}.persistentVolumeReclaimPolicy", "may not be 'recycle' for a hostPath "
                                                                              "mount of '/'"))
    if spec.get("storageClassName"):
        errs += chk.check_dns_subdomain(spec["storageClassName"], f"{path}.storageClassName")
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        errs.append(errors.not_supported(f"{path}.volumeMode", mode, VOLUME_MODES))
    return errs


def _capacity(capacity: Obj, path: str) -> Errs:
    errs: Errs = []
    if not capacity:
        errs.append(errors.required(path))
    if "storage" not in capacity or len(capacity) > 1:
        shown = chk.GoRepr("core.ResourceList{" + ", ".join(f'"{k}":resource.Quantity{{...}}' for k in capacity) + "}")
        errs.append(errors.not_supported(path, shown, ["storage"]))
    for name, value in capacity.items():
        q = chk.parse_q(value)
        if q is None:
            continue
        if q.value < 0:
            errs.append(errors.invalid(f"{path}[{name}]", q.int_value(), "must be a valid resource quantity"))
        if q.value <= 0:
            errs.append(errors.invalid(f"{path}[{name}]", str(q), chk.NOT_POSITIVE))
    return errs


def _pv_source(spec: Obj, path: str, has_affinity: bool) -> Errs:
    errs: Errs = []
    count = 0
    for key in _PV_SOURCES:
        source = spec.get(key)
        if source is None:
            continue
        if count > 0 and key != "flexVolume":
            errs.append(errors.forbidden(f"{path}.{_ERR_KEY.get(key, key)}", "may not specify more than 1 volume type"))
            continue
        count += 1
        errs += _check_pv_source(key, source, f"{path}.{_PATH_KEY.get(key, key)}", has_affinity, path)
    if count == 0:
        errs.append(errors.required(path, "must specify a volume type"))
    return errs


def _check_pv_source(key: str, source: Obj, path: str, has_affinity: bool, spec_path: str) -> Errs:
    if key == "hostPath":
        return vols.validate_host_path(source, path)
    if key == "local":
        errs: Errs = [] if source.get("path") else [errors.required(f"{path}.path")]
        errs += chk.check_no_backsteps(source.get("path") or "", f"{path}.path") if source.get("path") else []
        if not has_affinity:
            errs.append(errors.required(f"{spec_path}.nodeAffinity", "Local volume requires node affinity"))
        return errs
    if key == "csi":
        errs = [] if source.get("driver") else [errors.required(f"{path}.driver")]
        return errs + ([] if source.get("volumeHandle") else [errors.required(f"{path}.volumeHandle")])
    if key == "nfs":
        errs = [] if source.get("server") else [errors.required(f"{path}.server")]
        p = source.get("path") or ""
        errs += [] if p else [errors.required(f"{path}.path")]
        return errs + ([] if p.startswith("/") else [errors.invalid(f"{path}.path", p, "must be an absolute path")])
    return []


def validate_pvc_spec(spec: Obj, path: str = "spec") -> Errs:
    errs: Errs = []
    modes = spec.get("accessModes") or []
    if not modes:
        errs.append(errors.required(f"{path}.accessModes", "at least 1 access mode is required"))
    if spec.get("selector") is not None:
        errs += meta.validate_label_selector(spec["selector"], f"{path}.selector")
    errs += _access_modes(modes, f"{path}.accessModes")
    storage_path = f"{path}.resources[storage]"
    requests = (spec.get("resources") or {}).get("requests") or {}
    if "storage" not in requests:
        errs.append(errors.required(storage_path))
    else:
        q = chk.parse_q(requests["storage"])
        if q is not None and q.value <= 0:
            errs.append(errors.invalid(storage_path, str(q), chk.NOT_POSITIVE))
        else:
            errs += chk.check_quantity_value("storage", requests["storage"], storage_path)
    if spec.get("storageClassName"):
        errs += chk.check_dns_subdomain(spec["storageClassName"], f"{path}.storageClassName")
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        errs.append(errors.not_supported(f"{path}.volumeMode", mode, VOLUME_MODES))
    for key in ("dataSource", "dataSourceRef"):
        if spec.get(key) is not None:
            errs += _data_source(spec[key], f"{path}.{key}")
    return errs


def _data_source(ref: Obj, path: str) -> Errs:
    errs: Errs = []
    if not ref.get("name"):
        errs.append(errors.required(f"{path}.name"))
    if not ref.get("kind"):
        errs.append(errors.required(f"{path}.kind"))
    group = ref.get("apiGroup") or ""
    if not group and ref.get("kind") != "PersistentVolumeClaim":
        errs.append(errors.invalid(path, ref.get("kind") or "",
                                   "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
    if group:
        errs += chk.check_dns_subdomain(group, f"{path}.apiGroup")
    return errs


class PersistentVolumeStrategy(Strategy):
    tracks_generation = False
    return_deleted_object = True

    def initial_status(self, obj: Obj) -> Any:
        return {"phase": "Pending", "lastPhaseTransitionTime": now()}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_pv_spec(obj.get("spec") or {})

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = validate_pv_spec(new.get("spec") or {})
        ns, os_ = new.get("spec") or {}, old.get("spec") or {}
        new_src = {k: ns[k] for k in _PV_SOURCES if k in ns}
        old_src = {k: os_[k] for k in _PV_SOURCES if k in os_}
        if upd.semantic(new_src) != upd.semantic(old_src):
            diff = upd.spec_diff(upd.semantic(old_src), upd.semantic(new_src), "spec")
            errs.append(errors.forbidden("spec.persistentvolumesource",
                                         f"spec.persistentvolumesource is immutable after creation\n{diff}"))
        errs += chk.check_immutable(ns.get("volumeMode"), os_.get("volumeMode"), "volumeMode")
        if os_.get("nodeAffinity") is not None and ns.get("nodeAffinity") != os_.get("nodeAffinity"):
            errs.append(errors.invalid("nodeAffinity", chk.GoRepr("&core.VolumeNodeAffinity{...}"),
                                       "field is immutable, except for updating from beta label to GA"))
        return errs

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        status, old_status = new.setdefault("status", {}), old.get("status") or {}
        if status.get("phase") != old_status.get("phase") and \
                status.get("lastPhaseTransitionTime") == old_status.get("lastPhaseTransitionTime"):
            status["lastPhaseTransitionTime"] = now()


class PersistentVolumeClaimStrategy(Strategy):
    tracks_generation = False
    return_deleted_object = True

    def initial_status(self, obj: Obj) -> Any:
        return {"phase": "Pending"}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_pvc_spec(obj.get("spec") or {})

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = validate_pvc_spec(new.get("spec") or {})
        ns, os_ = copy.deepcopy(new.get("spec") or {}), copy.deepcopy(old.get("spec") or {})
        if not os_.get("volumeName"):
            os_["volumeName"] = ns.get("volumeName")
        if os_.get("storageClassName") is None and ns.get("storageClassName") is not None:
            os_["storageClassName"] = ns["storageClassName"]
        new_size = chk.parse_q(((ns.get("resources") or {}).get("requests") or {}).get("storage"))
        old_size = chk.parse_q(((os_.get("resources") or {}).get("requests") or {}).get("storage"))
        if (new.get("status") or {}).get("phase") == "Bound" and "requests" in (ns.get("resources") or {}):
            ns["resources"]["requests"]["storage"] = ((os_.get("resources") or {}).get("requests") or {}).get("storage")
        if upd.semantic(ns) != upd.semantic(os_):
            errs.append(errors.forbidden("spec", "spec is immutable after creation except resources.requests and "
                                                 "volumeAttributesClassName for bound claims\n"
                                         + upd.spec_diff(upd.semantic(os_), upd.semantic(ns))))
        errs += _shrink_errors(new_size, old_size, old)
        return errs + chk.check_immutable((new.get("spec") or {}).get("volumeMode"),
                                          (old.get("spec") or {}).get("volumeMode"), "volumeMode")


def _shrink_errors(new_size: Any, old_size: Any, old: Obj) -> Errs:
    if new_size is None or old_size is None or new_size.value >= old_size.value:
        return []
    status_size = chk.parse_q(((old.get("status") or {}).get("capacity") or {}).get("storage") or "0")
    if status_size is not None and new_size.value <= status_size.value:
        return [errors.forbidden("spec.resources.requests.storage", "field can not be less than status.capacity")]
    return []
