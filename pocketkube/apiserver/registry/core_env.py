"""Container environment validation (upstream ValidateEnv / ValidateEnvFrom and the downward API selectors, v1.32).

Theory of operation: env var names use the relaxed rule of v1.32 (printable
ASCII except '='); `valueFrom` must name exactly one source; downward API field
paths are first converted the way upstream's ConvertDownwardAPIFieldLabel does
(so `spec.host` still works and unknown paths read "error converting fieldPath")
and then checked against the set each context allows (env vars or volume
files); resource selectors accept the container resource fields and upstream's
divisor values. Paths follow upstream, including envFrom's list-level errors.
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.registry import core_checks as chk
from pocketkube.apiserver.registry.core_checks import Errs
from pocketkube.machinery import errors
from pocketkube.machinery.validation import names

Obj = dict[str, Any]
_ENV_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                    "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")
VOLUME_FIELD_PATHS = ("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                      "metadata.uid")
_CONVERTIBLE = frozenset({"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                          "metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName",
                          "spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs", "status.podIP",
                          "status.podIPs"})
_RESOURCE_FIELDS = ("limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                    "requests.ephemeral-storage", "requests.memory")
_MEM_DIVISORS = frozenset({"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"})


def validate_env(env: list[Obj], path: str) -> Errs:
    errs: Errs = []
    for i, ev in enumerate(env):
        p = f"{path}[{i}]"
        name = ev.get("name") or ""
        if not name:
            errs.append(errors.required(f"{p}.name"))
        else:
            errs += [errors.invalid(f"{p}.name", name, m) for m in chk.env_var_name_problems(name)]
        errs += _env_value_from(ev, f"{p}.valueFrom")
    return errs


def _env_value_from(ev: Obj, path: str) -> Errs:
    vf = ev.get("valueFrom")
    if vf is None:
        return []
    errs: Errs = []
    n = 0
    if vf.get("fieldRef") is not None:
        n += 1
        errs += validate_object_field_selector(vf["fieldRef"], _ENV_FIELD_PATHS, f"{path}.fieldRef")
    if vf.get("resourceFieldRef") is not None:
        n += 1
        errs += validate_resource_field_selector(vf["resourceFieldRef"], f"{path}.resourceFieldRef", False)
    for key in ("configMapKeyRef", "secretKeyRef"):
        if vf.get(key) is not None:
            n += 1
            errs += _key_selector(vf[key], f"{path}.{key}")
    if n == 0:
        errs.append(errors.invalid(path, "",
                                   "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                                   "`secretKeyRef`"))
    elif ev.get("value"):
        errs.append(errors.invalid(path, "", "may not be specified when `value` is not empty"))
    elif n > 1:
        errs.append(errors.invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _split_subscript(field_path: str) -> tuple[str, str] | None:
    if not field_path.endswith("']"):
        return None
    parts = field_path[:-2].split("['", 1)
    if len(parts) < 2 or not parts[0]:
        return None
    return parts[0], parts[1]


def validate_object_field_selector(fs: Obj, expressions: tuple[str, ...], path: str) -> Errs:
    version, fp = fs.get("apiVersion") or "", fs.get("fieldPath") or ""
    if not version:
        return [errors.required(f"{path}.apiVersion")]
    if not fp:
        return [errors.required(f"{path}.fieldPath")]
    problem = _convert_field_label(version, fp)
    if problem:
        return [errors.invalid(f"{path}.fieldPath", fp, f"error converting fieldPath: {problem}")]
    fp = "spec.nodeName" if fp == "spec.host" else fp
    sub = _split_subscript(fp)
    if sub is not None:
        base, key = sub
        if base == "metadata.annotations":
            return chk.check_qualified_name(key.lower(), path)
        if base == "metadata.labels":
            return chk.check_qualified_name(key, path)
        return [errors.invalid(path, base, "does not support subscript")]
    if fp not in expressions:
        return [errors.not_supported(f"{path}.fieldPath", fp, sorted(expressions))]
    return []


def _convert_field_label(version: str, label: str) -> str:
    if version != "v1":
        return f"unsupported pod version: {version}"
    sub = _split_subscript(label)
    if sub is not None:
        return "" if sub[0] in ("metadata.annotations", "metadata.labels") else \
            f"field label does not support subscript: {label}"
    return "" if label in _CONVERTIBLE or label == "spec.host" else f"field label not supported: {label}"


def validate_resource_field_selector(fs: Obj, path: str, volume: bool) -> Errs:
    errs: Errs = []
    resource = fs.get("resource") or ""
    if volume and not fs.get("containerName"):
        errs.append(errors.required(f"{path}.containerName"))
    elif not resource:
        errs.append(errors.required(f"{path}.resource"))
    elif resource not in _RESOURCE_FIELDS and not resource.startswith(("requests.hugepages-", "limits.hugepages-")):
        errs.append(errors.not_supported(f"{path}.resource", resource, _RESOURCE_FIELDS))
    return errs + _divisor(resource, fs.get("divisor"), path)


def _divisor(resource: str, divisor: Any, path: str) -> Errs:
    q = chk.parse_q(divisor) if divisor is not None else None
    if q is None or q.value == 0:
        return []
    text = str(q)
    if resource in ("limits.cpu", "requests.cpu") and text not in ("1m", "1"):
        return [errors.invalid(f"{path}.divisor", resource,
                               "only divisor's values 1m and 1 are supported with the cpu resource")]
    kinds = {"limits.memory": "memory", "requests.memory": "memory", "limits.ephemeral-storage":
             "local ephemeral storage", "requests.ephemeral-storage": "local ephemeral storage"}
    kind = kinds.get(resource) or ("hugepages" if "hugepages-" in resource else "")
    if kind and text not in _MEM_DIVISORS:
        return [errors.invalid(f"{path}.divisor", resource,
                               "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are "
                               f"supported with the {kind} resource")]
    return []


def _key_selector(s: Obj, path: str) -> Errs:
    errs = chk.check_dns_subdomain(s.get("name") or "", f"{path}.name")
    key = s.get("key") or ""
    if not key:
        errs.append(errors.required(f"{path}.key"))
    else:
        errs += [errors.invalid(f"{path}.key", key, m) for m in chk.config_map_key_problems(key)]
    return errs


def validate_env_from(env_from: list[Obj], path: str) -> Errs:
    errs: Errs = []
    for i, ev in enumerate(env_from):
        p = f"{path}[{i}]"
        prefix = ev.get("prefix") or ""
        if prefix:
            errs += [errors.invalid(f"{p}.prefix", prefix, m) for m in chk.env_var_name_problems(prefix)]
        n = 0
        for key in ("configMapRef", "secretRef"):
            if ev.get(key) is not None:
                n += 1
                name = ev[key].get("name") or ""
                if not name:
                    errs.append(errors.required(f"{p}.{key}.name"))
                else:
                    masked = name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name
                    errs += [errors.invalid(f"{p}.{key}.name", name, m) for m in _subdomain_msgs(masked)]
        if n == 0:
            errs.append(errors.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif n > 1:
            errs.append(errors.invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _subdomain_msgs(value: str) -> list[str]:
    return names.dns1123_subdomain_problems(value)
