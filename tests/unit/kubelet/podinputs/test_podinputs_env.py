"""Container environments as the kubelet builds them: envFrom, env, downward API, resources, services."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from pocketkube.kubelet.podinputs.env import resolve_env, service_env
from pocketkube.kubelet.podinputs.errors import ContainerConfigError
from pocketkube.kubelet.podinputs.fieldpath import format_map, go_quote

Obj = dict[str, Any]
ALLOCATABLE = {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"}


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


CONFIGMAPS = {("ns", "cfg"): {"data": {"a": "1", "b": "2", "1bad": "x", "app.properties": "p=1"}}}
SECRETS = {("ns", "sec"): {"data": {"password": b64("s3cr3t"), "bin": base64.b64encode(b"\xff\xfe").decode()}}}


class Store:
    def __init__(self) -> None:
        self.reads: list[tuple[str, str, str]] = []

    async def cm(self, ns: str, name: str) -> Obj | None:
        self.reads.append(("cm", ns, name))
        return CONFIGMAPS.get((ns, name))

    async def secret(self, ns: str, name: str) -> Obj | None:
        self.reads.append(("secret", ns, name))
        return SECRETS.get((ns, name))


def pod(container: Obj, **spec: Any) -> Obj:
    return {"metadata": {"name": "web-1", "namespace": "ns", "uid": "u-1", "labels": {"app": "web", "tier": "fe"},
                         "annotations": {"note": 'say "hi"\n'}},
            "spec": {"containers": [container], "nodeName": "node-a", "serviceAccountName": "robot", **spec}}


async def resolve(container: Obj, store: Store | None = None, **kw: Any) -> list[tuple[str, str]]:
    store = store or Store()
    return await resolve_env(pod({"name": "c", **container}), {"name": "c", **container},
                             node_allocatable=ALLOCATABLE, get_configmap=store.cm, get_secret=store.secret,
                             pod_ips=kw.pop("pod_ips", ("10.244.0.5",)), host_ips=("192.168.1.10",), **kw)


async def test_literal_values_expand_earlier_variables_in_order() -> None:
    env = await resolve({"env": [{"name": "A", "value": "x"}, {"name": "B", "value": "$(A)-$(C)"},
                                 {"name": "C", "value": "c"}, {"name": "D", "value": "$(C)$$(A)"},
                                 {"name": "E"}]})
    assert env == [("A", "x"), ("B", "x-$(C)"), ("C", "c"), ("D", "c$(A)"), ("E", "")]


async def test_env_from_keeps_every_key_prefixed_and_env_overrides_it() -> None:
    store = Store()
    env = dict(await resolve({"envFrom": [{"configMapRef": {"name": "cfg"}},
                                          {"prefix": "S_", "secretRef": {"name": "sec"}},
                                          {"configMapRef": {"name": "cfg"}, "prefix": "P_"}],
                              "env": [{"name": "a", "value": "override-$(b)"}]}, store))
    assert env["a"] == "override-2" and env["b"] == "2" and env["P_a"] == "1"
    assert env["1bad"] == "x" and env["app.properties"] == "p=1"  # v1.30+: no InvalidEnvironmentVariableNames skip
    assert env["S_password"] == "s3cr3t" and env["S_bin"] == "\ufffd\ufffd"
    assert store.reads.count(("cm", "ns", "cfg")) == 1  # each object read once


async def test_missing_objects_and_keys_fail_with_upstream_messages() -> None:
    cases: list[tuple[Obj, str]] = [
        ({"envFrom": [{"configMapRef": {"name": "nope"}}]}, 'configmap "nope" not found'),
        ({"envFrom": [{"secretRef": {"name": "nope"}}]}, 'secret "nope" not found'),
        ({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "zz"}}}]},
         "couldn't find key zz in ConfigMap ns/cfg"),
        ({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "zz"}}}]},
         "couldn't find key zz in Secret ns/sec"),
        ({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "a"}}}]},
         'configmap "gone" not found'),
    ]
    for container, message in cases:
        with pytest.raises(ContainerConfigError) as info:
            await resolve(container)
        assert str(info.value) == message


async def test_optional_sources_are_skipped() -> None:
    env = await resolve({"envFrom": [{"configMapRef": {"name": "nope", "optional": True}}],
                         "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "zz",
                                                                                  "optional": True}}},
                                 {"name": "Y", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k",
                                                                               "optional": True}}},
                                 {"name": "Z", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}}]})
    assert env == [("Z", "s3cr3t")]


async def test_downward_api_fields() -> None:
    refs = {"NAME": "metadata.name", "NS": "metadata.namespace", "UID": "metadata.uid",
            "APP": "metadata.labels['app']", "NONE": "metadata.labels['missing']",
            "NOTE": "metadata.annotations['note']", "NODE": "spec.nodeName", "SA": "spec.serviceAccountName",
            "IP": "status.podIP", "IPS": "status.podIPs", "HOST": "status.hostIP", "HOSTS": "status.hostIPs"}
    env = dict(await resolve({"env": [{"name": k, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": v}}}
                                      for k, v in refs.items()]}, pod_ips=("10.244.0.5", "fd00::5")))
    assert env == {"NAME": "web-1", "NS": "ns", "UID": "u-1", "APP": "web", "NONE": "", "NOTE": 'say "hi"\n',
                   "NODE": "node-a", "SA": "robot", "IP": "10.244.0.5", "IPS": "10.244.0.5,fd00::5",
                   "HOST": "192.168.1.10", "HOSTS": "192.168.1.10"}


async def test_unsupported_field_paths_are_config_errors() -> None:
    for path, message in (("metadata.generateName", "field label not supported: metadata.generateName"),
                          ("spec.nodeName['x']", "field label does not support subscript: spec.nodeName['x']"),
                          ("status.phase", "unsupported fieldPath: status.phase")):
        with pytest.raises(ContainerConfigError) as info:
            await resolve({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": path}}}]})
        assert str(info.value) == message
    with pytest.raises(ContainerConfigError, match="unsupported pod version: v2"):
        await resolve({"env": [{"name": "X", "valueFrom": {"fieldRef": {"apiVersion": "v2",
                                                                          "fieldPath": "metadata.name"}}}]})


async def test_resource_field_refs_with_divisors_and_node_allocatable() -> None:
    resources = {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"memory": "128Mi", "cpu": "0"}}
    refs = [("CPU_REQ_M", "requests.cpu", "1m"), ("CPU_REQ", "requests.cpu", None),
            ("CPU_LIM", "limits.cpu", None), ("MEM_LIM_MI", "limits.memory", "1Mi"),
            ("MEM_REQ", "requests.memory", None), ("EPH_LIM_GI", "limits.ephemeral-storage", "1Gi"),
            ("EPH_REQ", "requests.ephemeral-storage", None), ("HUGE", "limits.hugepages-2Mi", None)]
    env = dict(await resolve({"resources": resources, "env": [
        {"name": n, "valueFrom": {"resourceFieldRef": {"resource": r, **({"divisor": d} if d else {})}}}
        for n, r, d in refs]}))
    assert env == {"CPU_REQ_M": "250", "CPU_REQ": "1", "CPU_LIM": "4", "MEM_LIM_MI": "128",
                   "MEM_REQ": str(64 * 1024 * 1024), "EPH_LIM_GI": "100", "EPH_REQ": "0", "HUGE": "0"}
    with pytest.raises(ContainerConfigError, match=r"^unsupported container resource : limits.gpu$"):
        await resolve({"env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}]})
    with pytest.raises(ContainerConfigError, match=r"^container other not found$"):
        await resolve({"env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu",
                                                                                 "containerName": "other"}}}]})


def svc(name: str, ns: str, ip: str, ports: list[Obj]) -> Obj:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"clusterIP": ip, "ports": ports}}


SERVICES = [svc("kubernetes", "default", "10.96.0.1", [{"name": "https", "port": 443, "protocol": "TCP"}]),
            svc("redis-main", "ns", "10.96.0.20", [{"port": 6379}, {"name": "metrics", "port": 9121}]),
            svc("headless", "ns", "None", [{"port": 80}]), svc("other", "elsewhere", "10.96.0.30", [{"port": 1}])]


def test_service_variables() -> None:
    env = service_env(pod({"name": "c"}), SERVICES)
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1" and env["KUBERNETES_SERVICE_PORT"] == "443"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443" and env["KUBERNETES_PORT"] == "tcp://10.96.0.1:443"
    assert env["KUBERNETES_PORT_443_TCP_ADDR"] == "10.96.0.1" and env["KUBERNETES_PORT_443_TCP_PROTO"] == "tcp"
    assert env["REDIS_MAIN_SERVICE_PORT"] == "6379" and env["REDIS_MAIN_SERVICE_PORT_METRICS"] == "9121"
    assert env["REDIS_MAIN_PORT_9121_TCP"] == "tcp://10.96.0.20:9121"
    assert not any(k.startswith(("HEADLESS", "OTHER")) for k in env)
    quiet = service_env(pod({"name": "c"}, enableServiceLinks=False), SERVICES)
    assert {k.split("_")[0] for k in quiet} == {"KUBERNETES"}


async def test_service_variables_are_expandable_and_come_last_unless_defined() -> None:
    env = await resolve({"env": [{"name": "URL", "value": "https://$(KUBERNETES_SERVICE_HOST)"},
                                 {"name": "KUBERNETES_SERVICE_PORT", "value": "1"}]}, services=SERVICES)
    names = [k for k, _ in env]
    assert env[0] == ("URL", "https://10.96.0.1") and dict(env)["KUBERNETES_SERVICE_PORT"] == "1"
    assert names.count("KUBERNETES_SERVICE_PORT") == 1 and names.index("KUBERNETES_SERVICE_HOST") > 1


def test_format_map_and_go_quote() -> None:
    assert format_map({"b": "2", "a": 'x"y', "c": "tab\tnew\nline\x01é"}) == \
        'a="x\\"y"\nb="2"\nc="tab\\tnew\\nline\\x01é"'
    assert format_map({}) == ""
    assert go_quote("\u200b\U0001f600\x7f\\") == '"\\u200b\U0001f600\\x7f\\\\"'
