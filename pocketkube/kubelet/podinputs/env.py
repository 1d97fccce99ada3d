"""A container's environment, as the kubelet's makeEnvironmentVariables builds it (v1.32).

Theory of operation:
1. envFrom first, in order: every key of the referenced ConfigMap (data) or Secret (data,
   base64-decoded), with the prefix prepended. Since v1.30 the kubelet no longer skips keys that
   are not C identifiers (KEP-4369 moved the check to API validation; the InvalidEnvironmentVariable-
   Names event is gone): every key is passed through. A missing object is an error unless the
   source is optional.
2. env entries, in order, override what came before: a non-empty `value` is $(VAR)-expanded
   against the variables so far (envFrom keys and earlier env entries) and then the service
   variables; `valueFrom` is resolved: fieldRef (fieldpath.env_field_value), resourceFieldRef
   (resources.resource_value, unset limits = node allocatable), configMapKeyRef / secretKeyRef
   (a missing object or key is an error unless optional, then the entry is skipped).
3. Service variables (`service_env`) that the container did not define come last: the
   `kubernetes` service of namespace default always, the pod's namespace's services when
   spec.enableServiceLinks is not false (FOO_SERVICE_HOST, FOO_SERVICE_PORT, FOO_PORT_53_UDP...).
Objects are read through the caller's getters (`Getter`: (namespace, name) -> object, or None when
it does not exist); each object is read once per call. Errors are `ContainerConfigError` with
upstream's text: `configmap "x" not found`, `secret "s" not found`, `couldn't find key y in
ConfigMap ns/x`, `couldn't find key y in Secret ns/s`, and fieldpath/resource errors.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from pocketkube.kubelet.podinputs.errors import ContainerConfigError
from pocketkube.kubelet.podinputs.expansion import expand, mapping_for
from pocketkube.kubelet.podinputs.fieldpath import FieldPathError, env_field_value
from pocketkube.kubelet.podinputs.resources import ResourceFieldError, resource_value

Obj = dict[str, Any]
Getter = Callable[[str, str], Awaitable[Obj | None]]


def decode_secret_value(value: Any) -> str:
    """A Secret data value (base64) as the env string (invalid UTF-8 replaced)."""
    try:
        raw = base64.b64decode(str(value or ""), validate=True)
    except (binascii.Error, ValueError):
        raw = str(value or "").encode()
    return raw.decode("utf-8", errors="replace")


class _Sources:
    """ConfigMaps and Secrets read once per resolution."""

    def __init__(self, namespace: str, get_configmap: Getter, get_secret: Getter) -> None:
        self.namespace = namespace
        self.getters = {"configmap": get_configmap, "secret": get_secret}
        self.cache: dict[tuple[str, str], Obj | None] = {}

    async def get(self, kind: str, name: str, optional: bool) -> Obj | None:
        key = (kind, name)
        if key not in self.cache:
            try:
                self.cache[key] = await self.getters[kind](self.namespace, name)
            except ContainerConfigError:
                raise
            except Exception as e:  # the API's error text, as the kubelet's manager returns it
                raise ContainerConfigError(str(e)) from e
        found = self.cache[key]
        if found is None and not optional:
            raise ContainerConfigError(f'{kind} "{name}" not found')
        return found

    def values(self, kind: str, obj: Obj) -> dict[str, str]:
        if kind == "configmap":
            return {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
        return {str(k): decode_secret_value(v) for k, v in (obj.get("data") or {}).items()}


async def _env_from(container: Obj, sources: _Sources) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        for kind, field in (("configmap", "configMapRef"), ("secret", "secretRef")):
            ref = source.get(field)
            if ref is None:
                continue
            obj = await sources.get(kind, str(ref.get("name") or ""), bool(ref.get("optional")))
            if obj is not None:
                env.update({prefix + k: v for k, v in sources.values(kind, obj).items()})
    return env


async def _key_ref(kind: str, ref: Mapping[str, Any], sources: _Sources) -> str | None:
    """A configMapKeyRef / secretKeyRef value; None when optional and absent."""
    name, key, optional = str(ref.get("name") or ""), str(ref.get("key") or ""), bool(ref.get("optional"))
    obj = await sources.get(kind, name, optional)
    if obj is None:
        return None
    values = sources.values(kind, obj)
    if key not in values:
        if optional:
            return None
        what = "ConfigMap" if kind == "configmap" else "Secret"
        raise ContainerConfigError(f"couldn't find key {key} in {what} {sources.namespace}/{name}")
    return values[key]


async def _value_from(pod: Obj, container: Obj, value_from: Mapping[str, Any], sources: _Sources,
                      ctx: _NodeContext) -> str | None:
    try:
        if value_from.get("fieldRef") is not None:
            return env_field_value(pod, value_from["fieldRef"], ctx.pod_ips, ctx.host_ips)
        if value_from.get("resourceFieldRef") is not None:
            return resource_value(value_from["resourceFieldRef"], pod, container, ctx.allocatable)
    except (FieldPathError, ResourceFieldError) as e:
        raise ContainerConfigError(str(e)) from e
    if value_from.get("configMapKeyRef") is not None:
        return await _key_ref("configmap", value_from["configMapKeyRef"], sources)
    if value_from.get("secretKeyRef") is not None:
        return await _key_ref("secret", value_from["secretKeyRef"], sources)
    return ""


class _NodeContext:
    def __init__(self, pod_ips: Sequence[str], host_ips: Sequence[str], allocatable: Mapping[str, Any]) -> None:
        self.pod_ips, self.host_ips, self.allocatable = pod_ips, host_ips, allocatable


async def resolve_env(pod: Obj, container: Obj, *, node_allocatable: Mapping[str, Any],
                      get_configmap: Getter, get_secret: Getter, pod_ips: Sequence[str] = (),
                      host_ips: Sequence[str] = (),
                      services: Iterable[Obj] | None = None) -> list[tuple[str, str]]:
    """The container's environment as (name, value) pairs; raises ContainerConfigError.

    `pod_ips`: the sandbox's IPs (status.podIP/podIPs); `host_ips`: the node's (status.hostIP);
    `services`: every Service the agent knows (None: no service variables)."""
    ns = str((pod.get("metadata") or {}).get("namespace") or "")
    sources = _Sources(ns, get_configmap, get_secret)
    ctx = _NodeContext(pod_ips, host_ips, node_allocatable)
    service_vars = service_env(pod, services) if services is not None else {}
    env = await _env_from(container, sources)
    mapping = mapping_for(env, service_vars)
    for entry in container.get("env") or []:
        name, value = str(entry.get("name") or ""), str(entry.get("value") or "")
        if value:
            env[name] = expand(value, mapping)
        elif entry.get("valueFrom") is not None:
            resolved = await _value_from(pod, container, entry["valueFrom"], sources, ctx)
            if resolved is None:
                continue
            env[name] = resolved
        else:
            env[name] = ""
    out = list(env.items())
    out += [(k, v) for k, v in service_vars.items() if k not in env]
    return out


# ---------------------------------------------------------------------- service variables
def _env_name(name: str) -> str:
    out = name.replace("-", "_").upper()
    return "_" + out if out[:1].isdigit() else out


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _service_vars(svc: Obj) -> dict[str, str]:
    spec = svc.get("spec") or {}
    ip, ports = str(spec.get("clusterIP") or ""), spec.get("ports") or []
    prefix = _env_name(str((svc.get("metadata") or {}).get("name") or ""))
    out = {f"{prefix}_SERVICE_HOST": ip, f"{prefix}_SERVICE_PORT": str(ports[0].get("port"))}
    for p in ports:
        if p.get("name"):
            out[f"{prefix}_SERVICE_PORT_{_env_name(str(p['name']))}"] = str(p.get("port"))
    for i, p in enumerate(ports):
        proto, port = str(p.get("protocol") or "TCP"), int(p.get("port") or 0)
        url = f"{proto.lower()}://{_host_port(ip, port)}"
        if i == 0:
            out[f"{prefix}_PORT"] = url
        base = f"{prefix}_PORT_{port}_{proto.upper()}"
        out.update({base: url, f"{base}_PROTO": proto.lower(), f"{base}_PORT": str(port), f"{base}_ADDR": ip})
    return out


def service_env(pod: Obj, services: Iterable[Obj]) -> dict[str, str]:
    """getServiceEnvVarMap + envvars.FromServices: variables of the services a pod sees."""
    ns = str((pod.get("metadata") or {}).get("namespace") or "")
    links = (pod.get("spec") or {}).get("enableServiceLinks") is not False
    chosen: dict[str, Obj] = {}
    for svc in services:
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        if spec.get("clusterIP") in (None, "", "None") or not spec.get("ports"):
            continue
        name, svc_ns = str(meta.get("name") or ""), str(meta.get("namespace") or "")
        if svc_ns == "default" and name == "kubernetes":
            chosen.setdefault(name, svc)
        elif svc_ns == ns and links:
            chosen[name] = svc
    out: dict[str, str] = {}
    for name in sorted(chosen):
        out.update(_service_vars(chosen[name]))
    return out
