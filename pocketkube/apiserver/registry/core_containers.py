"""Container validation (upstream validateContainerCommon and its helpers, v1.32).

Theory of operation: one function per upstream helper, each taking the JSON
subtree and its field path and returning FieldErrors in upstream order and
wording, including upstream's path quirks (for instance a volumeMount's
`subPath` problem is reported at `...volumeMounts.subPath`, without an index,
and a request above its limit at `...resources.requests`). `volumes` maps the
pod's valid volume names to their source dicts, as upstream's ValidateVolumes
returns them.
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.registry import core_checks as chk
from pocketkube.apiserver.registry import core_env as env
from pocketkube.apiserver.registry.core_checks import Errs
from pocketkube.machinery import errors

Obj = dict[str, Any]
PROTOCOLS = ("SCTP", "TCP", "UDP")


def validate_container_common(c: Obj, volumes: dict[str, Obj], path: str, restart_policy: str,
                              host_users: bool) -> Errs:
    errs: Errs = []
    name = c.get("name") or ""
    errs += [errors.required(f"{path}.name")] if not name else chk.check_dns_label(name, f"{path}.name")
    if not c.get("image"):
        errs.append(errors.required(f"{path}.image"))
    errs += _termination_message_policy(c.get("terminationMessagePolicy") or "", f"{path}.terminationMessagePolicy")
    errs += validate_ports(c.get("ports") or [], f"{path}.ports")
    errs += env.validate_env(c.get("env") or [], f"{path}.env")
    errs += env.validate_env_from(c.get("envFrom") or [], f"{path}.envFrom")
    errs += validate_volume_mounts(c, volumes, f"{path}.volumeMounts")
    errs += validate_volume_devices(c, volumes, f"{path}.volumeDevices")
    errs += _pull_policy(c.get("imagePullPolicy") or "", f"{path}.imagePullPolicy")
    errs += validate_resources(c.get("resources") or {}, f"{path}.resources")
    errs += _resize_policy(c.get("resizePolicy") or [], f"{path}.resizePolicy", restart_policy)
    errs += validate_security_context(c.get("securityContext"), f"{path}.securityContext", host_users)
    return errs


def _termination_message_policy(policy: str, path: str) -> Errs:
    if policy in ("File", "FallbackToLogsOnError"):
        return []
    if not policy:
        return [errors.required(path)]
    return [errors.not_supported(path, policy, ["File", "FallbackToLogsOnError"])]


def _pull_policy(policy: str, path: str) -> Errs:
    if policy in ("Always", "IfNotPresent", "Never"):
        return []
    if not policy:
        return [errors.required(path)]
    return [errors.not_supported(path, policy, ["Always", "IfNotPresent", "Never"])]


def validate_ports(ports: list[Obj], path: str) -> Errs:
    errs: Errs = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        p = f"{path}[{i}]"
        name = port.get("name") or ""
        if name:
            msgs = chk.port_name_problems(name)
            if msgs:
                errs += [errors.invalid(f"{p}.name", name, m) for m in msgs]
            elif name in seen:
                errs.append(errors.duplicate(f"{p}.name", name))
            else:
                seen.add(name)
        cp = port.get("containerPort") or 0
        if not cp:
            errs.append(errors.required(f"{p}.containerPort"))
        else:
            errs += [errors.invalid(f"{p}.containerPort", cp, m) for m in chk.port_num_problems(cp)]
        hp = port.get("hostPort") or 0
        if hp:
            errs += [errors.invalid(f"{p}.hostPort", hp, m) for m in chk.port_num_problems(hp)]
        errs += check_protocol(port.get("protocol") or "", f"{p}.protocol")
    return errs


def check_protocol(protocol: str, path: str) -> Errs:
    if not protocol:
        return [errors.required(path)]
    if protocol not in PROTOCOLS:
        return [errors.not_supported(path, protocol, PROTOCOLS)]
    return []


# --- mounts and devices -----------------------------------------------------------


def validate_volume_mounts(c: Obj, volumes: dict[str, Obj], path: str) -> Errs:
    errs: Errs = []
    devices = {d.get("name", ""): d.get("devicePath", "") for d in c.get("volumeDevices") or []}
    seen: set[str] = set()
    for i, m in enumerate(c.get("volumeMounts") or []):
        p = f"{path}[{i}]"
        name, mount_path = m.get("name") or "", m.get("mountPath") or ""
        if not name:
            errs.append(errors.required(f"{p}.name"))
        if name not in volumes:
            errs.append(errors.not_found(f"{p}.name", name))
        if not mount_path:
            errs.append(errors.required(f"{p}.mountPath"))
        if mount_path in seen:
            errs.append(errors.invalid(f"{p}.mountPath", mount_path, "must be unique"))
        seen.add(mount_path)
        if name in devices:
            errs.append(errors.invalid(f"{p}.name", name, "must not already exist in volumeDevices"))
        if mount_path in devices.values():
            errs.append(errors.invalid(f"{p}.mountPath", mount_path, "must not already exist as a path in volumeDevices"))
        errs += _mount_sub_paths(m, volumes.get(name), p, path)
        errs += _mount_propagation(m, c, path)
    return errs


def _mount_sub_paths(m: Obj, source: Obj | None, p: str, path: str) -> Errs:
    errs: Errs = []
    sub, expr = m.get("subPath") or "", m.get("subPathExpr") or ""
    if source is not None and source.get("image") is not None:
        if sub:
            errs.append(errors.invalid(f"{p}.subPath", sub, "not allowed in image volume sources"))
        if expr:
            errs.append(errors.invalid(f"{p}.subPathExpr", expr, "not allowed in image volume sources"))
    if sub:
        errs += chk.check_local_descending_path(sub, f"{path}.subPath")
    if expr:
        if sub:
            errs.append(errors.invalid(f"{p}.subPathExpr", expr, "subPathExpr and subPath are mutually exclusive"))
        errs += chk.check_local_descending_path(expr, f"{path}.subPathExpr")
    return errs


def _mount_propagation(m: Obj, c: Obj, path: str) -> Errs:
    errs: Errs = []
    prop = m.get("mountPropagation")
    if prop is not None:
        supported = ("Bidirectional", "HostToContainer", "None")
        if prop not in supported:
            errs.append(errors.not_supported(f"{path}.mountPropagation", prop, supported))
        privileged = bool((c.get("securityContext") or {}).get("privileged"))
        if prop == "Bidirectional" and not privileged:
            errs.append(errors.forbidden(f"{path}.mountPropagation",
                                         "Bidirectional mount propagation is available only to privileged containers"))
    rro = m.get("recursiveReadOnly")
    rpath = f"{path}.recursiveReadOnly"
    if rro in ("Enabled", "IfPossible"):
        if not m.get("readOnly"):
            errs.append(errors.forbidden(rpath, "may only be specified when readOnly is true"))
        if prop not in (None, "None"):
            errs.append(errors.forbidden(rpath, "may only be specified when mountPropagation is None or not specified"))
    elif rro not in (None, "Disabled"):
        errs.append(errors.not_supported(rpath, rro, ["Disabled", "Enabled", "IfPossible"]))
    return errs


def validate_volume_devices(c: Obj, volumes: dict[str, Obj], path: str) -> Errs:
    errs: Errs = []
    mounts = {m.get("name", ""): m.get("mountPath", "") for m in c.get("volumeMounts") or []}
    paths: set[str] = set()
    seen: set[str] = set()
    for i, d in enumerate(c.get("volumeDevices") or []):
        p = f"{path}[{i}]"
        name, dev_path = d.get("name") or "", d.get("devicePath") or ""
        source = volumes.get(name)
        if not name:
            errs.append(errors.required(f"{p}.name"))
        if name in seen:
            errs.append(errors.invalid(f"{p}.name", name, "must be unique"))
        if source is not None and source.get("persistentVolumeClaim") is None and source.get("ephemeral") is None:
            errs.append(errors.invalid(f"{p}.name", name,
                                       "can only use volume source type of PersistentVolumeClaim or Ephemeral for "
                                       "block mode"))
        if source is None:
            errs.append(errors.not_found(f"{p}.name", name))
        if not dev_path:
            errs.append(errors.required(f"{p}.devicePath"))
        if dev_path in paths:
            errs.append(errors.invalid(f"{p}.devicePath", dev_path, "must be unique"))
        if dev_path and chk.check_no_backsteps(dev_path, p):
            errs.append(errors.invalid(f"{p}.devicePath", dev_path, "can not contain backsteps ('..')"))
        else:
            paths.add(dev_path)
        if name in mounts:
            errs.append(errors.invalid(f"{p}.name", name, "must not already exist in volumeMounts"))
        if dev_path in mounts.values():
            errs.append(errors.invalid(f"{p}.devicePath", dev_path, "must not already exist as a path in volumeMounts"))
        if name:
            seen.add(name)
    return errs


# --- resources --------------------------------------------------------------------


def validate_resources(res: Obj, path: str) -> Errs:
    """ValidateContainerResourceRequirements (limits, requests, request <= limit, hugepages)."""
    errs: Errs = []
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    compute = hugepages = False
    for name, value in limits.items():
        p = f"{path}.limits[{name}]"
        errs += chk.check_container_resource_name(name, p) + chk.check_quantity_value(name, value, p)
        errs += _hugepages_value(name, value, p)
        hugepages |= chk.is_hugepages(name)
        compute |= name in ("cpu", "memory")
    for name, value in requests.items():
        p = f"{path}.requests[{name}]"
        errs += chk.check_container_resource_name(name, p) + chk.check_quantity_value(name, value, p)
        errs += _request_vs_limit(name, value, limits, path)
        errs += _hugepages_value(name, value, p)
        hugepages |= chk.is_hugepages(name)
        compute |= name in ("cpu", "memory")
    if hugepages and not compute:
        errs.append(errors.forbidden(path, "HugePages require cpu or memory"))
    for i, claim in enumerate(res.get("claims") or []):
        if not claim.get("name"):
            errs.append(errors.required(f"{path}.claims[{i}]"))
    return errs


def _request_vs_limit(name: str, value: Any, limits: Obj, path: str) -> Errs:
    req = chk.parse_q(value)
    if req is None:
        return []
    if name not in limits:
        if not chk.overcommit_allowed(name):
            return [errors.required(f"{path}.limits", "Limit must be set for non overcommitable resources")]
        return []
    lim = chk.parse_q(limits[name])
    if lim is None:
        return []
    if req.value != lim.value and not chk.overcommit_allowed(name):
        return [errors.invalid(f"{path}.requests", str(req), f"must be equal to {name} limit of {lim}")]
    if req.value > lim.value:
        return [errors.invalid(f"{path}.requests", str(req), f"must be less than or equal to {name} limit of {lim}")]
    return []


def _hugepages_value(name: str, value: Any, path: str) -> Errs:
    if not chk.is_hugepages(name):
        return []
    q, page = chk.parse_q(value), chk.parse_q(name[len("hugepages-"):])
    if q is None or page is None or page.value <= 0:
        return []
    if q.int_value() % page.int_value() != 0:
        return [errors.invalid(path, str(q), f"{q} is not positive integer multiple of {name}")]
    return []


def _resize_policy(policies: list[Obj], path: str, restart_policy: str) -> Errs:
    errs: Errs = []
    seen: set[str] = set()
    for i, p in enumerate(policies):
        name, policy = p.get("resourceName") or "", p.get("restartPolicy") or ""
        if name in seen:
            errs.append(errors.duplicate(f"{path}[{i}]", name))
        seen.add(name)
        if not name:
            errs.append(errors.required(path))
        elif name not in ("cpu", "memory"):
            errs.append(errors.not_supported(path, name, ["cpu", "memory"]))
        if not policy:
            errs.append(errors.required(path))
        elif policy not in ("NotRequired", "RestartContainer"):
            errs.append(errors.not_supported(path, policy, ["NotRequired", "RestartContainer"]))
        if restart_policy == "Never" and policy != "NotRequired":
            errs.append(errors.invalid(path, policy, "must be 'NotRequired' when `restartPolicy` is 'Never'"))
    return errs


# --- security context -------------------------------------------------------------


def validate_security_context(sc: Obj | None, path: str, host_users: bool) -> Errs:
    if sc is None:
        return []
    errs: Errs = []
    errs += chk.check_id(sc.get("runAsUser"), f"{path}.runAsUser")
    errs += chk.check_id(sc.get("runAsGroup"), f"{path}.runAsGroup")
    proc = sc.get("procMount")
    if proc is not None:
        if proc not in ("Default", "Unmasked"):
            errs.append(errors.not_supported(f"{path}.procMount", proc, ["Default", "Unmasked"]))
        if host_users and proc == "Unmasked":
            errs.append(errors.invalid(f"{path}.procMount", proc, "`hostUsers` must be false to use `Unmasked`"))
    errs += validate_seccomp_profile(sc.get("seccompProfile"), f"{path}.seccompProfile")
    if sc.get("allowPrivilegeEscalation") is False:
        shown = chk.GoRepr("&core.SecurityContext{...}")
        if sc.get("privileged"):
            errs.append(errors.invalid(path, shown, "cannot set `allowPrivilegeEscalation` to false and "
                                                    "`privileged` to true"))
        if "CAP_SYS_ADMIN" in ((sc.get("capabilities") or {}).get("add") or []):
            errs.append(errors.invalid(path, shown, "cannot set `allowPrivilegeEscalation` to false and "
                                                    "`capabilities.Add` CAP_SYS_ADMIN"))
    return errs + validate_app_armor(sc.get("appArmorProfile"), f"{path}.appArmorProfile")


def validate_seccomp_profile(sp: Obj | None, path: str) -> Errs:
    if sp is None:
        return []
    errs: Errs = []
    kind = sp.get("type") or ""
    supported = ["Localhost", "RuntimeDefault", "Unconfined"]
    if not kind:
        errs.append(errors.required(f"{path}.type", "type is required when seccompProfile is set"))
    elif kind not in supported:
        errs.append(errors.not_supported(f"{path}.type", kind, supported))
    local = sp.get("localhostProfile")
    if kind == "Localhost":
        if local is None:
            errs.append(errors.required(f"{path}.localhostProfile", "must be set when seccomp type is Localhost"))
        else:
            errs += chk.check_local_descending_path(local, f"{path}.localhostProfile")
    elif local is not None:
        errs.append(errors.invalid(f"{path}.localhostProfile", chk.GoRepr("&core.SeccompProfile{...}"),
                                   "can only be set when seccomp type is Localhost"))
    return errs


def validate_app_armor(profile: Obj | None, path: str) -> Errs:
    if profile is None:
        return []
    kind, local = profile.get("type") or "", profile.get("localhostProfile")
    if kind == "Localhost":
        if local is None or not local.strip():
            return [errors.required(f"{path}.localhostProfile", "must be set when AppArmor type is Localhost")]
        if local.strip() != local:
            return [errors.invalid(f"{path}.localhostProfile", local, "must not be padded with whitespace")]
        return []
    if kind in ("RuntimeDefault", "Unconfined"):
        if local is not None:
            return [errors.invalid(f"{path}.localhostProfile", local, "can only be set when AppArmor type is Localhost")]
        return []
    if not kind:
        return [errors.required(f"{path}.type", "type is required when appArmorProfile is set")]
    return [errors.not_supported(f"{path}.type", kind, ["Localhost", "RuntimeDefault", "Unconfined"])]
