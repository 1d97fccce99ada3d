"""Conversions between cri_types dataclasses and the runtime.v1 protobuf messages (pure).

Theory of operation: requests are built from the frozen specs field by field (unset optional
values stay unset on the wire, so containerd applies its own defaults exactly as for the Go
kubelet); replies become frozen dataclasses with times in epoch seconds (CRI sends nanoseconds;
0 means "not yet" and becomes None) and wrapper values (Int64Value/UInt64Value) become
`int | None`. The one deliberate default: the container's pid namespace is CONTAINER unless the
spec says otherwise, because CRI's zero value (POD) would make pause PID 1 in every container.
"""

from __future__ import annotations

from collections.abc import Mapping

from pocketkube.kubelet.runtime.cri_pb import cri_pb2 as pb
from pocketkube.kubelet.runtime.cri_types import (
    ContainerSecurity,
    ContainerSpec,
    ContainerStats,
    CRIContainer,
    CRIContainerState,
    CRIContainerStatus,
    CRIImage,
    CRIPodSandbox,
    FilesystemUsage,
    LinuxResources,
    Mount,
    MountPropagation,
    NamespaceOptions,
    PodSandboxSpec,
    SecurityProfile,
)

_PROTOCOLS = {"TCP": pb.TCP, "UDP": pb.UDP, "SCTP": pb.SCTP}
_PROFILE_TYPES = {"RuntimeDefault": pb.SecurityProfile.RuntimeDefault,
                  "Unconfined": pb.SecurityProfile.Unconfined, "Localhost": pb.SecurityProfile.Localhost}


def seconds(ns: int) -> float | None:
    return ns / 1e9 if ns else None


def namespace_option(opts: NamespaceOptions) -> pb.NamespaceOption:
    return pb.NamespaceOption(network=opts.network.name, pid=opts.pid.name, ipc=opts.ipc.name,
                              target_id=opts.target_id)


def security_profile(profile: SecurityProfile | None) -> pb.SecurityProfile | None:
    if profile is None:
        return None
    return pb.SecurityProfile(profile_type=_PROFILE_TYPES[profile.type], localhost_ref=profile.localhost_ref)


def linux_resources(r: LinuxResources) -> pb.LinuxContainerResources:
    return pb.LinuxContainerResources(
        cpu_period=r.cpu_period, cpu_quota=r.cpu_quota, cpu_shares=r.cpu_shares,
        memory_limit_in_bytes=r.memory_limit_in_bytes, oom_score_adj=r.oom_score_adj,
        cpuset_cpus=r.cpuset_cpus, cpuset_mems=r.cpuset_mems, unified=dict(r.unified),
        memory_swap_limit_in_bytes=r.memory_swap_limit_in_bytes)


def resources_from_pb(r: pb.LinuxContainerResources) -> LinuxResources:
    return LinuxResources(cpu_period=r.cpu_period, cpu_quota=r.cpu_quota, cpu_shares=r.cpu_shares,
                          memory_limit_in_bytes=r.memory_limit_in_bytes, oom_score_adj=r.oom_score_adj,
                          cpuset_cpus=r.cpuset_cpus, cpuset_mems=r.cpuset_mems, unified=dict(r.unified),
                          memory_swap_limit_in_bytes=r.memory_swap_limit_in_bytes)


def _sandbox_security(spec: PodSandboxSpec) -> pb.LinuxSandboxSecurityContext:
    ctx = pb.LinuxSandboxSecurityContext(
        namespace_options=namespace_option(spec.namespace_options), privileged=spec.privileged,
        readonly_rootfs=spec.readonly_rootfs, supplemental_groups=list(spec.supplemental_groups))
    if spec.run_as_user is not None:
        ctx.run_as_user.value = spec.run_as_user
    if spec.run_as_group is not None:
        ctx.run_as_group.value = spec.run_as_group
    seccomp = security_profile(spec.seccomp)
    if seccomp is not None:
        ctx.seccomp.CopyFrom(seccomp)
    return ctx


def sandbox_config(spec: PodSandboxSpec) -> pb.PodSandboxConfig:
    cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=spec.name, uid=spec.uid, namespace=spec.namespace,
                                       attempt=spec.attempt),
        hostname=spec.hostname, log_directory=spec.log_directory,
        port_mappings=[pb.PortMapping(protocol=_PROTOCOLS[p.protocol.upper()], container_port=p.container_port,
                                      host_port=p.host_port, host_ip=p.host_ip) for p in spec.port_mappings],
        labels=dict(spec.labels), annotations=dict(spec.annotations),
        linux=pb.LinuxPodSandboxConfig(cgroup_parent=spec.cgroup_parent, security_context=_sandbox_security(spec),
                                       sysctls=dict(spec.sysctls)))
    if spec.dns is not None:
        cfg.dns_config.CopyFrom(pb.DNSConfig(servers=list(spec.dns.servers), searches=list(spec.dns.searches),
                                             options=list(spec.dns.options)))
    if spec.overhead is not None:
        cfg.linux.overhead.CopyFrom(linux_resources(spec.overhead))
    if spec.resources is not None:
        cfg.linux.resources.CopyFrom(linux_resources(spec.resources))
    return cfg


def _container_security(sec: ContainerSecurity) -> pb.LinuxContainerSecurityContext:
    ctx = pb.LinuxContainerSecurityContext(
        capabilities=pb.Capability(add_capabilities=list(sec.add_capabilities),
                                   drop_capabilities=list(sec.drop_capabilities)),
        privileged=sec.privileged, namespace_options=namespace_option(sec.namespace_options),
        run_as_username=sec.run_as_username, readonly_rootfs=sec.readonly_rootfs,
        supplemental_groups=list(sec.supplemental_groups), no_new_privs=sec.no_new_privs,
        masked_paths=list(sec.masked_paths), readonly_paths=list(sec.readonly_paths))
    if sec.run_as_user is not None:
        ctx.run_as_user.value = sec.run_as_user
    if sec.run_as_group is not None:
        ctx.run_as_group.value = sec.run_as_group
    for name in ("seccomp", "apparmor"):
        profile = security_profile(getattr(sec, name))
        if profile is not None:
            getattr(ctx, name).CopyFrom(profile)
    return ctx


def image_spec(image: str, user_specified: str = "") -> pb.ImageSpec:
    return pb.ImageSpec(image=image, user_specified_image=user_specified or image)


def container_config(spec: ContainerSpec) -> pb.ContainerConfig:
    linux = pb.LinuxContainerConfig(security_context=_container_security(spec.security))
    if spec.resources is not None:
        linux.resources.CopyFrom(linux_resources(spec.resources))
    return pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=spec.name, attempt=spec.attempt),
        image=image_spec(spec.image, spec.user_specified_image),
        command=list(spec.command), args=list(spec.args), working_dir=spec.working_dir,
        envs=[pb.KeyValue(key=k, value=v.encode()) for k, v in spec.envs],
        mounts=[pb.Mount(container_path=m.container_path, host_path=m.host_path, readonly=m.readonly,
                         selinux_relabel=m.selinux_relabel, propagation="PROPAGATION_" + m.propagation.name)
                for m in spec.mounts],
        devices=[pb.Device(container_path=d.container_path, host_path=d.host_path, permissions=d.permissions)
                 for d in spec.devices],
        labels=dict(spec.labels), annotations=dict(spec.annotations), log_path=spec.log_path,
        stdin=spec.stdin, stdin_once=spec.stdin_once, tty=spec.tty, linux=linux)


def sandbox_from_pb(s: pb.PodSandbox | pb.PodSandboxStatus, info: Mapping[str, str] | None = None) -> CRIPodSandbox:
    ip, extra = "", ()
    if isinstance(s, pb.PodSandboxStatus):
        ip, extra = s.network.ip, tuple(a.ip for a in s.network.additional_ips)
    return CRIPodSandbox(
        id=s.id, name=s.metadata.name, namespace=s.metadata.namespace, uid=s.metadata.uid,
        attempt=s.metadata.attempt, ready=s.state == pb.SANDBOX_READY, created_at=s.created_at / 1e9,
        labels=dict(s.labels), annotations=dict(s.annotations), runtime_handler=s.runtime_handler,
        ip=ip, additional_ips=extra, info=dict(info or {}))


def container_from_pb(c: pb.Container) -> CRIContainer:
    return CRIContainer(id=c.id, sandbox_id=c.pod_sandbox_id, name=c.metadata.name, attempt=c.metadata.attempt,
                        image=c.image.image, image_ref=c.image_ref, state=CRIContainerState(c.state),
                        created_at=c.created_at / 1e9, labels=dict(c.labels), annotations=dict(c.annotations))


def container_status_from_pb(s: pb.ContainerStatus, info: Mapping[str, str] | None = None) -> CRIContainerStatus:
    resources = resources_from_pb(s.resources.linux) if s.HasField("resources") else None
    return CRIContainerStatus(
        id=s.id, name=s.metadata.name, attempt=s.metadata.attempt, state=CRIContainerState(s.state),
        created_at=s.created_at / 1e9, started_at=seconds(s.started_at), finished_at=seconds(s.finished_at),
        exit_code=s.exit_code, image=s.image.image, image_ref=s.image_ref, reason=s.reason, message=s.message,
        labels=dict(s.labels), annotations=dict(s.annotations),
        mounts=tuple(Mount(m.container_path, m.host_path, m.readonly, MountPropagation(m.propagation),
                           m.selinux_relabel) for m in s.mounts),
        log_path=s.log_path, resources=resources, info=dict(info or {}))


def image_from_pb(i: pb.Image) -> CRIImage:
    return CRIImage(id=i.id, repo_tags=tuple(i.repo_tags), repo_digests=tuple(i.repo_digests), size=i.size,
                    uid=i.uid.value if i.HasField("uid") else None, username=i.username, pinned=i.pinned)


def _u64(msg: pb.CpuUsage | pb.MemoryUsage | pb.FilesystemUsage, name: str) -> int | None:
    return int(getattr(msg, name).value) if msg.HasField(name) else None


def fs_usage_from_pb(f: pb.FilesystemUsage) -> FilesystemUsage:
    return FilesystemUsage(timestamp=f.timestamp / 1e9, mountpoint=f.fs_id.mountpoint,
                           used_bytes=_u64(f, "used_bytes"), inodes_used=_u64(f, "inodes_used"))


def stats_from_pb(s: pb.ContainerStats) -> ContainerStats:
    cpu, mem = s.cpu, s.memory
    has_cpu, has_mem = s.HasField("cpu"), s.HasField("memory")
    return ContainerStats(
        id=s.attributes.id, name=s.attributes.metadata.name, attempt=s.attributes.metadata.attempt,
        labels=dict(s.attributes.labels),
        cpu_timestamp=seconds(cpu.timestamp) if has_cpu else None,
        usage_core_nano_seconds=_u64(cpu, "usage_core_nano_seconds") if has_cpu else None,
        usage_nano_cores=_u64(cpu, "usage_nano_cores") if has_cpu else None,
        memory_timestamp=seconds(mem.timestamp) if has_mem else None,
        working_set_bytes=_u64(mem, "working_set_bytes") if has_mem else None,
        available_bytes=_u64(mem, "available_bytes") if has_mem else None,
        usage_bytes=_u64(mem, "usage_bytes") if has_mem else None,
        rss_bytes=_u64(mem, "rss_bytes") if has_mem else None,
        page_faults=_u64(mem, "page_faults") if has_mem else None,
        major_page_faults=_u64(mem, "major_page_faults") if has_mem else None,
        writable_layer=fs_usage_from_pb(s.writable_layer) if s.HasField("writable_layer") else None)
