"""Pod-level scheduling and environment checks (upstream ValidatePodSpec helpers, v1.32).

Theory of operation: the parts of a PodSpec that are not containers or volumes:
tolerations, node/pod affinity, topology spread constraints, DNS config, the pod
security context (sysctls, ids, seccomp, AppArmor), host aliases and gates. Each
function takes the JSON subtree and its field path and returns FieldErrors with
upstream's wording and paths (quirks included, such as tolerations reporting a
bad value at `operator`, or affinity namespaces at `...namespace`).
"""

from __future__ import annotations

import re
from typing import Any

from pocketkube.apiserver.registry import core_checks as chk
from pocketkube.apiserver.registry import core_containers as ctr
from pocketkube.apiserver.registry.core_checks import Errs
from pocketkube.machinery import errors
from pocketkube.machinery.validation import meta, names

Obj = dict[str, Any]
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_SYSCTL_SEGMENT = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_SYSCTL_RE = re.compile(f"^({_SYSCTL_SEGMENT}[\\./])*{_SYSCTL_SEGMENT}$")


def check_taint_effect(effect: str, path: str, allow_empty: bool) -> Errs:
    if not effect and not allow_empty:
        return [errors.required(path)]
    if effect not in TAINT_EFFECTS:
        return [errors.not_supported(path, effect, TAINT_EFFECTS)]
    return []


def validate_tolerations(tolerations: list[Obj], path: str) -> Errs:
    errs: Errs = []
    for i, t in enumerate(tolerations):
        p = f"{path}[{i}]"
        key, op, value = t.get("key") or "", t.get("operator") or "", t.get("value") or ""
        effect = t.get("effect") or ""
        if key:
            errs += chk.check_qualified_name(key, f"{p}.key")
        if not key and op != "Exists":
            errs.append(errors.invalid(f"{p}.operator", op,
                                       'operator must be Exists when `key` is empty, which means "match all values '
                                       'and all keys"'))
        if t.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(errors.invalid(f"{p}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("Equal", ""):
            msgs = names.label_value_problems(value)
            if msgs:
                errs.append(errors.invalid(f"{p}.operator", value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                errs.append(errors.invalid(f"{p}.operator", value, "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(errors.not_supported(f"{p}.operator", op, ["Equal", "Exists"]))
        if effect:
            errs += check_taint_effect(effect, f"{p}.effect", True)
    return errs


# --- affinity ---------------------------------------------------------------------


def validate_affinity(affinity: Obj | None, path: str) -> Errs:
    if not affinity:
        return []
    errs: Errs = []
    na = affinity.get("nodeAffinity")
    if na:
        np = f"{path}.nodeAffinity"
        req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
        if req is not None:
            errs += validate_node_selector(req, f"{np}.requiredDuringSchedulingIgnoredDuringExecution", False)
        for i, term in enumerate(na.get("preferredDuringSchedulingIgnoredDuringExecution") or []):
            tp = f"{np}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            errs += _weight(term.get("weight") or 0, f"{tp}.weight")
            errs += validate_node_selector_term(term.get("preference") or {}, f"{tp}.preference", True)
    for kind in ("podAffinity", "podAntiAffinity"):
        pa = affinity.get(kind)
        if pa:
            kp = f"{path}.{kind}"
            for i, term in enumerate(pa.get("requiredDuringSchedulingIgnoredDuringExecution") or []):
                errs += _pod_affinity_term(term, f"{kp}.requiredDuringSchedulingIgnoredDuringExecution[{i}]")
            for i, wt in enumerate(pa.get("preferredDuringSchedulingIgnoredDuringExecution") or []):
                tp = f"{kp}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
                errs += _weight(wt.get("weight") or 0, f"{tp}.weight")
                errs += _pod_affinity_term(wt.get("podAffinityTerm") or {}, f"{tp}.podAffinityTerm")
    return errs


def _weight(weight: int, path: str) -> Errs:
    return [] if 0 < weight <= 100 else [errors.invalid(path, weight, "must be in the range 1-100")]


def validate_node_selector(selector: Obj, path: str, allow_invalid_values: bool) -> Errs:
    terms = selector.get("nodeSelectorTerms") or []
    if not terms:
        return [errors.required(f"{path}.nodeSelectorTerms", "must have at least one node selector term")]
    errs: Errs = []
    for i, term in enumerate(terms):
        errs += validate_node_selector_term(term, f"{path}.nodeSelectorTerms[{i}]", allow_invalid_values)
    return errs


def validate_node_selector_term(term: Obj, path: str, allow_invalid_values: bool) -> Errs:
    errs: Errs = []
    for j, req in enumerate(term.get("matchExpressions") or []):
        errs += _node_selector_requirement(req, f"{path}.matchExpressions[{j}]", allow_invalid_values)
    for j, req in enumerate(term.get("matchFields") or []):
        rp = f"{path}.matchFields[{j}]"
        values = req.get("values") or []
        if req.get("operator") in ("In", "NotIn"):
            if len(values) != 1:
                errs.append(errors.required(f"{rp}.values", "must be only one value when `operator` is 'In' or "
                                                            "'NotIn' for node field selector"))
        else:
            errs.append(errors.invalid(f"{rp}.operator", req.get("operator") or "", "not a valid selector operator"))
        if req.get("key") != "metadata.name":
            errs.append(errors.invalid(f"{rp}.key", req.get("key") or "", "not a valid field selector key"))
        else:
            for k, v in enumerate(values):
                errs += chk.check_dns_subdomain(v, f"{rp}.values[{k}]")
    return errs


def _node_operator_values(op: str, values: list[Any], path: str) -> Errs:
    """The label selector's set-operator rules, plus Gt/Lt with exactly one value."""
    errs = meta.set_operator_values(op, values, f"{path}.values")
    if errs is not None:
        return errs
    if op not in ("Gt", "Lt"):
        return [errors.invalid(f"{path}.operator", op, "not a valid selector operator")]
    if len(values) != 1:
        return [errors.required(f"{path}.values", "must be specified single value when `operator` is 'Lt' or 'Gt'")]
    return []


def _node_selector_requirement(req: Obj, path: str, allow_invalid_values: bool) -> Errs:
    op, values = req.get("operator") or "", req.get("values") or []
    errs = _node_operator_values(op, values, path)
    errs += chk.check_qualified_name(req.get("key") or "", f"{path}.key")
    if not allow_invalid_values:
        for k, v in enumerate(values):
            errs += chk.check_label_value(v, f"{path}.values[{k}]")
    return errs


def _pod_affinity_term(term: Obj, path: str) -> Errs:
    errs = meta.validate_label_selector(term.get("labelSelector"), f"{path}.labelSelector")
    errs += meta.validate_label_selector(term.get("namespaceSelector"), f"{path}.namespaceSelector")
    for ns in term.get("namespaces") or []:
        errs += chk.check_dns_label(ns, f"{path}.namespace")
    errs += _label_keys(term, path)
    topology_key = term.get("topologyKey") or ""
    if not topology_key:
        errs.append(errors.required(f"{path}.topologyKey", "can not be empty"))
    return errs + chk.check_qualified_name(topology_key, f"{path}.topologyKey")


def _label_keys(term: Obj, path: str) -> Errs:
    errs: Errs = []
    selector = term.get("labelSelector")
    match, mismatch = term.get("matchLabelKeys") or [], term.get("mismatchLabelKeys") or []
    for key, keys in (("matchLabelKeys", match), ("mismatchLabelKeys", mismatch)):
        if keys and selector is None:
            errs.append(errors.forbidden(f"{path}.{key}", "must not be specified when labelSelector is not set"))
        elif keys:
            for i, k in enumerate(keys):
                errs += chk.check_qualified_name(k, f"{path}.{key}[{i}]")
    for i, k in enumerate(match):
        if k in mismatch:
            errs.append(errors.invalid(f"{path}.matchLabelKeys[{i}]", k,
                                       "exists in both matchLabelKeys and mismatchLabelKeys"))
    return errs


# --- topology spread --------------------------------------------------------------


def validate_topology_spread(constraints: list[Obj], path: str) -> Errs:
    errs: Errs = []
    for i, c in enumerate(constraints):
        p = f"{path}[{i}]"
        skew, key, when = c.get("maxSkew") or 0, c.get("topologyKey") or "", c.get("whenUnsatisfiable") or ""
        if skew <= 0:
            errs.append(errors.invalid(f"{p}.maxSkew", skew, chk.NOT_POSITIVE))
        if not key:
            errs.append(errors.required(f"{p}.topologyKey", "can not be empty"))
        if when not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(errors.not_supported(f"{p}.whenUnsatisfiable", when, ["DoNotSchedule", "ScheduleAnyway"]))
        if any(o.get("topologyKey") == c.get("topologyKey") and o.get("whenUnsatisfiable") == when
               for o in constraints[i + 1:]):
            errs.append(errors.duplicate(f"{p}.{{topologyKey, whenUnsatisfiable}}", f"{{{key}, {when}}}"))
        errs += _min_domains(c.get("minDomains"), when, f"{p}.minDomains")
        for policy in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            v = c.get(policy)
            if v is not None and v not in ("Honor", "Ignore"):
                errs.append(errors.not_supported(f"{p}.{policy}", v, ["Honor", "Ignore"]))
        errs += _spread_label_keys(c, f"{p}.matchLabelKeys")
        errs += meta.validate_label_selector(c.get("labelSelector"), f"{p}.labelSelector")
    return errs


def _min_domains(value: Any, when: str, path: str) -> Errs:
    if value is None:
        return []
    errs: Errs = []
    if value <= 0:
        errs.append(errors.invalid(path, value, chk.NOT_POSITIVE))
    if when != "DoNotSchedule":
        errs.append(errors.invalid(path, value, f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {when}"))
    return errs


def _spread_label_keys(c: Obj, path: str) -> Errs:
    keys = c.get("matchLabelKeys") or []
    if not keys:
        return []
    selector = c.get("labelSelector")
    errs: Errs = []
    used: set[str] = set()
    if selector is None:
        errs.append(errors.forbidden(path, "must not be specified when labelSelector is not set"))
    else:
        used = set(selector.get("matchLabels") or {}) | {e.get("key") for e in selector.get("matchExpressions") or []}
    for i, k in enumerate(keys):
        errs += chk.check_qualified_name(k, f"{path}[{i}]")
        if k in used:
            errs.append(errors.invalid(f"{path}[{i}]", k, "exists in both matchLabelKeys and labelSelector"))
    return errs


# --- DNS and host -----------------------------------------------------------------


def validate_dns(config: Obj | None, policy: str, path: str) -> Errs:
    if policy == "None":
        if config is None:
            return [errors.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not config.get("nameservers"):
            return [errors.required(f"{path}.nameservers",
                                    "must provide at least one DNS nameserver when `dnsPolicy` is None")]
    if config is None:
        return []
    errs: Errs = []
    servers, searches = config.get("nameservers") or [], config.get("searches") or []
    if len(servers) > 3:
        errs.append(errors.invalid(f"{path}.nameservers", chk.go_strings(servers), "must not have more than 3 nameservers"))
    for i, ns in enumerate(servers):
        errs += chk.check_ip(ns, f"{path}.nameservers[{i}]")
    if len(searches) > 32:
        errs.append(errors.invalid(f"{path}.searches", chk.go_strings(searches), "must not have more than 32 search paths"))
    if len(" ".join(searches)) > 2048:
        errs.append(errors.invalid(f"{path}.searches", chk.go_strings(searches),
                                   "must not have more than 2048 characters (including spaces) in the search list"))
    for i, s in enumerate(searches):
        errs += chk.check_dns_subdomain(s[:-1] if s.endswith(".") else s, f"{path}.searches[{i}]")
    for i, opt in enumerate(config.get("options") or []):
        if not opt.get("name"):
            errs.append(errors.required(f"{path}.options[{i}]", "must not be empty"))
    return errs


def validate_host_aliases(aliases: list[Obj], path: str) -> Errs:
    errs: Errs = []
    for i, alias in enumerate(aliases):
        errs += chk.check_ip(alias.get("ip") or "", f"{path}[{i}].ip")
        for j, host in enumerate(alias.get("hostnames") or []):
            errs += chk.check_dns_subdomain(host, f"{path}[{i}].hostnames[{j}]")
    return errs


# --- pod security context ---------------------------------------------------------


def validate_pod_security_context(spec: Obj, path: str) -> Errs:
    sc = spec.get("securityContext")
    if sc is None:
        return []
    errs: Errs = []
    for key in ("fsGroup", "runAsUser", "runAsGroup"):
        errs += chk.check_id(sc.get(key), f"{path}.{key}")
    for i, gid in enumerate(sc.get("supplementalGroups") or []):
        errs += chk.check_id(gid, f"{path}.supplementalGroups[{i}]")
    if spec.get("shareProcessNamespace") and spec.get("hostPID"):
        errs.append(errors.invalid(f"{path}.shareProcessNamespace", True,
                                   "ShareProcessNamespace and HostPID cannot both be enabled"))
    errs += _sysctls(sc.get("sysctls") or [], spec, f"{path}.sysctls")
    policy = sc.get("fsGroupChangePolicy")
    if policy is not None and policy not in ("Always", "OnRootMismatch"):
        errs.append(errors.not_supported(f"{path}.fsGroupChangePolicy", policy, ["Always", "OnRootMismatch"]))
    errs += ctr.validate_seccomp_profile(sc.get("seccompProfile"), f"{path}.seccompProfile")
    errs += ctr.validate_app_armor(sc.get("appArmorProfile"), f"{path}.appArmorProfile")
    groups_policy = sc.get("supplementalGroupsPolicy")
    if groups_policy is not None and groups_policy not in ("Merge", "Strict"):
        errs.append(errors.not_supported(f"{path}.supplementalGroupsPolicy", groups_policy, ["Merge", "Strict"]))
    return errs


def _sysctl_namespace(name: str) -> str:
    name = name.replace("/", ".")
    if name.startswith("net."):
        return "net"
    if name.startswith(("kernel.shm", "kernel.msg", "fs.mqueue.")) or name == "kernel.sem":
        return "ipc"
    return ""


def _sysctls(sysctls: list[Obj], spec: Obj, path: str) -> Errs:
    errs: Errs = []
    seen: set[str] = set()
    for i, s in enumerate(sysctls):
        p = f"{path}[{i}].name"
        name = s.get("name") or ""
        if not name:
            errs.append(errors.required(p))
        elif len(name) > 253 or not _SYSCTL_RE.match(name):
            errs.append(errors.invalid(p, name, f"must have at most 253 characters and match regex {_SYSCTL_RE.pattern}"))
        elif name in seen:
            errs.append(errors.duplicate(p, name))
        ns = _sysctl_namespace(name)
        if spec.get("hostNetwork") and ns == "net":
            errs.append(errors.invalid(p, name, "may not be specified when 'hostNetwork' is true"))
        elif spec.get("hostIPC") and ns == "ipc":
            errs.append(errors.invalid(p, name, "may not be specified when 'hostIPC' is true"))
        seen.add(name)
    return errs
