"""Pod update and status-update validation (upstream ValidatePodUpdate / ValidatePodStatusUpdate, v1.32).

Theory of operation: a pod's spec is immutable except for container images,
activeDeadlineSeconds (set, or lowered), tolerations (additions only; seconds may
change), scheduling gates (removals only), node selector additions while gated,
and a negative grace period raised to 1. Like upstream, the allowed changes are
"munged" back into the old values and the rest compared semantically (nil and
empty are equal); any difference is one Forbidden error on `spec` listing the
updatable fields, followed by a diff. Upstream prints Go's cmp.Diff of internal
structs; pocketkube prints a line per changed JSON path instead.
"""

from __future__ import annotations

import copy
from typing import Any

from pocketkube.apiserver.registry import core_checks as chk
from pocketkube.apiserver.registry import core_scheduling as sched
from pocketkube.apiserver.registry.core_checks import Errs
from pocketkube.machinery import errors

Obj = dict[str, Any]
UPDATABLE_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)
_MAX_INT32 = 2**31 - 1
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def semantic(value: Any) -> Any:
    """Normalise for Semantic.DeepEqual: empty lists, maps and nulls are the same as absent."""
    if isinstance(value, dict):
        out = {k: semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value


def validate_spec_update(new: Obj, old: Obj) -> Errs:
    """The spec part of ValidatePodUpdate (metadata and full-spec checks are the caller's)."""
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    errs: Errs = []
    for key in ("containers", "initContainers"):
        cerrs, stop = _container_updates(ns.get(key) or [], os_.get(key) or [], f"spec.{key}")
        errs += cerrs
        if stop:
            return errs
    deadline_errs, stop = _deadline(ns.get("activeDeadlineSeconds"), os_.get("activeDeadlineSeconds"))
    errs += deadline_errs
    if stop:
        return errs
    errs += _only_added_tolerations(ns.get("tolerations") or [], os_.get("tolerations") or [])
    errs += _only_deleted_gates(ns.get("schedulingGates") or [], os_.get("schedulingGates") or [])
    if semantic(ns) == semantic(os_):
        return errs
    munged = _munge(ns, os_)
    if os_.get("schedulingGates"):
        errs += _gated_node_selector(munged, os_)
    if semantic(munged) != semantic(os_):
        detail = "pod updates may not change fields other than " + ",".join(UPDATABLE_FIELDS) + "\n"
        errs.append(errors.forbidden("spec", detail + spec_diff(semantic(os_), semantic(munged))))
    return errs


def _container_updates(new: list[Obj], old: list[Obj], path: str) -> tuple[Errs, bool]:
    if len(new) != len(old):
        return [errors.forbidden(path, "pod updates may not add or remove containers")], True
    errs: Errs = []
    for i, c in enumerate(new):
        image = c.get("image") or ""
        if not image:
            errs.append(errors.required(f"{path}[{i}].image"))
        if image.strip() != image:
            errs.append(errors.invalid(f"{path}[{i}].image", image, "must not have leading or trailing whitespace"))
    return errs, False


def _deadline(new: Any, old: Any) -> tuple[Errs, bool]:
    path = "spec.activeDeadlineSeconds"
    if new is not None:
        if new < 0 or new > _MAX_INT32:
            return [errors.invalid(path, new, chk.inclusive_range(0, _MAX_INT32))], True
        if old is not None and old < new:
            return [errors.invalid(path, new, "must be less than or equal to previous value")], True
    elif old is not None:
        return [errors.invalid(path, None, "must not update from a positive integer to nil value")], False
    return [], False


def _only_added_tolerations(new: list[Obj], old: list[Obj]) -> Errs:
    for o in old:
        base = {k: v for k, v in o.items() if k != "tolerationSeconds"}
        if not any({k: v for k, v in n.items() if k != "tolerationSeconds"} == base for n in new):
            return [errors.forbidden("spec.tolerations", "existing toleration can not be modified except its "
                                                         "tolerationSeconds")]
    return sched.validate_tolerations(new, "spec.tolerations")


def _only_deleted_gates(new: list[Obj], old: list[Obj]) -> Errs:
    old_names = {g.get("name") for g in old}
    return [errors.forbidden(f"spec.schedulingGates[{i}].name",
                             f"only deletion is allowed, but found new scheduling gate '{g.get('name')}'")
            for i, g in enumerate(new) if g.get("name") not in old_names]


def _munge(ns: Obj, os_: Obj) -> Obj:
    munged = copy.deepcopy(ns)
    for key in ("containers", "initContainers"):
        for c, oc in zip(munged.get(key) or [], os_.get(key) or [], strict=False):
            c["image"] = oc.get("image")
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        if key in os_:
            munged[key] = copy.deepcopy(os_[key])
        else:
            munged.pop(key, None)
    old_grace, new_grace = os_.get("terminationGracePeriodSeconds"), munged.get("terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and new_grace == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    return munged


def _gated_node_selector(munged: Obj, os_: Obj) -> Errs:
    new_sel, old_sel = munged.get("nodeSelector") or {}, os_.get("nodeSelector") or {}
    if new_sel == old_sel:
        return []
    errs: Errs = []
    if any(new_sel.get(k) != v for k, v in old_sel.items()):
        errs.append(errors.invalid("spec.nodeSelector", chk.go_map(new_sel),
                                   "only additions to spec.nodeSelector are allowed (no mutations or deletions)"))
    if old_sel:
        munged["nodeSelector"] = copy.deepcopy(old_sel)
    else:
        munged.pop("nodeSelector", None)
    return errs


def spec_diff(old: Any, new: Any, path: str = "spec") -> str:
    """A readable stand-in for cmp.Diff: one -/+ pair per changed leaf path."""
    lines: list[str] = []
    _diff(old, new, path, lines)
    return "\n".join(lines)


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _diff(old.get(key), new.get(key), f"{path}.{key}", out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (o, n) in enumerate(zip(old, new, strict=True)):
            _diff(o, n, f"{path}[{i}]", out)
    elif old != new:
        out.append(f"- {path}: {_show(old)}")
        out.append(f"+ {path}: {_show(new)}")


def _show(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value).replace("'", '"')


# --- status -----------------------------------------------------------------------


def validate_status_update(new: Obj, old: Obj) -> Errs:
    """ValidatePodStatusUpdate (the checks that apply to JSON pods)."""
    errs: Errs = []
    ns, os_ = new.get("status") or {}, old.get("status") or {}
    for i, cond in enumerate(ns.get("conditions") or []):
        if cond.get("type") not in ("PodScheduled", "Ready", "Initialized"):
            errs += chk.check_qualified_name(cond.get("type") or "", f"metadata.conditions[{i}].Type")
    if (new.get("spec") or {}).get("nodeName") != (old.get("spec") or {}).get("nodeName"):
        errs.append(errors.forbidden("status.nodeName", "may not be changed directly"))
    nominated = ns.get("nominatedNodeName") or ""
    if nominated and nominated != os_.get("nominatedNodeName"):
        errs += chk.check_dns_subdomain(nominated, "status.nominatedNodeName")
    errs += chk.check_immutable(ns.get("qosClass") or "", os_.get("qosClass") or "", "status.qosClass")
    return errs + _status_ips(ns, "podIPs") + _host_ips(ns)


def _status_ips(status: Obj, key: str) -> Errs:
    path = f"status.{key}"
    entries = status.get(key) or []
    errs: Errs = []
    for i, entry in enumerate(entries):
        errs += chk.check_ip(entry.get("ip") or "", f"{path}[{i}]")
    if len(entries) > 1 and not errs:
        parsed = [chk.parse_ip_sloppy(e.get("ip")) for e in entries]
        if len(entries) > 2 or not chk.is_dual_stack(parsed):
            errs.append(errors.invalid(path, chk.GoRepr(f"[]core.{'PodIP' if key == 'podIPs' else 'HostIP'}{{...}}"),
                                       "may specify no more than one IP for each IP family"))
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            if entry.get("ip") in seen:
                errs.append(errors.duplicate(f"{path}[{i}]", chk.GoRepr(f"core.PodIP{{IP:\"{entry.get('ip')}\"}}")))
            seen.add(entry.get("ip") or "")
    return errs


def _host_ips(status: Obj) -> Errs:
    entries = status.get("hostIPs") or []
    if not entries:
        return []
    errs: Errs = []
    if (status.get("hostIP") or "") != (entries[0].get("ip") or ""):
        errs.append(errors.invalid("status.hostIPs[0].ip", entries[0].get("ip") or "", "must be equal to `hostIP`"))
    return errs + _status_ips(status, "hostIPs")


def validate_annotation_updates(new_ann: Obj, old_ann: Obj) -> Errs:
    errs: Errs = []
    for k, v in old_ann.items():
        if new_ann.get(k) == v:
            continue
        if k.startswith("container.apparmor.security.beta.kubernetes.io/"):
            errs.append(errors.forbidden(f"metadata.annotations[{k}]", "may not remove or update AppArmor annotations"))
        if k == MIRROR_ANNOTATION:
            errs.append(errors.forbidden(f"metadata.annotations[{k}]", "may not remove or update mirror pod annotation"))
    for k in new_ann:
        if k in old_ann:
            continue
        if k.startswith("container.apparmor.security.beta.kubernetes.io/"):
            errs.append(errors.forbidden(f"metadata.annotations[{k}]", "may not add AppArmor annotations"))
        if k == MIRROR_ANNOTATION:
            errs.append(errors.forbidden(f"metadata.annotations[{k}]", "may not add mirror pod annotation"))
    return errs
