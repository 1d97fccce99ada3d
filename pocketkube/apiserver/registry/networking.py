"""networking.k8s.io/v1 strategies: Ingress, IngressClass, NetworkPolicy.

Theory of operation: upstream pkg/apis/networking/validation over JSON trees.
Ingresses need rules or a default backend; every HTTP path needs a pathType
(Exact and Prefix paths must be clean absolute paths) and exactly one backend
(a service with a port name or number, or a resource). IngressClass controllers
are domain-prefixed paths and immutable. NetworkPolicy ports and peers are
checked (an ipBlock stands alone, its exceptions strictly inside its CIDR).
All three track generation; only Ingress has a status.
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.registry import govalue, netchecks
from pocketkube.apiserver.strategy import Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import meta, names

Obj = dict[str, Any]

PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]
INVALID_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INVALID_SUFFIXES = ("/..", "/.")


def _name_errs(value: str, path: str, check: Any = names.dns1123_subdomain_problems) -> list[FieldError]:
    return [errors.invalid(path, value, m) for m in check(value)]


def _backend(b: Obj, path: str) -> list[FieldError]:
    resource, service = b.get("resource"), b.get("service")
    if resource is not None and service is not None:
        return [errors.invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return typed_local_ref(resource, f"{path}.resource")
    if service is None:
        return [errors.invalid(path, "", "resource or service backend is required")]
    errs: list[FieldError] = []
    name = service.get("name", "")
    if not name:
        errs.append(errors.required(f"{path}.service.name"))
    else:
        errs += _name_errs(name, f"{path}.service.name", names.dns1035_label_problems)
    port = service.get("port") or {}
    pname, pnum = port.get("name", ""), port.get("number", 0)
    if pname and pnum:
        errs.append(errors.invalid(path, "", "cannot set both port name & port number"))
    elif pname:
        errs += [errors.invalid(f"{path}.service.port.name", pname, m) for m in netchecks.port_name_problems(pname)]
    elif pnum:
        errs += [errors.invalid(f"{path}.service.port.number", pnum, m) for m in netchecks.port_number_problems(pnum)]
    else:
        errs.append(errors.required(path, "port name or number is required"))
    return errs


def typed_local_ref(ref: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if ref.get("apiGroup") is not None:
        errs += _name_errs(ref["apiGroup"], f"{path}.apiGroup")
    for key in ("kind", "name"):
        value = ref.get(key, "")
        if not value:
            errs.append(errors.required(f"{path}.{key}", f"{key} is required"))
        else:
            errs += _name_errs(value, f"{path}.{key}", names.path_segment_problems)
    return errs


def _http_path(p: Obj, path: str) -> list[FieldError]:
    pt = p.get("pathType")
    if pt is None:
        return [errors.required(f"{path}.pathType", "pathType must be specified")]
    value = p.get("path", "")
    errs: list[FieldError] = []
    if pt in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(errors.invalid(f"{path}.path", value, "must be an absolute path"))
        errs += [errors.invalid(f"{path}.path", value, f"must not contain '{s}'") for s in INVALID_SEQUENCES if s in value]
        errs += [errors.invalid(f"{path}.path", value, f"cannot end with '{s}'") for s in INVALID_SUFFIXES
                 if value.endswith(s)]
    elif pt == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(errors.invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        errs.append(errors.not_supported(f"{path}.pathType", pt, PATH_TYPES))
    return errs + _backend(p.get("backend") or {}, f"{path}.backend")


def _host_errs(host: str, path: str) -> tuple[list[FieldError], bool]:
    errs: list[FieldError] = []
    if netchecks.parse_ip(host) is not None:
        errs.append(errors.invalid(path, host, "must be a DNS name, not an IP address"))
    if "*" in host:
        return errs + _name_errs(host, path, netchecks.wildcard_subdomain_problems), True
    return errs + _name_errs(host, path), False


def _rules(rules: list[Obj], allow_bad_wildcard: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(rules):
        rp = f"spec.rules[{i}]"
        wildcard = False
        if rule.get("host"):
            host_errs, wildcard = _host_errs(rule["host"], f"{rp}.host")
            errs += host_errs
        if (not wildcard or not allow_bad_wildcard) and rule.get("http") is not None:
            paths = rule["http"].get("paths") or []
            if not paths:
                errs.append(errors.required(f"{rp}.http.paths"))
            for j, p in enumerate(paths):
                errs += _http_path(p, f"{rp}.http.paths[{j}]")
    return errs


def _tls(spec: Obj, allow_bad_secret: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, tls in enumerate(spec.get("tls") or []):
        for j, host in enumerate(tls.get("hosts") or []):
            check = netchecks.wildcard_subdomain_problems if "*" in host else names.dns1123_subdomain_problems
            errs += _name_errs(host, f"spec.tls[{i}].hosts[{j}]", check)
        secret = tls.get("secretName", "")
        if secret and not allow_bad_secret:
            errs += _name_errs(secret, f"spec.tls[{i}].secretName")
    return errs


def validate_ingress(obj: Obj, old: Obj | None = None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    old_spec = (old or {}).get("spec") or {}
    allow_bad_secret = any(t.get("secretName") and names.dns1123_subdomain_problems(t["secretName"])
                           for t in old_spec.get("tls") or [])
    allow_bad_wildcard = any("*" in r.get("host", "") and r.get("http") is not None and _rules([r], False)
                             for r in old_spec.get("rules") or []) if old is not None else False
    errs: list[FieldError] = []
    rules = spec.get("rules") or []
    if not rules and spec.get("defaultBackend") is None:
        errs.append(errors.invalid("spec", govalue.GoValue("[]networking.IngressRule(nil)"),
                                   "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        errs += _backend(spec["defaultBackend"], "spec.defaultBackend")
    errs += _rules(rules, allow_bad_wildcard)
    errs += _tls(spec, allow_bad_secret)
    if spec.get("ingressClassName") is not None:
        errs += _name_errs(spec["ingressClassName"], "spec.ingressClassName")
    return errs


def _lb_status(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, ing in enumerate(((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []):
        p = f"status.loadBalancer.ingress[{i}]"
        if ing.get("ip") and netchecks.parse_ip(ing["ip"]) is None:
            errs.append(errors.invalid(f"{p}.ip", ing["ip"], "must be a valid IP address"))
        if ing.get("hostname"):
            errs += _name_errs(ing["hostname"], f"{p}.hostname")
            if netchecks.parse_ip(ing["hostname"]) is not None:
                errs.append(errors.invalid(f"{p}.hostname", ing["hostname"], "must be a DNS name, not an IP address"))
    return errs


class IngressStrategy(Strategy):
    def initial_status(self, obj: Obj) -> Any:
        return {"loadBalancer": {}}

    def validate(self, obj: Obj) -> list[FieldError]:
        errs = validate_ingress(obj)
        annotation = (obj["metadata"].get("annotations") or {}).get("kubernetes.io/ingress.class")
        class_name = (obj.get("spec") or {}).get("ingressClassName")
        if annotation is not None and class_name is not None and annotation != class_name:
            errs.append(errors.invalid("annotations.kubernetes.io/ingress.class", annotation,
                                       "must match `ingressClassName` when both are specified"))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_ingress(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return _lb_status(new)


# --- IngressClass -------------------------------------------------------------------


def _ingress_class_params(params: Any) -> list[FieldError]:
    if not isinstance(params, dict):
        return []
    path = "spec.parameters"
    errs = typed_local_ref(params, path)
    scope = params.get("scope")
    if scope is None:
        return errs + [errors.required(f"{path}.scope")]
    if scope not in ("Cluster", "Namespace"):
        return errs + [errors.not_supported(f"{path}.scope", scope, ["Cluster", "Namespace"])]
    ns = params.get("namespace")
    if scope == "Namespace":
        if ns is None:
            errs.append(errors.required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            errs += _name_errs(ns, f"{path}.namespace", names.dns1123_label_problems)
    elif ns is not None:
        errs.append(errors.forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errs


def validate_ingress_class(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    controller = spec.get("controller", "")
    errs: list[FieldError] = []
    if len(controller) > 250:
        errs.append(errors.too_long("spec.controller", 250))
    errs += netchecks.domain_prefixed_path(controller, "spec.controller")
    return errs + _ingress_class_params(spec.get("parameters"))


class IngressClassStrategy(Strategy):
    has_status = False

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_ingress_class(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        nc, oc = (new.get("spec") or {}).get("controller", ""), (old.get("spec") or {}).get("controller", "")
        return govalue.immutable(nc, oc, "spec.controller") + validate_ingress_class(new)


# --- NetworkPolicy ------------------------------------------------------------------


def _np_port(port: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    proto = port.get("protocol")
    if proto is not None and proto not in ("TCP", "UDP", "SCTP"):
        errs.append(errors.not_supported(f"{path}.protocol", proto, ["TCP", "UDP", "SCTP"]))
    p, end = port.get("port"), port.get("endPort")
    if p is None:
        if end is not None:
            errs.append(errors.invalid(f"{path}.endPort", end, "may not be specified when `port` is not specified"))
    elif isinstance(p, int):
        errs += [errors.invalid(f"{path}.port", p, m) for m in netchecks.port_number_problems(p)]
        if end is not None:
            if end < p:
                errs.append(errors.invalid(f"{path}.endPort", p, "must be greater than or equal to `port`"))
            errs += [errors.invalid(f"{path}.endPort", end, m) for m in netchecks.port_number_problems(end)]
    else:
        if end is not None:
            errs.append(errors.invalid(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
        errs += [errors.invalid(f"{path}.port", p, m) for m in netchecks.port_name_problems(p)]
    return errs


def _ip_block(block: Obj, path: str) -> list[FieldError]:
    cidr = block.get("cidr", "")
    if not cidr:
        return [errors.required(f"{path}.cidr")]
    net = netchecks.parse_cidr(cidr)
    if net is None:
        return [errors.invalid(f"{path}.cidr", cidr, "not a valid CIDR")]
    errs: list[FieldError] = []
    for i, ex in enumerate(block.get("except") or []):
        ex_net = netchecks.parse_cidr(ex)
        if ex_net is None:
            return errs + [errors.invalid(f"{path}.except[{i}]", ex, "not a valid CIDR")]
        inside = ex_net.version == net.version and ex_net.network_address in net
        if not inside or net.prefixlen >= ex_net.prefixlen:
            errs.append(errors.invalid(f"{path}.except[{i}]", ex, "must be a strict subset of `cidr`"))
    return errs


def _np_peer(peer: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            count += 1
            errs += meta.validate_label_selector(peer[key], f"{path}.{key}")
    if peer.get("ipBlock") is not None:
        count += 1
        errs += _ip_block(peer["ipBlock"], f"{path}.ipBlock")
    if count == 0:
        errs.append(errors.required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        errs.append(errors.forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_network_policy(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs = meta.validate_label_selector(spec.get("podSelector") or {}, "spec.podSelector")
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            rp = f"spec.{direction}[{i}]"
            for j, port in enumerate(rule.get("ports") or []):
                errs += _np_port(port, f"{rp}.ports[{j}]")
            for j, peer in enumerate(rule.get(peers) or []):
                errs += _np_peer(peer, f"{rp}.{peers}[{j}]")
    types = spec.get("policyTypes") or []
    if len(types) > 2:
        shown = govalue.GoValue("[]networking.PolicyType{" + ", ".join(govalue.quote(t) for t in types) + "}")
        return errs + [errors.invalid("spec.policyTypes", shown, "may not specify more than two policyTypes")]
    for i, t in enumerate(types):
        if t not in ("Ingress", "Egress"):
            errs.append(errors.not_supported(f"spec.policyTypes[{i}]", t, ["Ingress", "Egress"]))
    return errs


class NetworkPolicyStrategy(Strategy):
    has_status = False

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_network_policy(obj)


STRATEGIES: dict[str, Strategy] = {
    "Ingress": IngressStrategy(),
    "IngressClass": IngressClassStrategy(),
    "NetworkPolicy": NetworkPolicyStrategy(),
}
