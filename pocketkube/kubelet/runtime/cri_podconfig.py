"""From a pod (JSON) to the CRI sandbox and container specs, as the kubelet builds them (pure).

Theory of operation: mirrors kuberuntime's generatePodSandboxConfig / generateContainerConfig:
- sandbox: metadata (name, namespace, uid, attempt), hostname (spec.hostname or the pod name, at
  most 63 chars; empty for hostNetwork pods, where runc would refuse it), log directory
  `<log root>/<namespace>_<name>_<uid>`, DNS config (given by the caller), every container port
  as a port mapping (containerd maps only those with a hostPort), labels = pod labels + the
  io.kubernetes.pod.* triple, annotations = pod annotations, cgroup parent by QoS class
  (`<root>`, `<root>/burstable`, `<root>/besteffort` + `/pod<uid>`), namespaces (host network /
  PID / IPC → NODE; pid is CONTAINER unless shareProcessNamespace), pod security context.
- container: command/args/workingDir/tty/stdin, env (resolved by the caller; literal values by
  default), mounts, log path `<container>/<restart count>.log` (relative to the sandbox's
  directory), the upstream labels and annotations (hash, restartCount, termination message,
  grace period), resources as the kubelet computes them on cgroup v1 (`linux_resources`), and
  the security context.
Resources: cpu shares = MilliCPUToShares(request, or limit when there is no request; 2 when
neither), quota = limit * period / 1000 (minimum 1000 µs) with period 100000 µs, memory limit in
bytes, oom_score_adj by QoS (Guaranteed -997, BestEffort 1000, Burstable 1000 - 1000 *
request / capacity clamped to 3..999).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pocketkube.api.quantity import QuantityError, parse_value
from pocketkube.kubelet.runtime.cri_types import (
    ANNOTATION_CONTAINER_HASH,
    ANNOTATION_GRACE_PERIOD,
    ANNOTATION_INIT,
    ANNOTATION_RESTART_COUNT,
    ANNOTATION_SIDECAR,
    ANNOTATION_TERMINATION_MESSAGE_PATH,
    ANNOTATION_TERMINATION_MESSAGE_POLICY,
    LABEL_CONTAINER_NAME,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    ContainerSecurity,
    ContainerSpec,
    DNSConfig,
    LinuxResources,
    Mount,
    NamespaceMode,
    NamespaceOptions,
    PodSandboxSpec,
    PortMapping,
    SecurityProfile,
)

Obj = dict[str, Any]
MIN_SHARES, MAX_SHARES, SHARES_PER_CPU = 2, 262144, 1024
QUOTA_PERIOD_US, MIN_QUOTA_PERIOD_US = 100_000, 1000
GUARANTEED_OOM_SCORE_ADJ, BESTEFFORT_OOM_SCORE_ADJ = -997, 1000
DEFAULT_LOG_ROOT = "/var/log/pods"


def milli_cpu_to_shares(milli: int) -> int:
    if milli == 0:
        return MIN_SHARES
    return max(MIN_SHARES, min(MAX_SHARES, milli * SHARES_PER_CPU // 1000))


def milli_cpu_to_quota(milli: int, period: int = QUOTA_PERIOD_US) -> int:
    if milli == 0:
        return 0
    return max(MIN_QUOTA_PERIOD_US, milli * period // 1000)


def _quantity(resources: Mapping[str, Any], key: str, milli: bool = False) -> int:
    value = resources.get(key)
    if value is None:
        return 0
    try:
        q = parse_value(value)
    except QuantityError:
        return 0
    return q.milli_value() if milli else q.int_value()


def oom_score_adj(qos_class: str, memory_request: int, memory_capacity: int) -> int:
    if qos_class == "Guaranteed":
        return GUARANTEED_OOM_SCORE_ADJ
    if qos_class == "BestEffort" or memory_capacity <= 0:
        return BESTEFFORT_OOM_SCORE_ADJ
    adj = 1000 - (1000 * memory_request) // memory_capacity
    if adj < 1000 + GUARANTEED_OOM_SCORE_ADJ:
        return 1000 + GUARANTEED_OOM_SCORE_ADJ
    return BESTEFFORT_OOM_SCORE_ADJ - 1 if adj == BESTEFFORT_OOM_SCORE_ADJ else adj


def linux_resources(container: Obj, qos_class: str = "", memory_capacity: int = 0) -> LinuxResources:
    res = container.get("resources") or {}
    requests, limits = res.get("requests") or {}, res.get("limits") or {}
    cpu_request, cpu_limit = _quantity(requests, "cpu", milli=True), _quantity(limits, "cpu", milli=True)
    shares = milli_cpu_to_shares(cpu_limit if cpu_request == 0 and cpu_limit else cpu_request)
    return LinuxResources(
        cpu_period=QUOTA_PERIOD_US, cpu_quota=milli_cpu_to_quota(cpu_limit), cpu_shares=shares,
        memory_limit_in_bytes=_quantity(limits, "memory"),
        oom_score_adj=oom_score_adj(qos_class, _quantity(requests, "memory"), memory_capacity))


def pod_log_directory(log_root: str | Path, namespace: str, name: str, uid: str) -> str:
    return str(Path(log_root) / f"{namespace}_{name}_{uid}")


def container_log_path(container_name: str, restart_count: int) -> str:
    return f"{container_name}/{restart_count}.log"


def pod_cgroup_parent(cgroup_root: str, qos_class: str, uid: str) -> str:
    root = "/" + cgroup_root.strip("/")
    tier = {"Burstable": "/burstable", "BestEffort": "/besteffort"}.get(qos_class, "")
    return f"{root.rstrip('/')}{tier}/pod{uid}"


def sandbox_hostname(pod: Obj) -> str:
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    if spec.get("hostNetwork"):
        return ""
    name = spec.get("hostname") or meta.get("name") or ""
    return str(name)[:63].rstrip("-.")


def _namespace_options(spec: Obj) -> NamespaceOptions:
    pid = NamespaceMode.CONTAINER
    if spec.get("hostPID"):
        pid = NamespaceMode.NODE
    elif spec.get("shareProcessNamespace"):
        pid = NamespaceMode.POD
    return NamespaceOptions(network=NamespaceMode.NODE if spec.get("hostNetwork") else NamespaceMode.POD,
                            pid=pid, ipc=NamespaceMode.NODE if spec.get("hostIPC") else NamespaceMode.POD)


def _port_mappings(spec: Obj) -> tuple[PortMapping, ...]:
    return tuple(PortMapping(container_port=int(p.get("containerPort") or 0), host_port=int(p.get("hostPort") or 0),
                             protocol=str(p.get("protocol") or "TCP"), host_ip=str(p.get("hostIP") or ""))
                 for c in spec.get("containers") or [] for p in c.get("ports") or [])


def _seccomp(ctx: Obj) -> SecurityProfile | None:
    prof = ctx.get("seccompProfile") or {}
    if not prof.get("type"):
        return None
    return SecurityProfile(type=str(prof["type"]), localhost_ref=str(prof.get("localhostProfile") or ""))


def _pod_labels(meta: Obj) -> dict[str, str]:
    return {LABEL_POD_NAME: str(meta.get("name") or ""), LABEL_POD_NAMESPACE: str(meta.get("namespace") or ""),
            LABEL_POD_UID: str(meta.get("uid") or "")}


def sandbox_spec(pod: Obj, *, log_root: str | Path = DEFAULT_LOG_ROOT, cgroup_root: str = "/kubepods",
                 dns: DNSConfig | None = None, attempt: int = 0) -> PodSandboxSpec:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    ctx = spec.get("securityContext") or {}
    qos = str((pod.get("status") or {}).get("qosClass") or "BestEffort")
    uid, name, ns = str(meta.get("uid") or ""), str(meta.get("name") or ""), str(meta.get("namespace") or "")
    return PodSandboxSpec(
        name=name, namespace=ns, uid=uid, attempt=attempt, hostname=sandbox_hostname(pod),
        log_directory=pod_log_directory(log_root, ns, name, uid), dns=dns,
        port_mappings=_port_mappings(spec),
        labels={**(meta.get("labels") or {}), **_pod_labels(meta)}, annotations=dict(meta.get("annotations") or {}),
        cgroup_parent=pod_cgroup_parent(cgroup_root, qos, uid), namespace_options=_namespace_options(spec),
        run_as_user=ctx.get("runAsUser"), run_as_group=ctx.get("runAsGroup"),
        supplemental_groups=tuple(int(g) for g in ctx.get("supplementalGroups") or []),
        sysctls={str(s.get("name")): str(s.get("value")) for s in ctx.get("sysctls") or []},
        seccomp=_seccomp(ctx))


def container_hash(container: Obj) -> str:
    """A stable hex hash of the container spec (upstream's io.kubernetes.container.hash role)."""
    return format(int(hashlib.sha256(json.dumps(container, sort_keys=True).encode()).hexdigest()[:8], 16), "x")


def _container_security(pod_spec: Obj, container: Obj) -> ContainerSecurity:
    pctx, ctx = pod_spec.get("securityContext") or {}, container.get("securityContext") or {}
    caps = ctx.get("capabilities") or {}
    ape = ctx.get("allowPrivilegeEscalation")
    return ContainerSecurity(
        namespace_options=_namespace_options(pod_spec), privileged=bool(ctx.get("privileged")),
        add_capabilities=tuple(caps.get("add") or ()), drop_capabilities=tuple(caps.get("drop") or ()),
        run_as_user=ctx.get("runAsUser", pctx.get("runAsUser")),
        run_as_group=ctx.get("runAsGroup", pctx.get("runAsGroup")),
        readonly_rootfs=bool(ctx.get("readOnlyRootFilesystem")),
        supplemental_groups=tuple(int(g) for g in pctx.get("supplementalGroups") or []),
        no_new_privs=ape is False, seccomp=_seccomp(ctx) or _seccomp(pctx))


def _literal_env(container: Obj) -> tuple[tuple[str, str], ...]:
    return tuple((str(e["name"]), str(e.get("value") or "")) for e in container.get("env") or []
                 if "valueFrom" not in e)


def _container_annotations(pod: Obj, container: Obj, restart_count: int, init: bool,
                           sidecar: bool) -> dict[str, str]:
    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    notes = {
        ANNOTATION_CONTAINER_HASH: container_hash(container), ANNOTATION_RESTART_COUNT: str(restart_count),
        ANNOTATION_TERMINATION_MESSAGE_PATH: str(container.get("terminationMessagePath") or "/dev/termination-log"),
        ANNOTATION_TERMINATION_MESSAGE_POLICY: str(container.get("terminationMessagePolicy") or "File"),
        ANNOTATION_INIT: str(init).lower(), ANNOTATION_SIDECAR: str(sidecar).lower(),
    }
    if grace is not None:
        notes[ANNOTATION_GRACE_PERIOD] = str(grace)
    return notes


def container_spec(pod: Obj, container: Obj, *, restart_count: int = 0,
                   envs: tuple[tuple[str, str], ...] | None = None, mounts: tuple[Mount, ...] = (),
                   image: str | None = None, memory_capacity: int = 0, init: bool = False,
                   sidecar: bool = False) -> ContainerSpec:
    """The CreateContainer spec for `container` of `pod` (env: resolved pairs, else literal values)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    qos = str((pod.get("status") or {}).get("qosClass") or "BestEffort")
    name = str(container.get("name") or "")
    return ContainerSpec(
        name=name, image=image or str(container.get("image") or ""), attempt=restart_count,
        command=tuple(container.get("command") or ()), args=tuple(container.get("args") or ()),
        working_dir=str(container.get("workingDir") or ""),
        envs=envs if envs is not None else _literal_env(container), mounts=mounts,
        labels={**_pod_labels(meta), LABEL_CONTAINER_NAME: name},
        annotations=_container_annotations(pod, container, restart_count, init, sidecar),
        log_path=container_log_path(name, restart_count), stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")), tty=bool(container.get("tty")),
        resources=linux_resources(container, qos, memory_capacity),
        security=_container_security(spec, container), user_specified_image=str(container.get("image") or ""))
