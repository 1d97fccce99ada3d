"""PodSpec validation (upstream ValidatePodSpec, v1.32) over JSON trees.

Theory of operation: `validate_spec` runs upstream's checks in upstream's order:
grace period, volumes, containers (regular, init, ephemeral, each with probes,
lifecycle handlers and host-port conflicts), host-network ports, restart and DNS
policies, node selector, pod security context, affinity, DNS config, gates,
topology spread, host users, names (service account, node, hostname,
subdomain, priority and runtime classes), active deadline, tolerations, host
aliases, preemption policy, overhead and OS. `is_pod` switches on the checks
upstream applies only to Pods (ResourceIsPod), `pod_name` the generic ephemeral
volume PVC-name check.
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.registry import core_checks as chk
from pocketkube.apiserver.registry import core_containers as ctr
from pocketkube.apiserver.registry import core_scheduling as sched
from pocketkube.apiserver.registry import core_volumes as vols
from pocketkube.apiserver.registry.core_checks import Errs
from pocketkube.machinery import errors
from pocketkube.machinery.validation import meta

Obj = dict[str, Any]
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_EPHEMERAL_FORBIDDEN = ("ports", "resources", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
                        "resizePolicy", "restartPolicy")
_MAX_INT32 = 2**31 - 1


def validate_spec(spec: Obj, path: str, *, is_pod: bool = False, pod_name: str = "") -> Errs:
    errs: Errs = []
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is None:
        errs.append(errors.required(f"{path}.terminationGracePeriodSeconds"))
    sc = spec.get("securityContext") or {}
    host_users = sc.get("hostUsers") is not False
    restart = spec.get("restartPolicy") or ""
    volumes, verrs = vols.validate_volumes(spec.get("volumes") or [], pod_name, f"{path}.volumes")
    errs += verrs
    errs += _resource_claims(spec.get("resourceClaims") or [], f"{path}.resourceClaims")
    errs += validate_containers(spec, volumes, grace, f"{path}.containers", restart, host_users)
    errs += _init_containers(spec, volumes, grace, f"{path}.initContainers", restart, host_users)
    errs += _ephemeral_containers(spec, volumes, f"{path}.ephemeralContainers", restart, host_users)
    errs += _host_network_ports(spec, path, is_pod)
    errs += _enum(restart, RESTART_POLICIES, f"{path}.restartPolicy")
    errs += _enum(spec.get("dnsPolicy") or "", DNS_POLICIES, f"{path}.dnsPolicy")
    errs += meta.validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    errs += sched.validate_pod_security_context(spec, f"{path}.securityContext")
    errs += sched.validate_affinity(spec.get("affinity"), f"{path}.affinity")
    errs += sched.validate_dns(spec.get("dnsConfig"), spec.get("dnsPolicy") or "", f"{path}.dnsConfig")
    errs += _gates(spec, path)
    errs += sched.validate_topology_spread(spec.get("topologySpreadConstraints") or [],
                                           f"{path}.topologySpreadConstraints")
    errs += _host_users(spec, path, host_users)
    return errs + _spec_fields(spec, path)


def _spec_fields(spec: Obj, path: str) -> Errs:
    errs: Errs = []
    for key in ("serviceAccountName", "nodeName"):
        if spec.get(key):
            errs += chk.check_dns_subdomain(spec[key], f"{path}.{key}")
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= _MAX_INT32:
        errs.append(errors.invalid(f"{path}.activeDeadlineSeconds", deadline, chk.inclusive_range(1, _MAX_INT32)))
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            errs += chk.check_dns_label(spec[key], f"{path}.{key}")
    errs += sched.validate_tolerations(spec.get("tolerations") or [], f"{path}.tolerations")
    errs += sched.validate_host_aliases(spec.get("hostAliases") or [], f"{path}.hostAliases")
    if spec.get("priorityClassName"):
        errs += chk.check_dns_subdomain(spec["priorityClassName"], f"{path}.priorityClassName")
    if spec.get("runtimeClassName") is not None:
        errs += chk.check_dns_subdomain(spec["runtimeClassName"], f"{path}.runtimeClassName")
    policy = spec.get("preemptionPolicy")
    if policy is not None:
        errs += _enum(policy, ("PreemptLowerPriority", "Never"), f"{path}.preemptionPolicy")
    if spec.get("overhead") is not None:
        errs += ctr.validate_resources({"limits": spec["overhead"]}, f"{path}.overhead")
    return errs + _os(spec, path)


def _enum(value: str, allowed: tuple[str, ...], path: str) -> Errs:
    if value in allowed:
        return []
    if not value:
        return [errors.required(path)]
    return [errors.not_supported(path, value, allowed)]


def _os(spec: Obj, path: str) -> Errs:
    os_ = spec.get("os")
    if os_ is None:
        return []
    name = os_.get("name") or ""
    if not name:
        return [errors.required(f"{path}.os.name", "cannot be empty")]
    if name not in ("linux", "windows"):
        return [errors.not_supported(f"{path}.os", name, ["linux", "windows"])]
    errs: Errs = []
    if name == "linux":
        if (spec.get("securityContext") or {}).get("windowsOptions") is not None:
            errs.append(errors.forbidden(f"{path}.securityContext.windowsOptions",
                                         "windows options cannot be set for a linux pod"))
        for cpath, c in _all_containers(spec, path):
            if (c.get("securityContext") or {}).get("windowsOptions") is not None:
                errs.append(errors.forbidden(f"{cpath}.securityContext.windowsOptions",
                                             "windows options cannot be set for a linux pod"))
    return errs


def _all_containers(spec: Obj, path: str) -> list[tuple[str, Obj]]:
    out = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        out += [(f"{path}.{key}[{i}]", c) for i, c in enumerate(spec.get(key) or [])]
    return out


def _gates(spec: Obj, path: str) -> Errs:
    errs: Errs = []
    for i, gate in enumerate(spec.get("readinessGates") or []):
        errs += chk.check_qualified_name(gate.get("conditionType") or "", f"{path}.readinessGates[{i}].conditionType")
    seen: set[str] = set()
    for i, gate in enumerate(spec.get("schedulingGates") or []):
        name = gate.get("name") or ""
        errs += chk.check_qualified_name(name, f"{path}.schedulingGates[{i}]")
        if name in seen:
            errs.append(errors.duplicate(f"{path}.schedulingGates[{i}]", name))
        seen.add(name)
    return errs


def _host_users(spec: Obj, path: str, host_users: bool) -> Errs:
    if host_users:
        return []
    errs: Errs = []
    for key, shown in (("hostNetwork", "hostNetwork"), ("hostPID", "HostPID"), ("hostIPC", "HostIPC")):
        if spec.get(key):
            errs.append(errors.forbidden(f"{path}.{shown}", "when `pod.Spec.HostUsers` is false"))
    return errs


def _host_network_ports(spec: Obj, path: str, is_pod: bool) -> Errs:
    if not spec.get("hostNetwork"):
        return []
    errs: Errs = []
    for i, c in enumerate(spec.get("containers") or []):
        for j, port in enumerate(c.get("ports") or []):
            hp, cp = port.get("hostPort") or 0, port.get("containerPort") or 0
            if (is_pod or hp != 0) and hp != cp:
                errs.append(errors.invalid(f"{path}.containers[{i}].ports[{j}].hostPort", hp,
                                           "must match `containerPort` when `hostNetwork` is true"))
    return errs


def _resource_claims(claims: list[Obj], path: str) -> Errs:
    errs: Errs = []
    seen: set[str] = set()
    for i, claim in enumerate(claims):
        p = f"{path}[{i}]"
        name = claim.get("name") or ""
        if not name:
            errs.append(errors.required(f"{p}.name"))
        elif name in seen:
            errs.append(errors.duplicate(f"{p}.name", name))
        else:
            errs += chk.check_dns_label(name, f"{p}.name")
            seen.add(name)
        has_name, has_template = claim.get("resourceClaimName") is not None, \
            claim.get("resourceClaimTemplateName") is not None
        if has_name and has_template:
            errs.append(errors.invalid(p, chk.GoRepr("core.PodResourceClaim{...}"),
                                       "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be "
                                       "specified"))
        elif not has_name and not has_template:
            errs.append(errors.invalid(p, chk.GoRepr("core.PodResourceClaim{...}"),
                                       "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"))
    return errs


# --- container lists --------------------------------------------------------------


def validate_containers(spec: Obj, volumes: dict[str, Obj], grace: Any, path: str, restart: str,
                        host_users: bool) -> Errs:
    containers = spec.get("containers") or []
    if not containers:
        return [errors.required(path)]
    errs: Errs = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        p = f"{path}[{i}]"
        errs += ctr.validate_container_common(c, volumes, p, restart, host_users)
        name = c.get("name") or ""
        if name in seen:
            errs.append(errors.duplicate(f"{p}.name", name))
        seen.add(name)
        errs += _probes_and_lifecycle(c, grace, p)
        if c.get("restartPolicy") is not None:
            errs.append(errors.forbidden(f"{p}.restartPolicy", "may not be set for non-init containers"))
    return errs + host_port_conflicts(containers, path)


def _init_containers(spec: Obj, volumes: dict[str, Obj], grace: Any, path: str, restart: str,
                     host_users: bool) -> Errs:
    errs: Errs = []
    seen = {c.get("name") or "" for c in spec.get("containers") or []}
    for i, c in enumerate(spec.get("initContainers") or []):
        p = f"{path}[{i}]"
        errs += ctr.validate_container_common(c, volumes, p, restart, host_users)
        policy = c.get("restartPolicy")
        if policy is not None and policy != "Always":
            errs.append(errors.not_supported(f"{p}.restartPolicy", policy, ["Always"]))
        name = c.get("name") or ""
        if name in seen:
            errs.append(errors.duplicate(f"{p}.name", name))
        elif name:
            seen.add(name)
        errs += host_port_conflicts([c], path)
        if policy == "Always":
            errs += _probes_and_lifecycle(c, grace, p)
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if c.get(key) is not None:
                    errs.append(errors.forbidden(f"{p}.{key}", "may not be set for init containers without "
                                                               "restartPolicy=Always"))
        if c.get("resizePolicy"):
            errs.append(errors.invalid(f"{p}.resizePolicy", chk.GoRepr("[]core.ContainerResizePolicy{...}"),
                                       "must not be set for init containers"))
    return errs


def _ephemeral_containers(spec: Obj, volumes: dict[str, Obj], path: str, restart: str, host_users: bool) -> Errs:
    errs: Errs = []
    others = {c.get("name") or "" for key in ("containers", "initContainers") for c in spec.get(key) or []}
    seen = set(others)
    for i, c in enumerate(spec.get("ephemeralContainers") or []):
        p = f"{path}[{i}]"
        errs += ctr.validate_container_common(c, volumes, p, restart, host_users)
        image = c.get("image") or ""
        if image != image.strip():
            errs.append(errors.invalid(f"{p}.image", image, "must not have leading or trailing whitespace"))
        name = c.get("name") or ""
        if name in seen:
            errs.append(errors.duplicate(f"{p}.name", name))
        seen.add(name)
        target = c.get("targetContainerName") or ""
        if target and target not in others:
            errs.append(errors.not_found(f"{p}.targetContainerName", target))
        for key in _EPHEMERAL_FORBIDDEN:
            if c.get(key):
                errs.append(errors.forbidden(f"{p}.{key}", "cannot be set for an Ephemeral Container"))
        for j, vm in enumerate(c.get("volumeMounts") or []):
            for key in ("subPath", "subPathExpr"):
                if vm.get(key):
                    errs.append(errors.forbidden(f"{p}.volumeMounts[{j}].{key}",
                                                 "cannot be set for an Ephemeral Container"))
    return errs


def host_port_conflicts(containers: list[Obj], path: str) -> Errs:
    errs: Errs = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        for j, port in enumerate(c.get("ports") or []):
            hp = port.get("hostPort") or 0
            if not hp:
                continue
            key = f"{port.get('protocol') or ''}/{port.get('hostIP') or ''}/{hp}"
            if key in seen:
                errs.append(errors.duplicate(f"{path}[{i}].ports[{j}].hostPort", key))
            seen.add(key)
    return errs


# --- probes and handlers ----------------------------------------------------------


def _probes_and_lifecycle(c: Obj, grace: Any, path: str) -> Errs:
    errs: Errs = []
    lifecycle = c.get("lifecycle")
    if lifecycle is not None:
        for hook in ("postStart", "preStop"):
            if lifecycle.get(hook) is not None:
                errs += _handler(lifecycle[hook], grace, f"{path}.lifecycle.{hook}", lifecycle=True)
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = c.get(key)
        if probe is None:
            continue
        p = f"{path}.{key}"
        errs += _probe(probe, grace, p)
        if key != "readinessProbe" and probe.get("successThreshold") != 1:
            errs.append(errors.invalid(f"{p}.successThreshold", probe.get("successThreshold", 0), "must be 1"))
        if key == "readinessProbe" and probe.get("terminationGracePeriodSeconds") is not None:
            errs.append(errors.invalid(f"{p}.terminationGracePeriodSeconds", probe["terminationGracePeriodSeconds"],
                                       "must not be set for readinessProbes"))
    return errs


def _probe(probe: Obj, grace: Any, path: str) -> Errs:
    errs = _handler(probe, grace, path, lifecycle=False)
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs += chk.check_nonnegative(probe.get(key) or 0, f"{path}.{key}")
    tgps = probe.get("terminationGracePeriodSeconds")
    if tgps is not None and tgps <= 0:
        errs.append(errors.invalid(f"{path}.terminationGracePeriodSeconds", tgps, "must be greater than 0"))
    return errs


def _handler(h: Obj, grace: Any, path: str, *, lifecycle: bool) -> Errs:
    errs: Errs = []
    count = 0
    kinds = ("exec", "httpGet", "tcpSocket") + (("sleep",) if lifecycle else ("grpc",))
    for kind in ("exec", "httpGet", "tcpSocket", "grpc", "sleep"):
        action = h.get(kind)
        if action is None or kind not in kinds:
            continue
        if count > 0:
            errs.append(errors.forbidden(f"{path}.{kind}", "may not specify more than 1 handler type"))
            continue
        count += 1
        errs += _action(kind, action, grace, f"{path}.{kind}")
    if count == 0:
        errs.append(errors.required(path, "must specify a handler type"))
    return errs


def _action(kind: str, action: Obj, grace: Any, path: str) -> Errs:
    if kind == "exec":
        return [] if action.get("command") else [errors.required(f"{path}.command")]
    if kind == "httpGet":
        errs: Errs = [] if action.get("path") else [errors.required(f"{path}.path")]
        errs += chk.check_port_num_or_name(action.get("port", 0), f"{path}.port")
        scheme = action.get("scheme") or ""
        if scheme not in ("HTTP", "HTTPS"):
            errs.append(errors.not_supported(f"{path}.scheme", scheme, ["HTTP", "HTTPS"]))
        for header in action.get("httpHeaders") or []:
            errs += [errors.invalid(f"{path}.httpHeaders", header.get("name") or "", m)
                     for m in chk.http_header_name_problems(header.get("name") or "")]
        return errs
    if kind in ("tcpSocket", "grpc"):
        return chk.check_port_num_or_name(action.get("port", 0), f"{path}.port")
    seconds = action.get("seconds") or 0
    if grace is not None and (seconds <= 0 or seconds > grace):
        return [errors.invalid(path, seconds, f"must be greater than 0 and less than terminationGracePeriodSeconds "
                                              f"({grace}). Enable AllowPodLifecycleSleepActionZeroValue feature gate "
                                              "for zero sleep.")]
    return []
