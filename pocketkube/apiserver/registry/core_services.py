"""Services and Endpoints (core/v1): validation and strategies (upstream v1.32).

Theory of operation: `validate_service` is upstream's ValidateService over JSON
(ports, type-dependent fields, session affinity, clusterIP(s)/ipFamilies
consistency, traffic policies, load-balancer fields). Allocation of clusterIPs,
nodePorts and ipFamilies happens elsewhere (the services REST layer), after this
validation, as upstream's BeginCreate does; pocketkube's NodePort range check
(upstream's allocator error) is exported as `node_port_range_errors` and run by
`validate`. The strategy keeps upstream's create/update preparation: status
becomes {loadBalancer: {}}, clusterIP is mirrored into clusterIPs, and on update
fields that no longer apply to the new type are cleared when the user left them
unchanged. Endpoints are validated and repacked into canonical subsets.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.defaults.core_v1 import externally_accessible
from pocketkube.apiserver.registry import core_checks as chk
from pocketkube.apiserver.registry import core_containers as ctr
from pocketkube.apiserver.registry.core_checks import Errs
from pocketkube.apiserver.strategy import Obj, Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import meta

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
NODE_PORT_RANGE = (30000, 32767)


def _headless(spec: Obj) -> bool:
    return (spec.get("clusterIPs") or []) == ["None"]


def validate_service(svc: Obj) -> Errs:
    spec = svc.get("spec") or {}
    stype = spec.get("type") or ""
    errs: Errs = []
    if not spec.get("ports") and not _headless(spec) and stype != "ExternalName":
        errs.append(errors.required("spec.ports"))
    errs += _type_fields(spec, stype)
    seen: set[str] = set()
    ports = spec.get("ports") or []
    for i, port in enumerate(ports):
        errs += _service_port(port, len(ports) > 1, seen, f"spec.ports[{i}]")
    if spec.get("selector") is not None:
        errs += meta.validate_labels(spec["selector"], "spec.selector")
    errs += _session_affinity(spec)
    errs += cluster_ips_errors(spec)
    for i, ip in enumerate(spec.get("externalIPs") or []):
        ip_errs = chk.check_ip(ip, f"spec.externalIPs[{i}]")
        errs += ip_errs or chk.check_non_special_ip(ip, f"spec.externalIPs[{i}]")
    if not stype:
        errs.append(errors.required("spec.type"))
    elif stype not in SERVICE_TYPES:
        errs.append(errors.not_supported("spec.type", stype, SERVICE_TYPES))
    errs += _port_uniqueness(ports, stype)
    errs += _load_balancer_fields(svc, spec, stype)
    return errs + _traffic_policies(spec, stype)


def _type_fields(spec: Obj, stype: str) -> Errs:
    if stype in ("LoadBalancer", "NodePort") and _headless(spec):
        return [errors.invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {stype} services")]
    if stype != "ExternalName":
        return []
    errs: Errs = []
    for key in ("clusterIPs", "ipFamilies"):
        if spec.get(key):
            errs.append(errors.forbidden(f"spec.{key}", "may not be set for ExternalName services"))
    if spec.get("ipFamilyPolicy") is not None:
        errs.append(errors.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
    cname = spec.get("externalName") or ""
    cname = cname[:-1] if cname.endswith(".") else cname
    return errs + (chk.check_dns_subdomain(cname, "spec.externalName") if cname
                   else [errors.required("spec.externalName")])


def _service_port(port: Obj, require_name: bool, seen: set[str], path: str) -> Errs:
    errs: Errs = []
    name = port.get("name") or ""
    if require_name and not name:
        errs.append(errors.required(f"{path}.name"))
    elif name:
        errs += chk.check_dns_label(name, f"{path}.name")
        if name in seen:
            errs.append(errors.duplicate(f"{path}.name", name))
        seen.add(name)
    errs += [errors.invalid(f"{path}.port", port.get("port", 0), m) for m in chk.port_num_problems(port.get("port", 0))]
    errs += ctr.check_protocol(port.get("protocol") or "", f"{path}.protocol")
    errs += chk.check_port_num_or_name(port.get("targetPort", 0), f"{path}.targetPort")
    if port.get("appProtocol") is not None:
        errs += chk.check_qualified_name(port["appProtocol"], f"{path}.appProtocol")
    return errs


def _session_affinity(spec: Obj) -> Errs:
    affinity = spec.get("sessionAffinity") or ""
    if not affinity:
        return [errors.required("spec.sessionAffinity")]
    if affinity not in ("ClientIP", "None"):
        return [errors.not_supported("spec.sessionAffinity", affinity, ["ClientIP", "None"])]
    path, cfg = "spec.sessionAffinityConfig", spec.get("sessionAffinityConfig")
    if affinity == "None":
        return [errors.forbidden(path, "must not be set when session affinity is None")] if cfg is not None else []
    why = "when session affinity type is ClientIP"
    if cfg is None:
        return [errors.required(path, why)]
    if cfg.get("clientIP") is None:
        return [errors.required(f"{path}.clientIP", why)]
    timeout = cfg["clientIP"].get("timeoutSeconds")
    if timeout is None:
        return [errors.required(f"{path}.clientIP.timeoutSeconds", why)]
    if not 0 < timeout <= 86400:
        return [errors.invalid(f"{path}.clientIP.timeoutSeconds", timeout, "must be greater than 0 and less than 86400")]
    return []


def cluster_ips_errors(spec: Obj) -> Errs:
    """ValidateServiceClusterIPsRelatedFields."""
    if spec.get("type") == "ExternalName":
        return []
    errs: Errs = []
    ip, ips, families = spec.get("clusterIP") or "", spec.get("clusterIPs") or [], spec.get("ipFamilies") or []
    shown = chk.go_strings(ips)
    if ip:
        if not ips:
            errs.append(errors.required("spec.clusterIPs"))
        elif ips[0] != ip:
            errs.append(errors.invalid("spec.clusterIPs", shown, "first value must match `clusterIP`"))
    elif ips:
        errs.append(errors.invalid("spec.clusterIPs", shown, "must be empty when `clusterIP` is not specified"))
    seen: set[str] = set()
    for i, fam in enumerate(families):
        if fam not in ("IPv4", "IPv6"):
            errs.append(errors.not_supported(f"spec.ipFamilies[{i}]", fam, ["IPv4", "IPv6"]))
        if fam in seen:
            errs.append(errors.duplicate(f"spec.ipFamilies[{i}]", fam))
        seen.add(fam)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in ("PreferDualStack", "RequireDualStack", "SingleStack"):
        errs.append(errors.not_supported("spec.ipFamilyPolicy", policy,
                                         ["PreferDualStack", "RequireDualStack", "SingleStack"]))
    return errs + _cluster_ip_values(ips, families, shown)


def _cluster_ip_values(ips: list[str], families: list[str], shown: Any) -> Errs:
    errs: Errs = []
    bad = False
    for i, value in enumerate(ips):
        if i == 0 and value == "None":
            if len(ips) > 1:
                bad = True
                errs.append(errors.invalid("spec.clusterIPs", shown, "'None' must be the first and only value"))
            continue
        ip_errs = chk.check_ip(value, f"spec.clusterIPs[{i}]")
        bad = bad or bool(ip_errs)
        errs += ip_errs
    if len(ips) > 2:
        errs.append(errors.invalid("spec.clusterIPs", shown, "may only hold up to 2 values"))
    if bad:
        return errs
    if len(ips) > 1 and not chk.is_dual_stack([chk.parse_ip_sloppy(v) for v in ips]):
        errs.append(errors.invalid("spec.clusterIPs", shown, "may specify no more than one IP for each IP family"))
    if ips != ["None"]:
        for i, (value, fam) in enumerate(zip(ips, families, strict=False)):
            v6 = ":" in value
            if fam == "IPv4" and v6:
                errs.append(errors.invalid(f"spec.clusterIPs[{i}]", value,
                                           f"expected an IPv4 value as indicated by `ipFamilies[{i}]`"))
            if fam == "IPv6" and not v6:
                errs.append(errors.invalid(f"spec.clusterIPs[{i}]", value,
                                           f"expected an IPv6 value as indicated by `ipFamilies[{i}]`"))
    return errs


def _go_service_port(port: Obj) -> chk.GoRepr:
    return chk.GoRepr(f'core.ServicePort{{Name:"", Protocol:"{port.get("protocol") or ""}", '
                      f'AppProtocol:(*string)(nil), Port:{port.get("port", 0)}, TargetPort:intstr.IntOrString'
                      '{Type:0, IntVal:0, StrVal:""}, NodePort:0}')


def _port_uniqueness(ports: list[Obj], stype: str) -> Errs:
    errs: Errs = []
    if stype == "ClusterIP":
        errs += [errors.forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'")
                 for i, p in enumerate(ports) if p.get("nodePort")]
    node_ports: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        if p.get("nodePort"):
            key = (p.get("protocol") or "", p["nodePort"])
            if key in node_ports:
                errs.append(errors.duplicate(f"spec.ports[{i}].nodePort", p["nodePort"]))
            node_ports.add(key)
    seen: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        key = (p.get("protocol") or "", p.get("port", 0))
        if key in seen:
            errs.append(errors.duplicate(f"spec.ports[{i}]", _go_service_port(p)))
        seen.add(key)
    return errs


def _load_balancer_fields(svc: Obj, spec: Obj, stype: str) -> Errs:
    errs: Errs = []
    ranges = spec.get("loadBalancerSourceRanges") or []
    annotation = ((svc.get("metadata") or {}).get("annotations") or {}).get(
        "service.beta.kubernetes.io/load-balancer-source-ranges")
    if ranges:
        if stype != "LoadBalancer":
            errs.append(errors.forbidden("spec.LoadBalancerSourceRanges", "may only be used when `type` is "
                                                                          "'LoadBalancer'"))
        for i, cidr in enumerate(ranges):
            errs += chk.check_cidr(cidr.strip(), f"spec.LoadBalancerSourceRanges[{i}]")
    elif annotation is not None:
        apath = "metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]"
        if stype != "LoadBalancer":
            errs.append(errors.forbidden(apath, "may only be used when `type` is 'LoadBalancer'"))
        for cidr in [c.strip() for c in annotation.strip().split(",")] if annotation.strip() else []:
            errs += chk.check_cidr(cidr, apath)
    alloc = spec.get("allocateLoadBalancerNodePorts")
    if alloc is not None and stype != "LoadBalancer":
        errs.append(errors.forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is "
                                                                           "'LoadBalancer'"))
    if stype == "LoadBalancer" and alloc is None:
        errs.append(errors.required("allocateLoadBalancerNodePorts"))
    lb_class = spec.get("loadBalancerClass")
    if lb_class is not None:
        errs += chk.check_qualified_name(lb_class, "spec.loadBalancerClass") if stype == "LoadBalancer" else \
            [errors.forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'")]
    return errs


def _traffic_policies(spec: Obj, stype: str) -> Errs:
    errs: Errs = []
    etp = spec.get("externalTrafficPolicy") or ""
    if not externally_accessible(spec):
        if etp:
            errs.append(errors.invalid("spec.externalTrafficPolicy", etp,
                                       "may only be set for externally-accessible services"))
    elif not etp:
        errs.append(errors.required("spec.externalTrafficPolicy"))
    elif etp not in ("Cluster", "Local"):
        errs.append(errors.not_supported("spec.externalTrafficPolicy", etp, ["Cluster", "Local"]))
    hc = spec.get("healthCheckNodePort") or 0
    if hc and not (stype == "LoadBalancer" and etp == "Local"):
        errs.append(errors.invalid("spec.healthCheckNodePort", hc, "may only be set when `type` is 'LoadBalancer' "
                                                                   "and `externalTrafficPolicy` is 'Local'"))
    elif hc:
        errs += [errors.invalid("spec.healthCheckNodePort", hc, m) for m in chk.port_num_problems(hc)]
    itp = spec.get("internalTrafficPolicy")
    if itp is None and stype in ("NodePort", "LoadBalancer", "ClusterIP"):
        errs.append(errors.required("spec.internalTrafficPolicy"))
    if itp is not None and itp not in ("Cluster", "Local"):
        errs.append(errors.not_supported("spec.internalTrafficPolicy", itp, ["Cluster", "Local"]))
    td = spec.get("trafficDistribution")
    if td is not None and td != "PreferClose":
        errs.append(errors.not_supported("spec.trafficDistribution", td, ["PreferClose"]))
    return errs


def node_port_range_errors(svc: Obj, port_range: tuple[int, int] = NODE_PORT_RANGE) -> Errs:
    """The allocator's check of user-chosen nodePorts (NodePort and LoadBalancer services)."""
    spec = svc.get("spec") or {}
    if spec.get("type") not in ("NodePort", "LoadBalancer"):
        return []
    lo, hi = port_range
    return [errors.invalid(f"spec.ports[{i}].nodePort", p["nodePort"],
                           f"provided port is not in the valid range. The range of valid ports is {lo}-{hi}")
            for i, p in enumerate(spec.get("ports") or []) if p.get("nodePort") and not lo <= p["nodePort"] <= hi]


def validate_service_update(new: Obj, old: Obj) -> Errs:
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    errs: Errs = []
    if "ExternalName" not in (ns.get("type"), os_.get("type")) and not (_headless(ns) and _headless(os_)):
        new_ips, old_ips = ns.get("clusterIPs") or [], os_.get("clusterIPs") or []
        shown = chk.go_strings(new_ips)
        if len(new_ips) == len(old_ips):
            errs += [errors.invalid(f"spec.clusterIPs[{i}]", shown, "may not change once set")
                     for i, ip in enumerate(old_ips) if ip != new_ips[i]]
        elif len(old_ips) > len(new_ips):
            if not new_ips:
                errs.append(errors.invalid("spec.clusterIPs[0]", shown, "primary clusterIP can not be unset"))
            elif new_ips[0] != old_ips[0]:
                errs.append(errors.invalid("spec.clusterIPs[0]", shown, "may not change once set"))
            if len(new_ips) == 1 and ns.get("ipFamilyPolicy") != "SingleStack":
                errs.append(errors.invalid("spec.ipFamilyPolicy", ns.get("ipFamilyPolicy"),
                                           "must be set to 'SingleStack' when releasing the secondary clusterIP"))
        elif old_ips and new_ips[0] != old_ips[0]:
            errs.append(errors.invalid("spec.clusterIPs[0]", shown, "may not change once set"))
    if ns.get("type") == os_.get("type") == "LoadBalancer" and ns.get("loadBalancerClass") != os_.get(
            "loadBalancerClass"):
        errs.append(errors.invalid("spec.loadBalancerClass", ns.get("loadBalancerClass"), "may not change once set"))
    return errs + validate_service(new)


def normalize_cluster_ips(new: Obj, old: Obj | None) -> None:
    """Mirror clusterIP into clusterIPs the way upstream's NormalizeClusterIPs infers user intent."""
    spec = new.get("spec")
    if not isinstance(spec, dict):
        return
    ip, ips = spec.get("clusterIP") or "", spec.get("clusterIPs") or []
    if old is None:
        if ip and not ips:
            spec["clusterIPs"] = [ip]
        return
    ospec = old.get("spec") or {}
    if ip != (ospec.get("clusterIP") or "") and ips == (ospec.get("clusterIPs") or []):
        if not ip:
            spec.pop("clusterIPs", None)
        elif len(ips) <= 1:
            spec["clusterIPs"] = [ip]


def drop_type_dependent_fields(new: Obj, old: Obj) -> None:
    """Clear fields the new type does not use, when the user did not change them (dropTypeDependentFields)."""
    ns, os_ = new.setdefault("spec", {}), old.get("spec") or {}
    was, now = os_.get("type"), ns.get("type")
    if was != "ExternalName" and now == "ExternalName":
        if ns.get("clusterIP") == os_.get("clusterIP") and ns.get("clusterIPs") == os_.get("clusterIPs"):
            ns.pop("clusterIP", None)
            ns.pop("clusterIPs", None)
        for key in ("ipFamilies", "ipFamilyPolicy"):
            if ns.get(key) == os_.get(key):
                ns.pop(key, None)
    node_ports = {p.get("nodePort") for p in ns.get("ports") or [] if p.get("nodePort")}
    old_node_ports = {p.get("nodePort") for p in os_.get("ports") or [] if p.get("nodePort")}
    if was in ("NodePort", "LoadBalancer") and now not in ("NodePort", "LoadBalancer") and node_ports <= old_node_ports:
        for p in ns.get("ports") or []:
            p.pop("nodePort", None)
    old_hc = was == "LoadBalancer" and os_.get("externalTrafficPolicy") == "Local"
    new_hc = now == "LoadBalancer" and ns.get("externalTrafficPolicy") == "Local"
    if old_hc and not new_hc and ns.get("healthCheckNodePort") == os_.get("healthCheckNodePort"):
        ns.pop("healthCheckNodePort", None)
    if was == "LoadBalancer" and now != "LoadBalancer":
        for key in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if ns.get(key) is not None and ns.get(key) == os_.get(key):
                ns.pop(key, None)
    if externally_accessible(os_) and not externally_accessible(ns) and \
            ns.get("externalTrafficPolicy") == os_.get("externalTrafficPolicy"):
        ns.pop("externalTrafficPolicy", None)
    if now != "LoadBalancer":
        new.setdefault("status", {})["loadBalancer"] = {}


def _ip_warnings(value: str, path: str) -> list[str]:
    ip = chk.parse_ip_sloppy(value)
    if ip is not None and ":" not in value and str(ip) != value:
        return [f'{path}: non-standard IP address "{value}" will be considered invalid in a future Kubernetes '
                f'release: use "{ip}"']
    return []


class ServiceStrategy(Strategy):
    tracks_generation = False
    allow_create_on_update = True
    return_deleted_object = True
    name_rule = "dns1035"
    selectable_fields = ("spec.clusterIP", "spec.type")

    def initial_status(self, obj: Obj) -> Any:
        return {"loadBalancer": {}}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        normalize_cluster_ips(obj, None)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        normalize_cluster_ips(new, old)
        drop_type_dependent_fields(new, old)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_service(obj) + node_port_range_errors(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_service_update(new, old) + node_port_range_errors(new)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        spec, errs = new.get("spec") or {}, []
        ingress = ((new.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if ingress and spec.get("type") != "LoadBalancer":
            return [errors.forbidden("status.loadBalancer.ingress", "may only be used when `spec.type` is "
                                                                    "'LoadBalancer'")]
        for i, ing in enumerate(ingress):
            p = f"status.loadBalancer.ingress[{i}]"
            if ing.get("ip"):
                errs += chk.check_ip(ing["ip"], f"{p}.ip")
            if ing.get("ipMode") is None and ing.get("ip"):
                errs.append(errors.required(f"{p}.ipMode", "must be specified when `ip` is set"))
            elif ing.get("ipMode") is not None and not ing.get("ip"):
                errs.append(errors.forbidden(f"{p}.ipMode", "may not be specified when `ip` is not set"))
            elif ing.get("ipMode") not in (None, "Proxy", "VIP"):
                errs.append(errors.not_supported(f"{p}.ipMode", ing["ipMode"], ["Proxy", "VIP"]))
            if ing.get("hostname"):
                errs += chk.check_dns_subdomain(ing["hostname"], f"{p}.hostname")
        return errs

    def warnings(self, obj: Obj, old: Obj | None = None) -> list[str]:
        spec, out = obj.get("spec") or {}, []
        for i, ip in enumerate(spec.get("clusterIPs") or []):
            out += _ip_warnings(ip, f"spec.clusterIPs[{i}]") if ip != "None" else []
        for i, ip in enumerate(spec.get("externalIPs") or []):
            out += _ip_warnings(ip, f"spec.externalIPs[{i}]")
        if spec.get("type") == "ExternalName" and spec.get("externalIPs"):
            out.append('spec.externalIPs is ignored when spec.type is "ExternalName"')
        if spec.get("type") != "ExternalName" and spec.get("externalName"):
            out.append('spec.externalName is ignored when spec.type is not "ExternalName"')
        return out
