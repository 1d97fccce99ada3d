"""Pod volume validation (upstream ValidateVolumes / validateVolumeSource, v1.32).

Theory of operation: a volume must name exactly one source; sources are checked
in upstream's order so the "may not specify more than 1 volume type" error lands
on the same key (including upstream's `downwarAPI` typo and the
`persistentDisk` path used for gcePersistentDisk). The common sources (emptyDir,
hostPath, secret, configMap, persistentVolumeClaim, downwardAPI, projected, nfs,
csi, ephemeral, image) are validated in full; the legacy in-tree cloud sources
get their required-field checks. `validate_volumes` returns the name -> source
map that container validation uses for volumeMounts and volumeDevices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pocketkube.apiserver.registry import core_checks as chk
from pocketkube.apiserver.registry import core_env as env
from pocketkube.apiserver.registry.core_checks import Errs
from pocketkube.machinery import errors
from pocketkube.machinery.validation import names

Obj = dict[str, Any]
HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket")
_MORE_THAN_ONE = "may not specify more than 1 volume type"


def validate_volumes(volumes: list[Obj], pod_name: str, path: str) -> tuple[dict[str, Obj], Errs]:
    errs: Errs = []
    valid: dict[str, Obj] = {}
    created_pvcs = {f"{pod_name}-{v.get('name', '')}" for v in volumes if pod_name and v.get("ephemeral") is not None}
    for i, vol in enumerate(volumes):
        p = f"{path}[{i}]"
        name = vol.get("name") or ""
        el = validate_volume_source(vol, p, name, pod_name)
        el += [errors.required(f"{p}.name")] if not name else chk.check_dns_label(name, f"{p}.name")
        if name in valid:
            el.append(errors.duplicate(f"{p}.name", name))
        if el:
            errs += el
        else:
            valid[name] = vol
        claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
        if vol.get("persistentVolumeClaim") is not None and claim in created_pvcs:
            errs.append(errors.invalid(f"{p}.persistentVolumeClaim.claimName", claim,
                                       "must not reference a PVC that gets created for an ephemeral volume"))
    return valid, errs


def validate_volume_source(vol: Obj, path: str, name: str, pod_name: str) -> Errs:
    errs: Errs = []
    count = 0
    for key, err_key, check in _SOURCES:
        source = vol.get(key)
        if source is None:
            continue
        if count > 0:
            errs.append(errors.forbidden(f"{path}.{err_key}", _MORE_THAN_ONE))
            continue
        count += 1
        errs += check(source if isinstance(source, dict) else {}, f"{path}.{_PATH_KEY.get(key, key)}")
        if key == "ephemeral" and pod_name and name:
            pvc = f"{pod_name}-{name}"
            errs += [errors.invalid(f"{path}.name", name, f'PVC name "{pvc}": {m}')
                     for m in names.dns1123_subdomain_problems(pvc)]
    if count == 0:
        errs.append(errors.required(path, "must specify a volume type"))
    return errs


def _empty_dir(s: Obj, path: str) -> Errs:
    limit = s.get("sizeLimit")
    q = chk.parse_q(limit) if limit is not None else None
    if q is not None and q.value < 0:
        return [errors.forbidden(f"{path}.sizeLimit", "SizeLimit field must be a valid resource quantity")]
    return []


def validate_host_path(s: Obj, path: str) -> Errs:
    p = s.get("path") or ""
    if not p:
        return [errors.required(f"{path}.path")]
    errs = chk.check_no_backsteps(p, f"{path}.path")
    kind = s.get("type")
    if kind is not None and kind not in HOST_PATH_TYPES:
        errs.append(errors.not_supported(f"{path}.type", kind, HOST_PATH_TYPES))
    return errs


def _key_to_paths(items: list[Obj], path: str) -> Errs:
    errs: Errs = []
    for i, kp in enumerate(items):
        errs += _key_to_paths_at(kp, f"{path}[{i}]")
    return errs


def _secret(s: Obj, path: str) -> Errs:
    errs = [] if s.get("secretName") else [errors.required(f"{path}.secretName")]
    errs += chk.check_file_mode(s.get("defaultMode"), f"{path}.defaultMode")
    return errs + _key_to_paths(s.get("items") or [], f"{path}.items")


def _config_map(s: Obj, path: str) -> Errs:
    errs = [] if s.get("name") else [errors.required(f"{path}.name")]
    errs += chk.check_file_mode(s.get("defaultMode"), f"{path}.defaultMode")
    return errs + _key_to_paths(s.get("items") or [], f"{path}.items")


def _downward_api_file(f: Obj, path: str) -> Errs:
    errs: Errs = [] if f.get("path") else [errors.required(f"{path}.path")]
    errs += chk.check_local_non_reserved_path(f.get("path") or "", f"{path}.path")
    if f.get("fieldRef") is not None:
        errs += env.validate_object_field_selector(f["fieldRef"], env.VOLUME_FIELD_PATHS, f"{path}.fieldRef")
        if f.get("resourceFieldRef") is not None:
            errs.append(errors.invalid(path, "resource", "fieldRef and resourceFieldRef can not be specified "
                                                         "simultaneously"))
    elif f.get("resourceFieldRef") is not None:
        errs += env.validate_resource_field_selector(f["resourceFieldRef"], f"{path}.resourceFieldRef", True)
    else:
        errs.append(errors.required(path, "one of fieldRef and resourceFieldRef is required"))
    return errs + chk.check_file_mode(f.get("mode"), f"{path}.mode")


def _downward_api(s: Obj, path: str) -> Errs:
    errs = chk.check_file_mode(s.get("defaultMode"), f"{path}.defaultMode")
    for f in s.get("items") or []:
        errs += _downward_api_file(f, path)
    return errs


def _projected(s: Obj, path: str) -> Errs:
    errs = chk.check_file_mode(s.get("defaultMode"), f"{path}.defaultMode")
    seen: set[str] = set()
    for i, src in enumerate(s.get("sources") or []):
        sp = f"{path}.sources[{i}]"
        count = 0
        for key in ("secret", "configMap"):
            if src.get(key) is not None:
                count += 1
                errs += _projected_key_source(src[key], f"{sp}.{key}", path, seen)
        if src.get("downwardAPI") is not None:
            count += 1
            for f in src["downwardAPI"].get("items") or []:
                errs += _downward_api_file(f, f"{sp}.downwardAPI")
                errs += _unique_path(f.get("path") or "", f.get("path") or "", path, seen)
        if src.get("serviceAccountToken") is not None:
            count += 1
            errs += _token_projection(src["serviceAccountToken"], f"{sp}.serviceAccountToken", path)
        if src.get("clusterTrustBundle") is not None:
            count += 1
            ctb = src["clusterTrustBundle"]
            errs += [] if ctb.get("path") else [errors.required(f"{sp}.clusterTrustBundle.path")]
            errs += _unique_path(ctb.get("path") or "", ctb.get("path") or "", path, seen)
        if count > 1:
            errs.append(errors.forbidden(sp, "may not specify more than 1 volume type per source"))
    return errs


def _projected_key_source(s: Obj, path: str, vol_path: str, seen: set[str]) -> Errs:
    errs: Errs = [] if s.get("name") else [errors.required(f"{path}.name")]
    for i, kp in enumerate(s.get("items") or []):
        errs += _key_to_paths_at(kp, f"{path}.items[{i}]")
        errs += _unique_path(kp.get("path") or "", s.get("name") or "", vol_path, seen)
    return errs


def _key_to_paths_at(kp: Obj, p: str) -> Errs:
    errs: Errs = []
    if not kp.get("key"):
        errs.append(errors.required(f"{p}.key"))
    if not kp.get("path"):
        errs.append(errors.required(f"{p}.path"))
    errs += chk.check_local_non_reserved_path(kp.get("path") or "", f"{p}.path")
    return errs + chk.check_file_mode(kp.get("mode"), f"{p}.mode")


def _unique_path(p: str, shown: str, vol_path: str, seen: set[str]) -> Errs:
    if not p:
        return []
    if p in seen:
        return [errors.invalid(vol_path, shown, "conflicting duplicate paths")]
    seen.add(p)
    return []


def _token_projection(t: Obj, path: str, vol_path: str) -> Errs:
    errs: Errs = []
    exp = t.get("expirationSeconds") or 0
    if exp < 600:
        errs.append(errors.invalid(f"{path}.expirationSeconds", exp, "may not specify a duration less than 10 minutes"))
    if exp > 1 << 32:
        errs.append(errors.invalid(f"{path}.expirationSeconds", exp, "may not specify a duration larger than 2^32 "
                                                                     "seconds"))
    if not t.get("path"):
        errs.append(errors.required(f"{vol_path}.path"))
    else:
        errs += chk.check_local_non_reserved_path(t["path"], f"{vol_path}.path")
    return errs


def _nfs(s: Obj, path: str) -> Errs:
    errs: Errs = [] if s.get("server") else [errors.required(f"{path}.server")]
    p = s.get("path") or ""
    if not p:
        errs.append(errors.required(f"{path}.path"))
    if not p.startswith("/"):
        errs.append(errors.invalid(f"{path}.path", p, "must be an absolute path"))
    return errs


def _csi(s: Obj, path: str) -> Errs:
    driver = s.get("driver") or ""
    errs: Errs = [] if driver else [errors.required(f"{path}.driver")]
    if len(driver) > 63:
        errs.append(errors.too_long(f"{path}.driver", 63))
    errs += [errors.invalid(f"{path}.driver", driver, m) for m in names.dns1123_subdomain_problems(driver.lower())]
    ref = s.get("nodePublishSecretRef")
    if ref is not None:
        if not ref.get("name"):
            errs.append(errors.required(f"{path}.nodePublishSecretRef.name"))
        else:
            errs += [errors.invalid(f"{path}.name", ref["name"], m)
                     for m in names.dns1123_subdomain_problems(ref["name"])]
    return errs


def _ephemeral(s: Obj, path: str) -> Errs:
    template = s.get("volumeClaimTemplate")
    if template is None:
        return [errors.required(f"{path}.volumeClaimTemplate")]
    from pocketkube.apiserver.registry import core_storage

    tp = f"{path}.volumeClaimTemplate"
    meta = template.get("metadata") or {}
    errs: Errs = []
    for key in meta:
        if key not in ("labels", "annotations"):
            errs.append(errors.forbidden(f"{tp}.metadata.{key}", "cannot be set"))
    return errs + core_storage.validate_pvc_spec(template.get("spec") or {}, f"{tp}.spec")


def _image(s: Obj, path: str) -> Errs:
    errs: Errs = [] if s.get("reference") else [errors.required(f"{path}.reference")]
    policy = s.get("pullPolicy") or ""
    if policy and policy not in ("Always", "IfNotPresent", "Never"):
        errs.append(errors.not_supported(f"{path}.pullPolicy", policy, ["Always", "IfNotPresent", "Never"]))
    return errs


def _requires(*keys: str) -> Callable[[Obj, str], Errs]:
    def check(s: Obj, path: str) -> Errs:
        return [errors.required(f"{path}.{k}") for k in keys if not s.get(k)]
    return check


def _pvc(s: Obj, path: str) -> Errs:
    return [] if s.get("claimName") else [errors.required(f"{path}.claimName")]


# (json key, key reported when it is a second source, validator); upstream's order.
_SOURCES: list[tuple[str, str, Callable[[Obj, str], Errs]]] = [
    ("emptyDir", "emptyDir", _empty_dir), ("hostPath", "hostPath", validate_host_path),
    ("gitRepo", "gitRepo", _requires("repository")), ("gcePersistentDisk", "gcePersistentDisk", _requires("pdName")),
    ("awsElasticBlockStore", "awsElasticBlockStore", _requires("volumeID")), ("secret", "secret", _secret),
    ("nfs", "nfs", _nfs), ("iscsi", "iscsi", _requires("targetPortal", "iqn")),
    ("glusterfs", "glusterfs", _requires("endpoints", "path")), ("flocker", "flocker", lambda s, p: []),
    ("persistentVolumeClaim", "persistentVolumeClaim", _pvc), ("rbd", "rbd", _requires("monitors", "image")),
    ("cinder", "cinder", _requires("volumeID")), ("cephfs", "cephFS", _requires("monitors")),
    ("quobyte", "quobyte", _requires("registry", "volume")), ("downwardAPI", "downwarAPI", _downward_api),
    ("fc", "fc", lambda s, p: []), ("flexVolume", "flexVolume", _requires("driver")),
    ("configMap", "configMap", _config_map), ("azureFile", "azureFile", _requires("secretName", "shareName")),
    ("vsphereVolume", "vsphereVolume", _requires("volumePath")),
    ("photonPersistentDisk", "photonPersistentDisk", _requires("pdID")),
    ("portworxVolume", "portworxVolume", _requires("volumeID")),
    ("azureDisk", "azureDisk", _requires("diskName", "diskURI")), ("storageos", "storageos", _requires("volumeName")),
    ("projected", "projected", _projected), ("scaleIO", "scaleIO", _requires("gateway", "system", "volumeName")),
    ("csi", "csi", _csi), ("ephemeral", "ephemeral", _ephemeral), ("image", "image", _image),
]
_PATH_KEY = {"gcePersistentDisk": "persistentDisk"}
