"""apps/v1 strategies: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision.

Theory of operation: each class is upstream's RESTStrategy for the kind, with
its status-subresource variant folded in (`prepare_for_status_update`,
`validate_status_update`). Create resets status and sets generation 1; update
keeps the stored status and bumps generation on a spec change (Deployments also
on an annotation change, because annotations are copied to ReplicaSets);
selectors are immutable. DaemonSets keep upstream's internal templateGeneration
in the `deprecated.daemonset.template.generation` annotation, as the v1 wire
form does. Validation rules live in `apps_validation`.
"""

from __future__ import annotations

import copy
from typing import Any

from pocketkube.apiserver.registry import apps_validation as v
from pocketkube.apiserver.registry import govalue
from pocketkube.apiserver.strategy import Strategy
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import names

Obj = dict[str, Any]

TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def dns_label_name_warning(obj: Obj) -> list[str]:
    """Names of pod-owning controllers end up in pod hostnames."""
    name = obj.get("metadata", {}).get("name", "")
    msgs = names.dns1123_label_problems(name) if name else []
    if not msgs:
        return []
    return ["metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; "
            f"a DNS label is recommended: [{' '.join(msgs)}]"]


def _selector_immutable(new: Obj, old: Obj) -> list[FieldError]:
    ns, os_ = new.get("spec", {}).get("selector"), old.get("spec", {}).get("selector")
    return govalue.immutable(ns, os_, "spec.selector", govalue.label_selector(ns))


class DeploymentStrategy(Strategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return v.validate_deployment_spec(obj)

    def warnings(self, obj: Obj, old: Obj | None = None) -> list[str]:
        return dns_label_name_warning(obj) if old is None else []

    def spec_changed(self, new: Obj, old: Obj) -> bool:
        if super().spec_changed(new, old):
            return True
        return new["metadata"].get("annotations") != old["metadata"].get("annotations")

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return v.validate_deployment_spec(new) + _selector_immutable(new, old)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        _restore_meta_key(new, old, "labels")

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return v.validate_deployment_status(new, old)


class ReplicaSetStrategy(Strategy):
    selectable_fields = ("status.replicas",)

    def initial_status(self, obj: Obj) -> Any:
        return {"replicas": 0}

    def validate(self, obj: Obj) -> list[FieldError]:
        return v.validate_replica_set_spec(obj)

    def warnings(self, obj: Obj, old: Obj | None = None) -> list[str]:
        return dns_label_name_warning(obj) if old is None else []

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return v.validate_replica_set_spec(new) + _selector_immutable(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return v.validate_replica_set_status(new)

    def field_value(self, obj: Obj, field_name: str) -> str | None:
        if field_name == "status.replicas":
            return str((obj.get("status") or {}).get("replicas", 0))
        return super().field_value(obj, field_name)


class StatefulSetStrategy(Strategy):
    name_rule = "label"

    def initial_status(self, obj: Obj) -> Any:
        return {"availableReplicas": 0, "replicas": 0}

    def validate(self, obj: Obj) -> list[FieldError]:
        return v.validate_stateful_set_spec(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return v.validate_stateful_set_update(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return v.validate_stateful_set_status(new, old)


def _template_generation(obj: Obj) -> int:
    raw = (obj.get("metadata", {}).get("annotations") or {}).get(TEMPLATE_GENERATION, "0")
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 0


def _set_template_generation(obj: Obj, value: int) -> None:
    obj["metadata"].setdefault("annotations", {})
    obj["metadata"]["annotations"] = {**obj["metadata"]["annotations"], TEMPLATE_GENERATION: str(value)}


def _restore_meta_key(new: Obj, old: Obj, key: str) -> None:
    if key in old["metadata"]:
        new["metadata"][key] = copy.deepcopy(old["metadata"][key])
    else:
        new["metadata"].pop(key, None)


class DaemonSetStrategy(Strategy):
    def initial_status(self, obj: Obj) -> Any:
        return {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0,
                "numberReady": 0}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _set_template_generation(obj, max(_template_generation(obj), 1))

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
        tg = _template_generation(old)
        gen = old["metadata"].get("generation", 1)
        if new.get("spec", {}).get("template") != old.get("spec", {}).get("template"):
            tg += 1
            gen += 1
        elif self.spec_changed(new, old):
            gen += 1
        _set_template_generation(new, tg)
        new["metadata"]["generation"] = gen

    def validate(self, obj: Obj) -> list[FieldError]:
        return v.validate_daemon_set_spec(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return v.validate_daemon_set_spec(new) + _selector_immutable(new, old)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        _set_template_generation(new, _template_generation(old))

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return v.validate_daemon_set_status(new, old)


class ControllerRevisionStrategy(Strategy):
    has_status = False
    tracks_generation = False

    def validate(self, obj: Obj) -> list[FieldError]:
        return v.validate_controller_revision(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = v.validate_controller_revision(new)
        return errs + govalue.immutable(new.get("data"), old.get("data"), "data",
                                        govalue.go_struct("runtime.RawExtension", {"raw": new.get("data")}))


STRATEGIES: dict[str, Strategy] = {
    "ControllerRevision": ControllerRevisionStrategy(),
    "DaemonSet": DaemonSetStrategy(),
    "Deployment": DeploymentStrategy(),
    "ReplicaSet": ReplicaSetStrategy(),
    "StatefulSet": StatefulSetStrategy(),
}
