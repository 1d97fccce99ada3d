"""Printers for apps/v1: deployments, replicasets, daemonsets, statefulsets, controllerrevisions.

Theory of operation: counts come straight from spec/status (a missing status counter
is 0, a missing spec.replicas is the defaulted 1); READY of deployments and
statefulsets is `ready/desired`. The wide CONTAINERS/IMAGES cells list the pod
template's containers; SELECTOR is the label selector string (deployments print the
raw selector string, possibly empty; the others go through FormatLabelSelector, which
prints `<none>` for an empty one). A controller revision names its controlling owner
as `lower(Kind.group)/name`.
"""

from __future__ import annotations

from datetime import datetime

from pocketkube.apiserver.printers.columns import (
    AGE,
    NAME,
    Cell,
    Obj,
    Printer,
    age,
    col,
    format_label_selector,
    format_labels,
    items,
    meta,
    name_of,
    selector_string,
    sub,
    template_columns,
    template_row,
    template_spec,
)
from pocketkube.apiserver.printers.descriptions import doc


def _replicas(spec: Obj) -> int:
    value = spec.get("replicas")
    return 1 if value is None else int(value)


def _ready_of_desired(spec: Obj, status: Obj) -> str:
    return f"{int(status.get('readyReplicas') or 0)}/{_replicas(spec)}"


def _deployment_row(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = sub(obj, "spec"), sub(obj, "status")
    selector = selector_string(spec.get("selector"))
    own: list[Cell] = [
        _ready_of_desired(spec, status),
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
    ]
    return template_row(obj, now, own, template_spec(obj), "<invalid>" if selector is None else selector)


DEPLOYMENT = Printer(
    template_columns(
        col("Ready", "string", "Number of the pod with ready state"),
        col("Up-to-date", "string", doc("extensions/v1beta1.DeploymentStatus.updatedReplicas")),
        col("Available", "string", doc("extensions/v1beta1.DeploymentStatus.availableReplicas")),
        selector_doc=doc("extensions/v1beta1.DeploymentSpec.selector"),
    ),
    _deployment_row,
)


def _replicaset_row(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = sub(obj, "spec"), sub(obj, "status")
    own: list[Cell] = [_replicas(spec), int(status.get("replicas") or 0), int(status.get("readyReplicas") or 0)]
    return template_row(obj, now, own, template_spec(obj), format_label_selector(spec.get("selector")))


REPLICASET = Printer(
    template_columns(
        col("Desired", "integer", doc("extensions/v1beta1.ReplicaSetSpec.replicas")),
        col("Current", "integer", doc("extensions/v1beta1.ReplicaSetStatus.replicas")),
        col("Ready", "integer", doc("extensions/v1beta1.ReplicaSetStatus.readyReplicas")),
        selector_doc=doc("extensions/v1beta1.ReplicaSetSpec.selector"),
    ),
    _replicaset_row,
)


def _daemonset_row(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = sub(obj, "spec"), sub(obj, "status")
    pod_spec = template_spec(obj)
    own: list[Cell] = [
        int(status.get("desiredNumberScheduled") or 0),
        int(status.get("currentNumberScheduled") or 0),
        int(status.get("numberReady") or 0),
        int(status.get("updatedNumberScheduled") or 0),
        int(status.get("numberAvailable") or 0),
        format_labels(pod_spec.get("nodeSelector")),
    ]
    return template_row(obj, now, own, pod_spec, format_label_selector(spec.get("selector")))


_DS = "extensions/v1beta1.DaemonSetStatus."
DAEMONSET = Printer(
    template_columns(
        col("Desired", "integer", doc(_DS + "desiredNumberScheduled")),
        col("Current", "integer", doc(_DS + "currentNumberScheduled")),
        col("Ready", "integer", doc(_DS + "numberReady")),
        col("Up-to-date", "integer", doc(_DS + "updatedNumberScheduled")),
        col("Available", "integer", doc(_DS + "numberAvailable")),
        col("Node Selector", "string", doc("core/v1.PodSpec.nodeSelector")),
        selector_doc=doc("extensions/v1beta1.DaemonSetSpec.selector"),
    ),
    _daemonset_row,
)


def _statefulset_row(obj: Obj, now: datetime) -> list[Cell]:
    return template_row(obj, now, [_ready_of_desired(sub(obj, "spec"), sub(obj, "status"))], template_spec(obj))


STATEFULSET = Printer(template_columns(col("Ready", "string", "Number of the pod with ready state")), _statefulset_row)


def controller_name(obj: Obj) -> str:
    """The controlling owner as formatResourceName(GroupKind, name): `kind.group/name`."""
    for ref in items(meta(obj), "ownerReferences"):
        if not ref.get("controller"):
            continue
        api_version = str(ref.get("apiVersion") or "")
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        kind = str(ref.get("kind") or "")
        if not kind and not group:
            return str(ref.get("name", ""))
        group_kind = f"{kind}.{group}" if group else kind
        return f"{group_kind.lower()}/{ref.get('name', '')}"
    return "<none>"


def _controllerrevision_row(obj: Obj, now: datetime) -> list[Cell]:
    return [name_of(obj), controller_name(obj), int(obj.get("revision") or 0), age(obj, now)]


CONTROLLERREVISION = Printer(
    (
        NAME,
        col("Controller", "string", "Controller of the object"),
        col("Revision", "string", doc("apps/v1beta1.ControllerRevision.revision")),
        AGE,
    ),
    _controllerrevision_row,
)
