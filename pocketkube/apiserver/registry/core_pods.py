"""Pods, PodTemplates and Bindings (core/v1): validation entry points and strategies.

Theory of operation: `validate_pod_spec` and `validate_pod_template_spec` are
the entry points other groups use for embedded pod templates (Deployments,
Jobs, ...); they run upstream's ValidatePodSpec / ValidatePodTemplateSpec over
JSON (see `core_podspec` and friends). `PodStrategy` reproduces
pkg/registry/core/pod: on create the status becomes {phase: Pending, qosClass}
(plus the SchedulingGated condition), pod affinity `matchLabelKeys` are merged
into label selectors, AppArmor fields and annotations are synced; on update the
stored status is kept and upstream's immutability rules apply; deletion is
graceful (the pod's terminationGracePeriodSeconds) unless the pod is unscheduled
or already terminal. `apply_binding` is the pods/binding assignment.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from pocketkube.apiserver.registry import core_checks as chk
from pocketkube.apiserver.registry import core_pod_update as upd
from pocketkube.apiserver.registry import core_podspec
from pocketkube.apiserver.registry.core_checks import Errs
from pocketkube.apiserver.strategy import Obj, Strategy
from pocketkube.machinery import errors, jsonvalue
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import meta

ALL_RESTART_POLICIES: tuple[str, ...] = ("Always", "OnFailure", "Never")
POD_FIELDS = ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
              "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName")
_APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"


def validate_pod_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    """Semantic validation of a PodSpec embedded in another object (upstream ValidatePodSpec, podMeta nil)."""
    return core_podspec.validate_spec(spec, path)


def validate_pod_template_spec(template: dict[str, Any], path: str, *,
                               restart_policies: tuple[str, ...] = ALL_RESTART_POLICIES) -> list[FieldError]:
    """ValidatePodTemplateSpec at `path` (e.g. "spec.template"); `restart_policies` narrows the allowed
    restartPolicy the way ReplicaSets (Always) and Jobs (OnFailure, Never) do, with upstream's NotSupported."""
    md = template.get("metadata") or {}
    spec = template.get("spec") or {}
    errs = meta.validate_labels(md.get("labels"), f"{path}.labels")
    errs += meta.validate_annotations(md.get("annotations"), f"{path}.annotations")
    errs += pod_annotation_errors(md.get("annotations") or {}, spec, f"{path}.annotations")
    errs += core_podspec.validate_spec(spec, f"{path}.spec")
    if spec.get("ephemeralContainers"):
        errs.append(errors.forbidden(f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod "
                                                                         "template"))
    policy = spec.get("restartPolicy") or ""
    if tuple(restart_policies) != ALL_RESTART_POLICIES and policy not in restart_policies:
        errs.append(errors.not_supported(f"{path}.spec.restartPolicy", policy, list(restart_policies)))
    return errs


def pod_annotation_errors(annotations: dict[str, Any], spec: Obj, path: str) -> Errs:
    """ValidatePodSpecificAnnotations: mirror pods need a node, deletion cost is an int32, seccomp/AppArmor values."""
    errs: Errs = []
    if upd.MIRROR_ANNOTATION in annotations and not spec.get("nodeName"):
        errs.append(errors.invalid(f"{path}[{upd.MIRROR_ANNOTATION}]", annotations[upd.MIRROR_ANNOTATION],
                                   "must set spec.nodeName if mirror pod annotation is set"))
    cost = annotations.get(_DELETION_COST)
    if cost is not None and not _is_int32(cost):
        errs.append(errors.invalid(f"{path}[{_DELETION_COST}]", cost, "must be a 32bit integer"))
    for key, value in annotations.items():
        seccomp = key == "seccomp.security.alpha.kubernetes.io/pod" or key.startswith("container.seccomp.security.alpha")
        if seccomp and value not in ("runtime/default", "docker/default", "unconfined") and \
                not value.startswith("localhost/"):
            errs.append(errors.invalid(f"{path}.{key}", value, "must be a valid seccomp profile"))
        if key.startswith(_APPARMOR_PREFIX):
            errs += _apparmor_annotation(key, value, spec, path)
    return errs


def _is_int32(value: str) -> bool:
    try:
        return -(2**31) <= int(value, 10) <= 2**31 - 1 and value.strip() == value
    except ValueError:
        return False


def _apparmor_annotation(key: str, value: str, spec: Obj, path: str) -> Errs:
    errs: Errs = []
    name = key[len(_APPARMOR_PREFIX):]
    names = {c.get("name") for k in ("containers", "initContainers", "ephemeralContainers") for c in spec.get(k) or []}
    if name not in names:
        errs.append(errors.invalid(f"{path}[{key}]", name, "container not found"))
    if value not in ("", "runtime/default", "unconfined") and not value.startswith("localhost/"):
        errs.append(errors.invalid(f"{path}[{key}]", value, f'invalid AppArmor profile name: "{value}"'))
    return errs


# --- QoS ----------------------------------------------------------------------------


def compute_qos(spec: Obj) -> str:
    """qos.ComputePodQOS over regular and init containers (cpu and memory only)."""
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        res = c.get("resources") or {}
        _sum_positive(res.get("requests") or {}, requests)
        found = _sum_positive(res.get("limits") or {}, limits)
        if not {"cpu", "memory"} <= found:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(k) == v for k, v in requests.items()) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def _sum_positive(rl: Obj, into: dict[str, Fraction]) -> set[str]:
    found = set()
    for name, value in rl.items():
        q = chk.parse_q(value)
        if name in ("cpu", "memory") and q is not None and q.value > 0:
            into[name] = into.get(name, Fraction(0)) + q.value
            found.add(name)
    return found


# --- create-time mutations ----------------------------------------------------------


def _merge_affinity_label_keys(pod: Obj) -> None:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    labels = (pod.get("metadata") or {}).get("labels") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        pa = affinity.get(kind) or {}
        terms = list(pa.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [w.get("podAffinityTerm") or {} for w in pa.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
        for term in terms:
            selector = term.get("labelSelector")
            if selector is None:
                continue
            for key, op in [(k, "In") for k in term.get("matchLabelKeys") or []] + \
                           [(k, "NotIn") for k in term.get("mismatchLabelKeys") or []]:
                if key in labels:
                    selector.setdefault("matchExpressions", []).append(
                        {"key": key, "operator": op, "values": [labels[key]]})


def _apparmor_annotation_for(profile: Obj) -> str:
    kind = profile.get("type")
    if kind == "RuntimeDefault":
        return "runtime/default"
    if kind == "Unconfined":
        return "unconfined"
    if kind == "Localhost":
        return "localhost/" + (profile.get("localhostProfile") or "")
    return ""


def _apparmor_field_for(annotation: str) -> Obj | None:
    if annotation == "runtime/default":
        return {"type": "RuntimeDefault"}
    if annotation == "unconfined":
        return {"type": "Unconfined"}
    if annotation.startswith("localhost/") and annotation[len("localhost/"):].strip():
        return {"type": "Localhost", "localhostProfile": annotation[len("localhost/"):]}
    return None


def _sync_apparmor(pod: Obj) -> None:
    spec = pod.get("spec") or {}
    if (spec.get("os") or {}).get("name") == "windows":
        return
    md = pod.setdefault("metadata", {})
    pod_profile = (spec.get("securityContext") or {}).get("appArmorProfile")
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            ann_key = _APPARMOR_PREFIX + (c.get("name") or "")
            annotations = md.get("annotations") or {}
            profile = (c.get("securityContext") or {}).get("appArmorProfile")
            if ann_key not in annotations:
                value = _apparmor_annotation_for(profile or pod_profile or {})
                if value:
                    md.setdefault("annotations", {})[ann_key] = value
            elif profile is None:
                field = _apparmor_field_for(annotations[ann_key])
                if field is not None and field != pod_profile:
                    c.setdefault("securityContext", {})["appArmorProfile"] = field


def pod_grace_period(pod: Obj, requested: int | None) -> int:
    """CheckGracefulDelete: the grace period a DELETE uses (0 means immediate)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    period = requested if requested is not None else spec.get("terminationGracePeriodSeconds") or 0
    if not spec.get("nodeName") or status.get("phase") in ("Failed", "Succeeded"):
        period = 0
    return 1 if period < 0 else period


class PodStrategy(Strategy):
    tracks_generation = False
    return_deleted_object = True
    selectable_fields = POD_FIELDS

    def initial_status(self, obj: Obj) -> Any:
        spec = obj.get("spec") or {}
        status: Obj = {"phase": "Pending", "qosClass": compute_qos(spec)}
        if spec.get("schedulingGates"):
            status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated",
                                     "message": "Scheduling is blocked due to non-empty scheduling gates"}]
        return status

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _merge_affinity_label_keys(obj)
        _sync_apparmor(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        errs = _validate_pod(obj)
        spec = obj.get("spec") or {}
        if spec.get("ephemeralContainers"):
            errs.append(errors.forbidden("spec.ephemeralContainers", "cannot be set on create"))
        if spec.get("nodeName") and spec.get("schedulingGates"):
            errs.append(errors.forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = _validate_pod(new)
        errs += upd.validate_annotation_updates((new.get("metadata") or {}).get("annotations") or {},
                                                (old.get("metadata") or {}).get("annotations") or {})
        return errs + upd.validate_spec_update(new, old)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        new_md, old_md = new.setdefault("metadata", {}), old.get("metadata") or {}
        for key in ("ownerReferences", "deletionTimestamp"):
            jsonvalue.carry_over(new_md, old_md, key)
        status = new.setdefault("status", {})
        if not status.get("qosClass") and (old.get("status") or {}).get("qosClass"):
            status["qosClass"] = old["status"]["qosClass"]

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = upd.validate_annotation_updates((new.get("metadata") or {}).get("annotations") or {},
                                               (old.get("metadata") or {}).get("annotations") or {})
        return errs + upd.validate_status_update(new, old)

    def default_grace_period(self, obj: Obj) -> int | None:
        return pod_grace_period(obj, None) or None

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        return pod_grace_period(obj, requested)

    def warnings(self, obj: Obj, old: Obj | None = None) -> list[str]:
        if old is not None:
            return []
        name = (obj.get("metadata") or {}).get("name") or ""
        msgs = chk.dns_label_problems(name) if name else []
        if not msgs:
            return []
        return ["metadata.name: this is used in the Pod's hostname, which can result in surprising behavior; "
                "a DNS label is recommended: [" + " ".join(msgs) + "]"]

    def field_value(self, obj: Obj, field_name: str) -> str | None:
        status = obj.get("status") or {}
        if field_name == "spec.hostNetwork":
            return "true" if (obj.get("spec") or {}).get("hostNetwork") else "false"
        if field_name == "status.podIP":
            ips = status.get("podIPs") or []
            return (ips[0].get("ip") or "") if ips else (status.get("podIP") or "")
        if field_name == "status.podIPs":
            return ""
        return super().field_value(obj, field_name)


def _validate_pod(pod: Obj) -> Errs:
    """validatePodMetadataAndSpec without ObjectMeta (the generic store validates that)."""
    md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    errs = pod_annotation_errors(md.get("annotations") or {}, spec, "metadata.annotations")
    errs += core_podspec.validate_spec(spec, "spec", is_pod=True, pod_name=md.get("name") or "")
    if not spec.get("serviceAccountName"):
        for i, vol in enumerate(spec.get("volumes") or []):
            for j, src in enumerate((vol.get("projected") or {}).get("sources") or []):
                if src.get("serviceAccountToken") is not None:
                    errs.append(errors.forbidden(f"spec.volumes[{i}].projected.sources[{j}].serviceAccountToken",
                                                 "must not be specified when serviceAccountName is not set"))
    for key in ("containers", "initContainers"):
        for i, c in enumerate(spec.get(key) or []):
            image = c.get("image") or ""
            if image != image.strip():
                errs.append(errors.invalid(f"spec.{key}[{i}].image", image,
                                           "must not have leading or trailing whitespace"))
    return errs


class PodTemplateStrategy(Strategy):
    has_status = False
    return_deleted_object = True

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_pod_template_spec(obj.get("template") or {}, "template")

    def spec_changed(self, new: Obj, old: Obj) -> bool:
        return upd.semantic(new.get("template")) != upd.semantic(old.get("template"))


class BindingStrategy(Strategy):
    """pods/binding: a Binding is validated, then applied to its pod with `apply_binding`."""

    has_status = False
    tracks_generation = False

    def validate(self, obj: Obj) -> list[FieldError]:
        target = obj.get("target") or {}
        errs: Errs = []
        kind = target.get("kind") or ""
        if kind and kind != "Node":
            errs.append(errors.not_supported("target.kind", kind, ["Node", "<empty>"]))
        if not target.get("name"):
            errs.append(errors.required("target.name"))
        return errs


def apply_binding(pod: Obj, binding: Obj, now: str) -> Obj:
    """assignPod: set spec.nodeName and the PodScheduled condition; raise 409 if already bound."""
    name = (pod.get("metadata") or {}).get("name") or ""
    node = (binding.get("target") or {}).get("name") or ""
    spec = pod.setdefault("spec", {})
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        raise errors.conflict("pods/binding", "", name, f"pod {name} is being deleted, cannot be assigned to a host")
    if spec.get("nodeName"):
        raise errors.conflict("pods/binding", "", name, f'pod {name} is already assigned to node "{spec["nodeName"]}"')
    if spec.get("schedulingGates"):
        raise errors.conflict("pods/binding", "", name, f"pod {name} has non-empty .spec.schedulingGates")
    spec["nodeName"] = node
    extra = (binding.get("metadata") or {}).get("annotations") or {}
    if extra:
        pod.setdefault("metadata", {}).setdefault("annotations", {}).update(extra)
    status = pod.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
    conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now})
    status["conditions"] = conditions
    return pod
