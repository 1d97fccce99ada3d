"""storage.k8s.io/v1 strategies: StorageClass, VolumeAttachment, CSIDriver, CSINode, CSIStorageCapacity.

Theory of operation: upstream pkg/apis/storage/validation over JSON trees. A
StorageClass needs a provisioner (qualified name); provisioner, parameters,
reclaimPolicy and volumeBindingMode never change. A VolumeAttachment names an
attacher (CSI driver name), a node and exactly one source, and its spec is
read-only after creation; its status has a subresource. CSIDrivers keep
attachRequired and volumeLifecycleModes fixed. None of these track generation.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api import quantity
from pocketkube.apiserver.registry import govalue
from pocketkube.apiserver.strategy import NoStatusStrategy, Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import meta, names

Obj = dict[str, Any]

MAX_PARAMETERS, MAX_PARAMETER_BYTES = 512, 256 * 1024
CSI_NODE_ID_MAX, CSI_NODE_ID_LONG_MAX = 192, 256


def csi_driver_name(name: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not name:
        errs.append(errors.required(path))
    if len(name) > 63:
        errs.append(errors.too_long(path, 63))
    return errs + [errors.invalid(path, name, m) for m in names.dns1123_subdomain_problems(name.lower())]


def _parameters(params: Any, path: str) -> list[FieldError]:
    params = params or {}
    if len(params) > MAX_PARAMETERS:
        return [errors.too_long(path, MAX_PARAMETERS)]
    errs = [errors.invalid(path, k, "field can not be empty.") for k in params if not k]
    if sum(len(k) + len(str(v)) for k, v in params.items()) > MAX_PARAMETER_BYTES:
        errs.append(errors.too_long(path, MAX_PARAMETER_BYTES))
    return errs


def _allowed_topologies(terms: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, term in enumerate(terms or []):
        for j, expr in enumerate(term.get("matchLabelExpressions") or []):
            p = f"allowedTopologies[{i}].matchLabelExpressions[{j}]"
            key = expr.get("key", "")
            errs += [errors.invalid(f"{p}.key", key, m) for m in names.qualified_name_problems(key)]
            if not expr.get("values"):
                errs.append(errors.required(f"{p}.values", "must specify as least one value"))
    return errs


def validate_storage_class(obj: Obj) -> list[FieldError]:
    prov = obj.get("provisioner", "")
    errs: list[FieldError] = []
    if not prov:
        errs.append(errors.required("provisioner"))
    else:
        errs += [errors.invalid("provisioner", prov.lower(), m) for m in names.qualified_name_problems(prov.lower())]
    errs += _parameters(obj.get("parameters"), "parameters")
    rp = obj.get("reclaimPolicy")
    if rp and rp not in ("Delete", "Retain"):
        errs.append(errors.not_supported("reclaimPolicy", rp, ["Delete", "Retain"]))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        errs.append(errors.required("volumeBindingMode"))
    elif mode not in ("Immediate", "WaitForFirstConsumer"):
        errs.append(errors.not_supported("volumeBindingMode", mode, ["Immediate", "WaitForFirstConsumer"]))
    return errs + _allowed_topologies(obj.get("allowedTopologies"))


class StorageClassStrategy(NoStatusStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_storage_class(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if (new.get("parameters") or {}) != (old.get("parameters") or {}):
            errs.append(errors.forbidden("parameters", "updates to parameters are forbidden."))
        if new.get("provisioner", "") != old.get("provisioner", ""):
            errs.append(errors.forbidden("provisioner", "updates to provisioner are forbidden."))
        if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
            errs.append(errors.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
        return errs + govalue.immutable(new.get("volumeBindingMode"), old.get("volumeBindingMode"), "volumeBindingMode")


# --- VolumeAttachment ---------------------------------------------------------------


def _va_status(obj: Obj) -> list[FieldError]:
    st = obj.get("status") or {}
    errs: list[FieldError] = []
    md = st.get("attachmentMetadata") or {}
    if sum(len(k) + len(str(v)) for k, v in md.items()) > 256 * 1024:
        errs.append(errors.too_long("status.attachmentMetadata", 256 * 1024))
    for key in ("attachError", "detachError"):
        err = st.get(key)
        if not isinstance(err, dict):
            continue
        if len(err.get("message", "")) > 1024:
            errs.append(errors.too_long(f"status.{key}.message", 256 * 1024))
        code = err.get("errorCode")
        if code is not None and code < 0:
            errs.append(errors.invalid(f"status.{key}.errorCode", code, "must be between 0 and 2147483647, inclusive"))
    return errs


def validate_volume_attachment(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    if not spec.get("attacher"):
        errs.append(errors.required("spec.attacher"))
    src = spec.get("source") or {}
    pv, inline = src.get("persistentVolumeName"), src.get("inlineVolumeSpec")
    both = "must specify exactly one of inlineVolumeSpec and persistentVolumeName"
    if pv is None and inline is None:
        errs.append(errors.required("spec.source", both))
    elif pv is not None and inline is not None:
        errs.append(errors.forbidden("spec.source", both))
    elif pv is not None and not pv:
        errs.append(errors.required("spec.source.persistentVolumeName", "must specify non empty persistentVolumeName"))
    node = spec.get("nodeName", "")
    errs += [errors.invalid("spec.nodeName", node, m) for m in names.dns1123_subdomain_problems(node)]
    errs += _va_status(obj)
    errs += csi_driver_name(spec.get("attacher", ""), "spec.attacher")
    if pv:
        errs += [errors.invalid("spec.source.persistentVolumeName", pv, m) for m in names.dns1123_subdomain_problems(pv)]
    return errs


class VolumeAttachmentStrategy(Strategy):
    tracks_generation = False

    def initial_status(self, obj: Obj) -> Any:
        return {"attached": False}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_volume_attachment(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = validate_volume_attachment(new)
        if (new.get("spec") or {}) != (old.get("spec") or {}):
            errs.append(errors.invalid("spec", govalue.go_struct("storage.VolumeAttachmentSpec", new.get("spec")),
                                       govalue.IMMUTABLE))
        return errs

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate_update(new, old)


# --- CSIDriver / CSINode / CSIStorageCapacity ---------------------------------------


def validate_csi_driver(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    for key, path in (("attachRequired", "spec.attachedRequired"), ("podInfoOnMount", "spec.podInfoOnMount"),
                      ("storageCapacity", "spec.storageCapacity")):
        if spec.get(key) is None:
            errs.append(errors.required(path))
    policy = spec.get("fsGroupPolicy")
    if policy is not None and policy not in ("File", "None", "ReadWriteOnceWithFSType"):
        errs.append(errors.not_supported("spec.fsGroupPolicy", policy, ["File", "None", "ReadWriteOnceWithFSType"]))
    audiences: set[str] = set()
    for i, tr in enumerate(spec.get("tokenRequests") or []):
        aud, exp = tr.get("audience", ""), tr.get("expirationSeconds")
        if aud in audiences:
            errs.append(errors.duplicate(f"spec.tokenRequests[{i}].audience", aud))
            continue
        audiences.add(aud)
        if exp is not None and exp < 600:
            errs.append(errors.invalid(f"spec.tokenRequests[{i}].expirationSeconds", exp,
                                       "may not specify a duration less than 10 minutes"))
        if exp is not None and exp > 1 << 32:
            errs.append(errors.invalid(f"spec.tokenRequests[{i}].expirationSeconds", exp,
                                       "may not specify a duration larger than 2^32 seconds"))
    for mode in spec.get("volumeLifecycleModes") or []:
        if mode not in ("Persistent", "Ephemeral"):
            errs.append(errors.not_supported("spec.volumeLifecycleModes", mode, ["Persistent", "Ephemeral"]))
    if spec.get("seLinuxMount") is None:
        errs.append(errors.required("spec.seLinuxMount"))
    return errs


class CSIDriverStrategy(NoStatusStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_csi_driver(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
        errs = validate_csi_driver(new)
        errs += govalue.immutable(spec.get("attachRequired"), old_spec.get("attachRequired"), "spec.attachedRequired")
        modes = spec.get("volumeLifecycleModes")
        return errs + govalue.immutable(modes, old_spec.get("volumeLifecycleModes"), "spec.volumeLifecycleModes",
                                        govalue.GoValue("[]storage.VolumeLifecycleMode{"
                                                        + ", ".join(govalue.quote(m) for m in modes or []) + "}"))


def validate_csi_node(obj: Obj, allow_long_id: bool = False) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, d in enumerate((obj.get("spec") or {}).get("drivers") or []):
        p = f"spec.drivers[{i}]"
        name, node_id = d.get("name", ""), d.get("nodeID", "")
        errs += csi_driver_name(name, f"{p}.name")
        if not node_id:
            errs.append(errors.required(f"{p}.nodeID"))
        limit = CSI_NODE_ID_LONG_MAX if allow_long_id else CSI_NODE_ID_MAX
        if len(node_id) > limit:
            errs.append(errors.invalid(f"{p}.nodeID", node_id, f"must be {limit} characters or less"))
        count = (d.get("allocatable") or {}).get("count")
        if count is not None:
            errs += govalue.nonnegative(count, f"{p}.allocatable.count")
        if name in seen:
            errs.append(errors.duplicate(f"{p}.name", name))
        seen.add(name)
        keys: set[str] = set()
        for key in d.get("topologyKeys") or []:
            if not key:
                errs.append(errors.required(p, key))
            if key in keys:
                errs.append(errors.duplicate(p, key))
            keys.add(key)
            errs += [errors.invalid(p, key, m) for m in names.qualified_name_problems(key)]
    return errs


class CSINodeStrategy(NoStatusStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_csi_node(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        old_drivers = (old.get("spec") or {}).get("drivers") or []
        allow_long = any(len(d.get("nodeID", "")) > CSI_NODE_ID_MAX for d in old_drivers)
        errs = validate_csi_node(new, allow_long)
        for od in old_drivers:
            for nd in (new.get("spec") or {}).get("drivers") or []:
                if od.get("name") == nd.get("name"):
                    errs += govalue.immutable(nd, od, "spec.drivers", govalue.go_struct("storage.CSINodeDriver", nd))
        return errs


def validate_csi_storage_capacity(obj: Obj) -> list[FieldError]:
    errs = meta.validate_label_selector(obj.get("nodeTopology"), "nodeTopology")
    sc = obj.get("storageClassName", "")
    errs += [errors.invalid("storageClassName", sc, m) for m in names.dns1123_subdomain_problems(sc)]
    cap = obj.get("capacity")
    if cap is not None:
        try:
            if quantity.parse_value(cap).value < 0:
                errs.append(errors.invalid("capacity", str(cap), "must be greater than or equal to 0"))
        except ValueError:
            pass
    return errs


class CSIStorageCapacityStrategy(NoStatusStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_csi_storage_capacity(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if new.get("nodeTopology") != old.get("nodeTopology"):
            errs.append(errors.invalid("nodeTopology", govalue.label_selector(new.get("nodeTopology")), govalue.IMMUTABLE))
        if new.get("storageClassName", "") != old.get("storageClassName", ""):
            errs.append(errors.invalid("storageClassName", new.get("storageClassName", ""), govalue.IMMUTABLE))
        return errs


STRATEGIES: dict[str, Strategy] = {
    "CSIDriver": CSIDriverStrategy(),
    "CSINode": CSINodeStrategy(),
    "CSIStorageCapacity": CSIStorageCapacityStrategy(),
    "StorageClass": StorageClassStrategy(),
    "VolumeAttachment": VolumeAttachmentStrategy(),
}
