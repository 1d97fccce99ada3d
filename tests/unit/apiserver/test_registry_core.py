"""core/v1 strategies: status on create/update, validation wording and paths, immutability, field selectors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import pocketkube.api.defaults.core_v1  # noqa: F401  (registers the defaulters)
from pocketkube.api import structural
from pocketkube.apiserver.registry import core_pods
from pocketkube.apiserver.registry.core import STRATEGIES
from pocketkube.machinery import errors

V1 = "io.k8s.api.core.v1."


def new(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Decode-time defaults plus the strategy's create preparation, as the store runs them."""
    obj = copy.deepcopy(obj)
    obj.setdefault("metadata", {}).setdefault("name", kind.lower())
    structural.apply_defaults(obj, V1 + kind)
    STRATEGIES[kind].prepare_for_create(obj)
    return obj


def msgs(kind: str, obj: dict[str, Any]) -> list[str]:
    return [str(e) for e in STRATEGIES[kind].validate(obj)]


def update_msgs(kind: str, new_obj: dict[str, Any], old: dict[str, Any]) -> list[str]:
    structural.apply_defaults(new_obj, V1 + kind)
    STRATEGIES[kind].prepare_for_update(new_obj, old)
    return [str(e) for e in STRATEGIES[kind].validate_update(new_obj, old)]


def pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"containers": [{"name": "web", "image": "nginx:1.27"}]}
    base.update(spec)
    return new("Pod", {"metadata": {"name": "web", "namespace": "default"}, "spec": base})


def test_every_core_kind_has_a_strategy() -> None:
    assert set(STRATEGIES) == {
        "Pod", "Service", "Namespace", "Node", "ConfigMap", "Secret", "ServiceAccount", "Endpoints", "Event",
        "LimitRange", "ResourceQuota", "PersistentVolume", "PersistentVolumeClaim", "ReplicationController",
        "PodTemplate", "Binding"}
    assert not STRATEGIES["Pod"].tracks_generation and STRATEGIES["ReplicationController"].tracks_generation
    assert STRATEGIES["Event"].allow_create_on_update and STRATEGIES["Endpoints"].allow_create_on_update
    assert STRATEGIES["Service"].allow_create_on_update and not STRATEGIES["Pod"].allow_create_on_update
    assert STRATEGIES["Pod"].return_deleted_object and not STRATEGIES["ConfigMap"].return_deleted_object
    assert STRATEGIES["Namespace"].name_rule == "label" and STRATEGIES["Service"].name_rule == "dns1035"


# --- pods -------------------------------------------------------------------------


def test_pod_create_status_and_qos() -> None:
    p = pod(status_ignored=None)
    assert p["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert "generation" not in p["metadata"]
    burst = pod(containers=[{"name": "a", "image": "i", "resources": {"requests": {"cpu": "100m"}}}])
    assert burst["status"]["qosClass"] == "Burstable"
    guaranteed = pod(containers=[{"name": "a", "image": "i", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}])
    assert guaranteed["status"]["qosClass"] == "Guaranteed"
    gated = pod(schedulingGates=[{"name": "example.com/wait"}])
    assert gated["status"]["conditions"][0]["reason"] == "SchedulingGated"
    assert msgs("Pod", p) == []


def test_pod_validation_messages() -> None:
    p = pod(containers=[
        {"name": "web", "image": "nginx", "ports": [{"containerPort": 0}, {"containerPort": 80, "name": "Bad_Name"}]},
        {"name": "web", "image": "", "env": [{"name": "X", "valueFrom": {}}],
         "volumeMounts": [{"name": "missing", "mountPath": "/data"}],
         "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}},
    ], restartPolicy="Sometimes", dnsPolicy="Weird", activeDeadlineSeconds=0, terminationGracePeriodSeconds=-5,
        tolerations=[{"operator": "Equal", "value": "x"}], nodeSelector={"bad key!": "v"})
    assert msgs("Pod", p) == [
        "spec.containers[0].ports[0].containerPort: Required value",
        'spec.containers[0].ports[1].name: Invalid value: "Bad_Name": must contain only alpha-numeric characters '
        "(a-z, 0-9), and hyphens (-)",
        "spec.containers[1].image: Required value",
        'spec.containers[1].env[0].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, '
        "`configMapKeyRef` or `secretKeyRef`",
        'spec.containers[1].volumeMounts[0].name: Not found: "missing"',
        'spec.containers[1].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
        'spec.containers[1].name: Duplicate value: "web"',
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        'spec.dnsPolicy: Unsupported value: "Weird": supported values: "ClusterFirstWithHostNet", "ClusterFirst", '
        '"Default", "None"',
        'spec.nodeSelector: Invalid value: "bad key!": name part must consist of alphanumeric characters, \'-\', '
        "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
        "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
        'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which '
        'means "match all values and all keys"',
    ]


def test_pod_invalid_error_aggregate() -> None:
    p = pod(containers=[{"name": "web", "image": ""}])
    err = errors.invalid_error("Pod", "", "web", STRATEGIES["Pod"].validate(p))
    assert err.message == 'Pod "web" is invalid: spec.containers[0].image: Required value'


def test_pod_volume_and_probe_rules() -> None:
    p = pod(volumes=[{"name": "a", "emptyDir": {}, "configMap": {"name": "c"}}, {"name": "b", "secret": {}}],
            containers=[{"name": "web", "image": "i", "livenessProbe": {"exec": {"command": ["true"]},
                                                                        "successThreshold": 2},
                         "readinessProbe": {"httpGet": {"port": "no_good"}}}])
    assert msgs("Pod", p) == [
        "spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type",
        "spec.volumes[1].secret.secretName: Required value",
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        'spec.containers[0].readinessProbe.httpGet.port: Invalid value: "no_good": must contain only alpha-numeric '
        "characters (a-z, 0-9), and hyphens (-)",
    ]


def test_pod_update_immutability() -> None:
    old = pod(activeDeadlineSeconds=100)
    ok = copy.deepcopy(old)
    ok["spec"]["containers"][0]["image"] = "nginx:1.28"
    ok["spec"]["activeDeadlineSeconds"] = 50
    ok["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    assert update_msgs("Pod", ok, old) == []
    bad = copy.deepcopy(old)
    bad["spec"]["restartPolicy"] = "Never"
    out = update_msgs("Pod", bad, old)
    assert len(out) == 1
    assert out[0].startswith(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
        "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n")
    more = copy.deepcopy(old)
    more["spec"]["containers"].append({"name": "b", "image": "b"})
    assert update_msgs("Pod", more, old)[-1] == "spec.containers: Forbidden: pod updates may not add or remove containers"
    longer = copy.deepcopy(old)
    longer["spec"]["activeDeadlineSeconds"] = 200
    assert update_msgs("Pod", longer, old) == [
        "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"]


def test_pod_update_keeps_status_and_status_update_keeps_spec() -> None:
    old = pod()
    old["status"]["phase"] = "Running"
    upd = copy.deepcopy(old)
    upd["status"] = {"phase": "Failed"}
    STRATEGIES["Pod"].prepare_for_update(upd, old)
    assert upd["status"]["phase"] == "Running"
    st = copy.deepcopy(old)
    st["spec"]["containers"][0]["image"] = "other"
    st["status"] = {"phase": "Running", "podIPs": [{"ip": "10.244.0.5"}]}
    STRATEGIES["Pod"].prepare_for_status_update(st, old)
    assert st["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert st["status"]["qosClass"] == "BestEffort"
    assert STRATEGIES["Pod"].validate_status_update(st, old) == []
    st["status"]["qosClass"] = "Guaranteed"
    assert [str(e) for e in STRATEGIES["Pod"].validate_status_update(st, old)] == [
        'status.qosClass: Invalid value: "Guaranteed": field is immutable']


def test_pod_grace_period_and_field_values() -> None:
    strat = STRATEGIES["Pod"]
    p = pod()
    assert strat.default_grace_period(p) is None  # unscheduled: immediate
    p["spec"]["nodeName"] = "node-1"
    assert strat.default_grace_period(p) == 30
    assert core_pods.pod_grace_period(p, 5) == 5
    p["status"]["phase"] = "Succeeded"
    assert strat.default_grace_period(p) is None
    p["status"]["podIPs"] = [{"ip": "10.244.0.9"}]
    assert strat.field_value(p, "spec.nodeName") == "node-1"
    assert strat.field_value(p, "spec.hostNetwork") == "false"
    assert strat.field_value(p, "status.podIP") == "10.244.0.9"
    assert strat.field_value(p, "status.phase") == "Succeeded"
    assert strat.field_value(p, "spec.restartPolicy") == "Always"
    assert strat.field_value(p, "spec.dnsPolicy") is None


def test_pod_template_spec_for_other_groups() -> None:
    template = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    structural.apply_defaults(template, V1 + "PodTemplateSpec")
    assert core_pods.validate_pod_template_spec(template, "spec.template") == []
    job = [str(e) for e in core_pods.validate_pod_template_spec(template, "spec.template",
                                                                restart_policies=("OnFailure", "Never"))]
    assert job == ['spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", '
                   '"Never"']
    assert [str(e) for e in core_pods.validate_pod_spec({"containers": []}, "spec.template.spec")] == [
        "spec.template.spec.terminationGracePeriodSeconds: Required value",
        "spec.template.spec.containers: Required value",
        "spec.template.spec.restartPolicy: Required value",
        "spec.template.spec.dnsPolicy: Required value",
    ]


def test_binding() -> None:
    assert [str(e) for e in STRATEGIES["Binding"].validate({"target": {"kind": "Pod"}})] == [
        'target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"', "target.name: Required value"]
    p = pod()
    core_pods.apply_binding(p, {"target": {"kind": "Node", "name": "n1"}}, "2024-01-01T00:00:00Z")
    assert p["spec"]["nodeName"] == "n1"
    assert p["status"]["conditions"][-1]["type"] == "PodScheduled"
    with pytest.raises(errors.StatusError) as exc:
        core_pods.apply_binding(p, {"target": {"name": "n2"}}, "t")
    assert exc.value.code == 409
    assert exc.value.message == 'Operation cannot be fulfilled on pods/binding "web": pod web is already assigned ' \
                                'to node "n1"'


# --- services and endpoints -------------------------------------------------------


def svc(**spec: Any) -> dict[str, Any]:
    return new("Service", {"metadata": {"name": "web", "namespace": "default"}, "spec": spec})


def test_service_create_and_validation() -> None:
    s = svc(selector={"app": "web"}, ports=[{"port": 80}], clusterIP="10.96.0.20")
    assert s["status"] == {"loadBalancer": {}}
    assert s["spec"]["clusterIPs"] == ["10.96.0.20"]
    assert msgs("Service", s) == []
    assert msgs("Service", svc()) == ["spec.ports: Required value"]
    assert msgs("Service", svc(clusterIP="None")) == []
    two = svc(ports=[{"port": 80}, {"port": 80, "name": "x"}])
    assert msgs("Service", two) == [
        "spec.ports[0].name: Required value",
        'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
        'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}']
    assert msgs("Service", svc(ports=[{"port": 80, "nodePort": 30080}])) == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
    assert msgs("Service", svc(type="NodePort", ports=[{"port": 80, "nodePort": 80}])) == [
        "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports "
        "is 30000-32767"]
    assert msgs("Service", svc(type="ExternalName", externalName="Bad_Name")) == [
        'spec.externalName: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
        "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
    assert msgs("Service", svc(type="Bogus", ports=[{"port": 70000, "protocol": "ICMP"}])) == [
        "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        'spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        'spec.type: Unsupported value: "Bogus": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
        '"NodePort"']


def test_service_update_rules() -> None:
    old = svc(ports=[{"port": 80}], clusterIP="10.96.0.20")
    moved = copy.deepcopy(old)
    moved["spec"]["clusterIP"] = "10.96.0.21"
    assert update_msgs("Service", moved, old) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.21"}: may not change once set']
    np_old = svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}], clusterIP="10.96.0.20")
    back = copy.deepcopy(np_old)
    back["spec"]["type"] = "ClusterIP"
    assert update_msgs("Service", back, np_old) == []
    assert "nodePort" not in back["spec"]["ports"][0] and "externalTrafficPolicy" not in back["spec"]
    assert STRATEGIES["Service"].field_value(old, "spec.clusterIP") == "10.96.0.20"
    assert STRATEGIES["Service"].field_value(old, "spec.type") == "ClusterIP"


def test_endpoints_validation_and_repack() -> None:
    ep = new("Endpoints", {"metadata": {"namespace": "default"}, "subsets": [
        {"addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]})
    assert msgs("Endpoints", ep) == []
    assert [a["ip"] for a in ep["subsets"][0]["addresses"]] == ["10.0.0.1", "10.0.0.2"]
    bad = new("Endpoints", {"subsets": [{"addresses": [{"ip": "127.0.0.1"}, {"ip": "nope"}], "ports": []}, {}]})
    assert msgs("Endpoints", bad) == [
        'subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, '
        "::1/128)",
        'subsets[0].addresses[1].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)",
        'subsets[0].addresses[1].ip: Invalid value: "nope": must be a valid IP address',
        "subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`"]


# --- namespaces, nodes, events ----------------------------------------------------


def test_namespace_lifecycle() -> None:
    ns = new("Namespace", {"metadata": {"name": "dev"}})
    assert ns["status"] == {"phase": "Active"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "dev"}
    assert msgs("Namespace", ns) == []
    changed = copy.deepcopy(ns)
    changed["spec"]["finalizers"] = []
    STRATEGIES["Namespace"].prepare_for_update(changed, ns)
    assert changed["spec"]["finalizers"] == ["kubernetes"]
    bad = new("Namespace", {"metadata": {"name": "x"}, "spec": {"finalizers": ["custom"]}})
    assert msgs("Namespace", bad) == ['spec.finalizers: Invalid value: "custom": name is neither a standard finalizer '
                                      "name nor is it fully qualified"]
    st = copy.deepcopy(ns)
    st["status"]["phase"] = "Terminating"
    assert [str(e) for e in STRATEGIES["Namespace"].validate_status_update(st, ns)] == [
        "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"]
    assert STRATEGIES["Namespace"].field_value(ns, "status.phase") == "Active"


def test_node_rules() -> None:
    node = new("Node", {"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.244.0.0/24",
                                                             "taints": [{"key": "k", "effect": "Sometimes"}]},
                        "status": {"capacity": {"cpu": "-1"}}})
    assert node["status"]["capacity"] == {"cpu": "-1"}  # nodes keep their status on create
    assert msgs("Node", node) == [
        'metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", '
        '"PreferNoSchedule", "NoExecute"',
        'status.capacity.cpu: Invalid value: "-1": must be greater than or equal to 0',
        'status.allocatable.cpu: Invalid value: "-1": must be greater than or equal to 0']  # defaulted from capacity
    good = new("Node", {"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.244.0.0/24"}})
    moved = copy.deepcopy(good)
    moved["spec"]["podCIDR"] = "10.244.1.0/24"
    assert update_msgs("Node", moved, good) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid']
    assert STRATEGIES["Node"].field_value(good, "spec.unschedulable") == "false"


def test_event_rules_and_fields() -> None:
    ev = new("Event", {"metadata": {"name": "e", "namespace": "default"},
                       "involvedObject": {"kind": "Pod", "namespace": "other", "name": "p"},
                       "source": {"component": "kubelet"}, "type": "Normal", "reason": "Pulled"})
    assert msgs("Event", ev) == ['involvedObject.namespace: Invalid value: "other": does not match event.namespace']
    strat = STRATEGIES["Event"]
    assert strat.field_value(ev, "source") == "kubelet"
    assert strat.field_value(ev, "involvedObject.kind") == "Pod"
    assert strat.field_value(ev, "reason") == "Pulled"


# --- config -----------------------------------------------------------------------


def test_configmap_rules() -> None:
    cm = new("ConfigMap", {"metadata": {"namespace": "d"}, "data": {"bad key": "v", "ok": "v"}, "immutable": True})
    assert msgs("ConfigMap", cm) == [
        "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', "
        "'_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')"]
    big = new("ConfigMap", {"data": {"a": "x" * (1024 * 1024 + 1)}})
    assert msgs("ConfigMap", big) == ["Too long: may not be more than 1048576 bytes"]
    old = new("ConfigMap", {"data": {"a": "1"}, "immutable": True})
    changed = copy.deepcopy(old)
    changed["data"]["a"] = "2"
    changed["immutable"] = False
    assert update_msgs("ConfigMap", changed, old) == [
        "immutable: Forbidden: field is immutable when `immutable` is set",
        "data: Forbidden: field is immutable when `immutable` is set"]


def test_secret_rules() -> None:
    tls = new("Secret", {"type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}})
    assert msgs("Secret", tls) == ["data[tls.key]: Required value"]
    docker = new("Secret", {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "e30="}})
    assert msgs("Secret", docker) == []
    broken = new("Secret", {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "eA=="}})
    assert msgs("Secret", broken) == [
        'data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid character \'x\' looking for '
        "beginning of value"]
    sa_token = new("Secret", {"type": "kubernetes.io/service-account-token"})
    assert msgs("Secret", sa_token) == ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
    old = new("Secret", {"data": {"a": "eA=="}})
    retyped = copy.deepcopy(old)
    retyped["type"] = "kubernetes.io/basic-auth"
    assert update_msgs("Secret", retyped, old) == [
        'type: Invalid value: "kubernetes.io/basic-auth": field is immutable',
        "data[username]: Required value", "data[password]: Required value"]
    assert STRATEGIES["Secret"].field_value(old, "type") == "Opaque"


# --- storage, policy, controllers -------------------------------------------------


def test_pv_and_pvc() -> None:
    pv = new("PersistentVolume", {"spec": {}})
    assert pv["status"]["phase"] == "Pending" and "lastPhaseTransitionTime" in pv["status"]
    assert msgs("PersistentVolume", pv) == [
        "spec.accessModes: Required value", "spec.capacity: Required value",
        'spec.capacity: Unsupported value: core.ResourceList{}: supported values: "storage"',
        "spec: Required value: must specify a volume type"]
    pvc = new("PersistentVolumeClaim", {"spec": {"accessModes": ["ReadWriteOnce", "Sometimes"]}})
    assert pvc["status"] == {"phase": "Pending"}
    assert msgs("PersistentVolumeClaim", pvc) == [
        'spec.accessModes: Unsupported value: "Sometimes": supported values: "ReadOnlyMany", "ReadWriteMany", '
        '"ReadWriteOnce", "ReadWriteOncePod"',
        "spec.resources[storage]: Required value"]
    good = new("PersistentVolumeClaim", {"spec": {"accessModes": ["ReadWriteOnce"],
                                                  "resources": {"requests": {"storage": "1Gi"}}}})
    assert msgs("PersistentVolumeClaim", good) == []
    changed = copy.deepcopy(good)
    changed["spec"]["accessModes"] = ["ReadWriteMany"]
    out = update_msgs("PersistentVolumeClaim", changed, good)
    assert len(out) == 1 and out[0].startswith(
        "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName "
        "for bound claims\n")
    bound = copy.deepcopy(good)
    bound["volumeName"] = "pv-1"
    bound["spec"]["volumeName"] = "pv-1"
    assert update_msgs("PersistentVolumeClaim", bound, good) == []


def test_replication_controller() -> None:
    rc = new("ReplicationController", {"metadata": {"namespace": "d"}, "spec": {
        "selector": {"app": "other"}, "replicas": -1,
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "containers": [{"name": "c", "image": "i"}], "restartPolicy": "Never"}}}})
    assert rc["status"] == {"replicas": 0} and rc["metadata"]["generation"] == 1
    assert msgs("ReplicationController", rc) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match '
        "template `labels`",
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']
    scaled = copy.deepcopy(rc)
    scaled["spec"]["replicas"] = 3
    STRATEGIES["ReplicationController"].prepare_for_update(scaled, rc)
    assert scaled["metadata"]["generation"] == 2
    assert STRATEGIES["ReplicationController"].field_value(rc, "status.replicas") == "0"


def test_limit_range_and_quota() -> None:
    lr = new("LimitRange", {"metadata": {"namespace": "d"}, "spec": {"limits": [
        {"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}, {"type": "Bogus"}]}})
    out = msgs("LimitRange", lr)
    assert out[0].startswith('spec.limits[0].min[cpu]: Invalid value: resource.Quantity{')
    assert out[0].endswith("min value 2 is greater than max value 1")
    assert 'spec.limits[1].type: Invalid value: "Bogus": must be a standard limit type or fully qualified' in out
    unnamed = new("LimitRange", {"metadata": {"name": ""}, "spec": {"limits": []}})
    assert unnamed["metadata"]["name"]
    quota = new("ResourceQuota", {"spec": {"hard": {"pods": "1.5", "cpu": "-1", "bogus": "1"}}})
    assert quota["status"] == {}
    assert msgs("ResourceQuota", quota) == [
        'spec.hard[pods]: Invalid value: "1500m": must be an integer',
        'spec.hard[cpu]: Invalid value: "-1": must be greater than or equal to 0',
        'spec.hard[bogus]: Invalid value: "bogus": must be a standard resource type or fully qualified',
        'spec.hard[bogus]: Invalid value: "bogus": must be a standard resource for quota']
    old = new("ResourceQuota", {"spec": {"hard": {"pods": "10"}, "scopes": ["BestEffort"]}})
    rescoped = copy.deepcopy(old)
    rescoped["spec"]["scopes"] = ["NotBestEffort"]
    assert update_msgs("ResourceQuota", rescoped, old) == [
        'spec.scopes: Invalid value: []core.ResourceQuotaScope{"NotBestEffort"}: field is immutable']


def test_service_account_and_pod_template() -> None:
    sa = new("ServiceAccount", {"secrets": [{"name": "tok", "namespace": "x", "uid": "u"}]})
    assert sa["secrets"] == [{"name": "tok"}]
    pt = new("PodTemplate", {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}})
    assert pt["metadata"]["generation"] == 1 and "status" not in pt
    assert msgs("PodTemplate", pt) == []
    assert msgs("PodTemplate", new("PodTemplate", {"template": {"spec": {"containers": []}}})) == [
        "template.spec.containers: Required value"]
