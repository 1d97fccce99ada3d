"""Namespaces, Nodes and Events (core/v1): validation and strategies (upstream v1.32).

Theory of operation: a Namespace is created Active with the `kubernetes`
finalizer in spec.finalizers and the `kubernetes.io/metadata.name` label; its
spec.finalizers change only through /finalize and its phase only through
/status (Active unless deleting). Nodes keep the status they are created with
(kubelets register with one), may not change podCIDRs or providerID once set,
and report taint problems at upstream's `metadata.taints` path. Events (the
core/v1 API) get upstream's legacy validation: the involved object's namespace
must match the event's, and events with an eventTime need reporting fields.
"""

from __future__ import annotations

import copy
from typing import Any

from pocketkube.apiserver.registry import core_checks as chk
from pocketkube.apiserver.registry import core_scheduling as sched
from pocketkube.apiserver.registry.core_checks import Errs
from pocketkube.apiserver.strategy import Obj, Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import names

NAME_LABEL = "kubernetes.io/metadata.name"
STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")


def finalizer_errors(name: str, path: str) -> Errs:
    errs = chk.check_qualified_name(name, path)
    if "/" not in name and name not in STANDARD_FINALIZERS:
        errs.append(errors.invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def _label_namespace(obj: Obj) -> None:
    md = obj.setdefault("metadata", {})
    if md.get("name"):
        labels = md.get("labels")
        if not isinstance(labels, dict):
            labels = md["labels"] = {}
        labels[NAME_LABEL] = md["name"]


class NamespaceStrategy(Strategy):
    tracks_generation = False
    return_deleted_object = True
    name_rule = "label"
    selectable_fields = ("status.phase",)

    def initial_status(self, obj: Obj) -> Any:
        return {"phase": "Active"}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        spec = obj.setdefault("spec", {})
        finalizers = list(spec.get("finalizers") or [])
        if "kubernetes" not in finalizers:
            finalizers.append("kubernetes")
        spec["finalizers"] = finalizers
        _label_namespace(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        new["spec"] = copy.deepcopy(old.get("spec") or {})
        _label_namespace(new)

    def validate(self, obj: Obj) -> list[FieldError]:
        errs: Errs = []
        for name in (obj.get("spec") or {}).get("finalizers") or []:
            errs += finalizer_errors(name, "spec.finalizers")
        return errs

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        phase = (new.get("status") or {}).get("phase") or ""
        if not (new.get("metadata") or {}).get("deletionTimestamp"):
            if phase != "Active":
                return [errors.invalid("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty")]
        elif phase != "Terminating":
            return [errors.invalid("status.Phase", phase,
                                   "may only be 'Terminating' if `deletionTimestamp` is not empty")]
        return []

    def prepare_for_finalize(self, new: Obj, old: Obj) -> None:
        """namespaces/finalize: only spec.finalizers (and metadata) may change."""
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])

    def validate_finalize(self, new: Obj, old: Obj) -> list[FieldError]:
        errs: Errs = []
        for i, name in enumerate((new.get("spec") or {}).get("finalizers") or []):
            errs += finalizer_errors(name, f"spec.finalizers[{i}]")
        return errs

    def field_value(self, obj: Obj, field_name: str) -> str | None:
        if field_name == "name":
            return (obj.get("metadata") or {}).get("name", "")
        return super().field_value(obj, field_name)


# --- nodes ------------------------------------------------------------------------


def validate_node_taints(taints: list[Obj], path: str) -> Errs:
    errs: Errs = []
    seen: dict[str, set[str]] = {}
    for i, t in enumerate(taints):
        p = f"{path}[{i}]"
        key, value, effect = t.get("key") or "", t.get("value") or "", t.get("effect") or ""
        errs += chk.check_qualified_name(key, f"{p}.key")
        msgs = names.label_value_problems(value)
        if msgs:
            errs.append(errors.invalid(f"{p}.value", value, ";".join(msgs)))
        errs += sched.check_taint_effect(effect, f"{p}.effect", False)
        if key in seen.get(effect, set()):
            shown = chk.GoRepr(f'core.Taint{{Key:"{key}", Value:"{value}", Effect:"{effect}", TimeAdded:<nil>}}')
            errs.append(errors.FieldError(errors.DUPLICATE, p, shown, "taints must be unique by key and effect pair"))
            continue
        seen.setdefault(effect, set()).add(key)
    return errs


def validate_node(node: Obj) -> Errs:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    errs = validate_node_taints(spec.get("taints") or [], "metadata.taints")
    errs += _node_resources(status)
    cidrs = spec.get("podCIDRs") or []
    for i, cidr in enumerate(cidrs):
        errs += chk.check_cidr(cidr, f"spec.podCIDRs[{i}]")
    if len(cidrs) > 1 and not errs:
        nets = [chk.parse_cidr_sloppy(c) for c in cidrs]
        if len(cidrs) > 2 or not chk.is_dual_stack([n for n in nets if n is not None]):
            errs.append(errors.invalid("spec.podCIDRs", chk.go_strings(cidrs),
                                       "may specify no more than one CIDR for each IP family"))
        seen: set[str] = set()
        for i, cidr in enumerate(cidrs):
            if cidr in seen:
                errs.append(errors.duplicate(f"spec.podCIDRs[{i}]", cidr))
            seen.add(cidr)
    return errs


def _node_resources(status: Obj) -> Errs:
    errs: Errs = []
    for key in ("capacity", "allocatable"):
        for name, value in (status.get(key) or {}).items():
            errs += chk.check_quantity_value(name, value, f"status.{key}.{name}")
    return errs


def validate_node_update(new: Obj, old: Obj) -> Errs:
    ns, os_, status = new.get("spec") or {}, old.get("spec") or {}, new.get("status") or {}
    errs = _node_resources(status)
    seen: set[tuple[str, str]] = set()
    for i, addr in enumerate(status.get("addresses") or []):
        key = (addr.get("type") or "", addr.get("address") or "")
        if key in seen:
            errs.append(errors.duplicate(f"status.addresses[{i}]",
                                         chk.GoRepr(f'core.NodeAddress{{Type:"{key[0]}", Address:"{key[1]}"}}')))
        seen.add(key)
    old_cidrs, new_cidrs = os_.get("podCIDRs") or [], ns.get("podCIDRs") or []
    if old_cidrs and old_cidrs != new_cidrs:
        errs.append(errors.forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
    if os_.get("providerID") and os_.get("providerID") != ns.get("providerID"):
        errs.append(errors.forbidden("spec.providerID", 'node updates may not change providerID except from "" to '
                                                        "valid"))
    errs += validate_node_taints(ns.get("taints") or [], "metadata.taints")
    if (ns.get("externalID") or "") != (os_.get("externalID") or ""):
        errs.append(errors.forbidden("spec.externalID", "may not be updated"))
    return errs


class NodeStrategy(Strategy):
    tracks_generation = False
    selectable_fields = ("spec.unschedulable",)

    def prepare_for_create(self, obj: Obj) -> None:
        """Nodes may be created with a status (kubelet registration); only configSource is dropped."""
        (obj.get("spec") or {}).pop("configSource", None)
        (obj.get("status") or {}).pop("config", None)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        if (old.get("spec") or {}).get("configSource") is None:
            (new.get("spec") or {}).pop("configSource", None)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_node(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_node(new) + validate_node_update(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_node_update(new, old)

    def field_value(self, obj: Obj, field_name: str) -> str | None:
        if field_name == "spec.unschedulable":
            return "true" if (obj.get("spec") or {}).get("unschedulable") else "false"
        return super().field_value(obj, field_name)


# --- events -----------------------------------------------------------------------

EVENT_FIELDS = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
                "reportingComponent", "source", "type")


def validate_event(ev: Obj) -> Errs:
    """legacyValidateEvent (the only validation the core/v1 Events API applies)."""
    errs: Errs = []
    ns = (ev.get("metadata") or {}).get("namespace") or ""
    involved_ns = (ev.get("involvedObject") or {}).get("namespace") or ""
    mismatch = errors.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
    if not ev.get("eventTime"):
        if (not involved_ns and ns not in ("", "default")) or (involved_ns and ns != involved_ns):
            errs.append(mismatch)
    else:
        if not involved_ns and ns not in ("default", "kube-system"):
            errs.append(mismatch)
        errs += _reporting_fields(ev)
    return errs + chk.check_dns_subdomain(ns, "namespace")


def _reporting_fields(ev: Obj) -> Errs:
    errs: Errs = []
    controller = ev.get("reportingComponent") or ""
    if not controller:
        errs.append(errors.required("reportingController"))
    errs += chk.check_qualified_name(controller, "reportingController")
    for key, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
        value = ev.get(key) or ""
        if not value:
            errs.append(errors.required(key))
        if len(value) > limit:
            errs.append(errors.invalid(key, "", f"can have at most {limit} characters"))
    if len(ev.get("message") or "") > 1024:
        errs.append(errors.invalid("message", "", "can have at most 1024 characters"))
    return errs


class EventStrategy(Strategy):
    has_status = False
    tracks_generation = False
    allow_create_on_update = True
    selectable_fields = EVENT_FIELDS

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_event(obj)

    def field_value(self, obj: Obj, field_name: str) -> str | None:
        if field_name == "source":
            return (obj.get("source") or {}).get("component") or obj.get("reportingComponent") or ""
        return super().field_value(obj, field_name)
