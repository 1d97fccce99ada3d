"""Defaults of the core/v1 types (upstream pkg/apis/core/v1/defaults.go, v1.32).

Theory of operation: each function mirrors one upstream `SetDefaults_<Type>` (or
a declarative `+default=` marker) and is registered for that type's OpenAPI
definition, so the structural walker applies it wherever the type appears: a
PodSpec inside a Pod, a PodTemplate, a Deployment or a Job gets the same
defaults, parent before children (so `SetDefaults_Pod` copies container limits
into requests before each container's resource lists are rounded).

Three kinds of rules live here besides SetDefaults_*:
- ResourceList rounding (`SetDefaults_ResourceList`: every quantity rounded up to
  milli precision) is attached to the types that hold resource lists, because a
  ResourceList is an inline map in the schema, not a definition.
- Fields Go always serialises although empty (a container's `resources: {}`) are
  materialised so the JSON reads as kube-apiserver's does.
- v1<->internal conversion round trips that change what clients read back
  (`serviceAccount` mirrors `serviceAccountName`, `podIP`/`podIPs`,
  `hostIP`/`hostIPs`, `podCIDR`/`podCIDRs`, Secret `stringData` folded into
  `data`) are applied at the same point, since pocketkube stores v1 JSON.

Feature gates are those of a default v1.32 kube-apiserver (PodLevelResources and
ImageVolume off; LoadBalancerIPMode on).
"""

from __future__ import annotations

import base64
import functools
import re
from typing import Any

from pocketkube.api import quantity
from pocketkube.api.defaults import defaults_for

Obj = dict[str, Any]
_V1 = "io.k8s.api.core.v1."

# Docker reference grammar (distribution/reference), enough to find the tag.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_REFERENCE_RE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$")
_HEX64_RE = re.compile(r"^[a-f0-9]{64}$")


def image_tag(image: str) -> str:
    """The tag kubelet's parsers.ParseImageName finds: "latest" when none is given, "" if unparsable."""
    if not image or _HEX64_RE.match(image):
        return ""
    m = _REFERENCE_RE.match(image)
    if m is None or len(m.group("name")) > 255:
        return ""
    if m.group("tag"):
        return m.group("tag")
    return "" if m.group("digest") else "latest"


def round_resource_list(rl: Any) -> None:
    """SetDefaults_ResourceList: round every quantity up to milli precision (in place)."""
    if not isinstance(rl, dict):
        return
    for key, value in rl.items():
        try:
            q = quantity.parse_value(value)
        except quantity.QuantityError:
            continue  # the decoder/validation reports it
        rl[key] = str(quantity.round_up(q, -3))


def _round_keys(obj: Obj, *keys: str) -> None:
    for key in keys:
        round_resource_list(obj.get(key))


def _set(obj: Obj, key: str, value: Any) -> None:
    if obj.get(key) in (None, ""):
        obj[key] = value


# --- pods -------------------------------------------------------------------------


@defaults_for(_V1 + "Pod")
def pod(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            _requests_from_limits(c)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork"):
        for key in ("containers", "initContainers"):
            for c in spec.get(key) or []:
                for p in c.get("ports") or []:
                    if not p.get("hostPort") and "containerPort" in p:
                        p["hostPort"] = p["containerPort"]


def _requests_from_limits(container: Obj) -> None:
    res = container.get("resources")
    if not isinstance(res, dict) or not isinstance(res.get("limits"), dict):
        return
    requests = res.setdefault("requests", {})
    if isinstance(requests, dict):
        for key, value in res["limits"].items():
            requests.setdefault(key, value)


@defaults_for(_V1 + "PodSpec")
def pod_spec(obj: Obj) -> None:
    _set(obj, "dnsPolicy", "ClusterFirst")
    _set(obj, "restartPolicy", "Always")
    if obj.get("securityContext") is None:
        obj["securityContext"] = {}
    if obj.get("terminationGracePeriodSeconds") is None:
        obj["terminationGracePeriodSeconds"] = 30
    _set(obj, "schedulerName", "default-scheduler")
    round_resource_list(obj.get("overhead"))
    # conversion: serviceAccount is an alias of serviceAccountName (the new field wins).
    if not obj.get("serviceAccountName") and obj.get("serviceAccount"):
        obj["serviceAccountName"] = obj["serviceAccount"]
    if obj.get("serviceAccountName"):
        obj["serviceAccount"] = obj["serviceAccountName"]
    else:
        obj.pop("serviceAccount", None)


@defaults_for(_V1 + "Container", _V1 + "EphemeralContainer")
def container(obj: Obj) -> None:
    if not obj.get("imagePullPolicy"):
        obj["imagePullPolicy"] = "Always" if image_tag(obj.get("image") or "") == "latest" else "IfNotPresent"
    _set(obj, "terminationMessagePath", "/dev/termination-log")
    _set(obj, "terminationMessagePolicy", "File")
    if obj.get("resources") is None:
        obj["resources"] = {}  # a non-pointer struct: Go always writes it


@defaults_for(_V1 + "ContainerPort", _V1 + "ServicePort", _V1 + "EndpointPort")
def port_protocol(obj: Obj) -> None:
    _set(obj, "protocol", "TCP")


@defaults_for(_V1 + "ResourceRequirements", _V1 + "VolumeResourceRequirements")
def resource_requirements(obj: Obj) -> None:
    _round_keys(obj, "limits", "requests")


@defaults_for(_V1 + "ObjectFieldSelector")
def object_field_selector(obj: Obj) -> None:
    _set(obj, "apiVersion", "v1")


@defaults_for(_V1 + "Probe")
def probe(obj: Obj) -> None:
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        if not obj.get(key):
            obj[key] = value


@defaults_for(_V1 + "HTTPGetAction")
def http_get(obj: Obj) -> None:
    _set(obj, "path", "/")
    _set(obj, "scheme", "HTTP")


@defaults_for(_V1 + "GRPCAction")
def grpc(obj: Obj) -> None:
    if obj.get("service") is None:
        obj["service"] = ""


@defaults_for(_V1 + "PodStatus")
def pod_status(obj: Obj) -> None:
    """Conversion round trip: podIP <-> podIPs and hostIP <-> hostIPs."""
    for single, plural in (("podIP", "podIPs"), ("hostIP", "hostIPs")):
        ip, ips = obj.get(single), obj.get(plural)
        if ip and (not ips or ips[0].get("ip") != ip):
            obj[plural] = [{"ip": ip}]
        elif ips and not ip:
            obj[single] = ips[0].get("ip", "")


# --- volumes ----------------------------------------------------------------------


@functools.cache
def _volume_source_keys() -> frozenset[str]:
    from pocketkube.api import schema

    props = schema.get_schema().definition(_V1 + "Volume").properties
    return frozenset(k for k in props if k != "name")


@defaults_for(_V1 + "Volume")
def volume(obj: Obj) -> None:
    if not any(obj.get(k) is not None for k in _volume_source_keys()):
        obj["emptyDir"] = {}


@defaults_for(_V1 + "SecretVolumeSource", _V1 + "ConfigMapVolumeSource", _V1 + "DownwardAPIVolumeSource",
              _V1 + "ProjectedVolumeSource")
def default_mode(obj: Obj) -> None:
    if obj.get("defaultMode") is None:
        obj["defaultMode"] = 420  # 0644


@defaults_for(_V1 + "ServiceAccountTokenProjection")
def service_account_token(obj: Obj) -> None:
    if obj.get("expirationSeconds") is None:
        obj["expirationSeconds"] = 3600


@defaults_for(_V1 + "HostPathVolumeSource")
def host_path(obj: Obj) -> None:
    if obj.get("type") is None:
        obj["type"] = ""


@defaults_for(_V1 + "RBDVolumeSource", _V1 + "RBDPersistentVolumeSource")
def rbd(obj: Obj) -> None:
    _set(obj, "pool", "rbd")
    _set(obj, "user", "admin")
    _set(obj, "keyring", "/etc/ceph/keyring")


@defaults_for(_V1 + "ISCSIVolumeSource", _V1 + "ISCSIPersistentVolumeSource")
def iscsi(obj: Obj) -> None:
    _set(obj, "iscsiInterface", "default")


@defaults_for(_V1 + "AzureDiskVolumeSource")
def azure_disk(obj: Obj) -> None:
    for key, value in (("cachingMode", "ReadWrite"), ("fsType", "ext4"), ("readOnly", False), ("kind", "Shared")):
        if obj.get(key) is None:
            obj[key] = value


@defaults_for(_V1 + "ScaleIOVolumeSource", _V1 + "ScaleIOPersistentVolumeSource")
def scale_io(obj: Obj) -> None:
    _set(obj, "storageMode", "ThinProvisioned")
    _set(obj, "fsType", "xfs")


# --- services and endpoints -------------------------------------------------------


def externally_accessible(spec: Obj) -> bool:
    t = spec.get("type")
    return t in ("LoadBalancer", "NodePort") or (t == "ClusterIP" and bool(spec.get("externalIPs")))


@defaults_for(_V1 + "Service")
def service(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    _service_affinity(spec)
    _set(spec, "type", "ClusterIP")
    for port in spec.get("ports") or []:
        _set(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, "") and "port" in port:
            port["targetPort"] = port["port"]
    if externally_accessible(spec):
        _set(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and spec["type"] in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is None:
            spec["allocateLoadBalancerNodePorts"] = True
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        for ing in ingress:
            if ing.get("ip") and ing.get("ipMode") is None:
                ing["ipMode"] = "VIP"


def _service_affinity(spec: Obj) -> None:
    _set(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        cfg = spec.get("sessionAffinityConfig") or {}
        if (cfg.get("clientIP") or {}).get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}


# --- config, namespaces, nodes ----------------------------------------------------


@defaults_for(_V1 + "Secret")
def secret(obj: Obj) -> None:
    _set(obj, "type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data")
        if not isinstance(data, dict):
            data = obj["data"] = {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


@defaults_for(_V1 + "Namespace")
def namespace(obj: Obj) -> None:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and meta.get("name"):
        labels = meta.get("labels")
        if not isinstance(labels, dict):
            labels = meta["labels"] = {}
        labels["kubernetes.io/metadata.name"] = meta["name"]
    if obj.get("status") is None:
        obj["status"] = {}


@defaults_for(_V1 + "NamespaceStatus")
def namespace_status(obj: Obj) -> None:
    _set(obj, "phase", "Active")


@defaults_for(_V1 + "NodeStatus")
def node_status(obj: Obj) -> None:
    if obj.get("allocatable") is None and isinstance(obj.get("capacity"), dict):
        obj["allocatable"] = dict(obj["capacity"])
    _round_keys(obj, "capacity", "allocatable")


@defaults_for(_V1 + "NodeSpec")
def node_spec(obj: Obj) -> None:
    """Conversion round trip: podCIDR <-> podCIDRs (podCIDR wins when they differ)."""
    cidr, cidrs = obj.get("podCIDR"), obj.get("podCIDRs")
    if cidr and (not cidrs or cidrs[0] != cidr):
        obj["podCIDRs"] = [cidr]
    elif cidrs and not cidr:
        obj["podCIDR"] = cidrs[0]


# --- storage ----------------------------------------------------------------------


@defaults_for(_V1 + "PersistentVolume")
def persistent_volume(obj: Obj) -> None:
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        _set(status, "phase", "Pending")
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _set(spec, "persistentVolumeReclaimPolicy", "Retain")
        _set(spec, "volumeMode", "Filesystem")
        round_resource_list(spec.get("capacity"))


@defaults_for(_V1 + "PersistentVolumeClaim")
def persistent_volume_claim(obj: Obj) -> None:
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        _set(status, "phase", "Pending")


@defaults_for(_V1 + "PersistentVolumeClaimSpec")
def persistent_volume_claim_spec(obj: Obj) -> None:
    _set(obj, "volumeMode", "Filesystem")
    if obj.get("resources") is None:
        obj["resources"] = {}


@defaults_for(_V1 + "PersistentVolumeClaimStatus")
def persistent_volume_claim_status(obj: Obj) -> None:
    _round_keys(obj, "capacity", "allocatedResources")


# --- workloads and policy ---------------------------------------------------------


@defaults_for(_V1 + "ReplicationController")
def replication_controller(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if labels is not None:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = obj.setdefault("metadata", {})
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1


@defaults_for(_V1 + "LimitRangeItem")
def limit_range_item(obj: Obj) -> None:
    if obj.get("type") == "Container":
        default = dict(obj.get("default") or {})
        default_request = dict(obj.get("defaultRequest") or {})
        for key, value in (obj.get("max") or {}).items():
            default.setdefault(key, value)
        for key, value in default.items():
            default_request.setdefault(key, value)
        for key, value in (obj.get("min") or {}).items():
            default_request.setdefault(key, value)
        if default:
            obj["default"] = default
        if default_request:
            obj["defaultRequest"] = default_request
    _round_keys(obj, "max", "min", "default", "defaultRequest", "maxLimitRequestRatio")


@defaults_for(_V1 + "ResourceQuotaSpec")
def resource_quota_spec(obj: Obj) -> None:
    _round_keys(obj, "hard")


@defaults_for(_V1 + "ResourceQuotaStatus")
def resource_quota_status(obj: Obj) -> None:
    _round_keys(obj, "hard", "used")
