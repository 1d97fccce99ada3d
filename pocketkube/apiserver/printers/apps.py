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
    POD_TEMPLATE_SPEC,
    Cell,
    Column,
    Obj,
    col,
    column_printer,
    field,
    format_label_selector,
    format_labels,
    int_field,
    items,
    meta,
    replica_columns,
    selector_string,
    sub,
    template_printer,
)
from pocketkube.apiserver.printers.descriptions import doc


def _ready_of_desired(obj: Obj, now: datetime) -> Cell:
    spec, status = sub(obj, "spec"), sub(obj, "status")
    replicas = spec.get("replicas")
    return f"{int(status.get('readyReplicas') or 0)}/{1 if replicas is None else int(replicas)}"


def _deployment_selector(obj: Obj, now: datetime) -> Cell:
    selector = selector_string(sub(obj, "spec").get("selector"))
    return "<invalid>" if selector is None else selector


_READY = col("Ready", "string", "Number of the pod with ready state", cell=_ready_of_desired)
_DEPLOYMENT = "extensions/v1beta1.Deployment"
DEPLOYMENT = template_printer(
    _READY,
    col(
        "Up-to-date",
        "string",
        doc(_DEPLOYMENT + "Status.updatedReplicas"),
        cell=int_field("status.updatedReplicas"),
    ),
    col(
        "Available",
        "string",
        doc(_DEPLOYMENT + "Status.availableReplicas"),
        cell=int_field("status.availableReplicas"),
    ),
    pod_spec=POD_TEMPLATE_SPEC,
    selector=_deployment_selector,
    selector_doc=doc(_DEPLOYMENT + "Spec.selector"),
)

REPLICASET = template_printer(
    *replica_columns("extensions/v1beta1.ReplicaSet"),
    pod_spec=POD_TEMPLATE_SPEC,
    selector=field("spec.selector", "<none>", format_label_selector),
    selector_doc=doc("extensions/v1beta1.ReplicaSetSpec.selector"),
)


def _ds_count(title: str, key: str) -> Column:
    """A DaemonSetStatus counter column: documented by and filled from the same field."""
    return col(
        title, "integer", doc("extensions/v1beta1.DaemonSetStatus." + key), cell=int_field("status." + key)
    )


DAEMONSET = template_printer(
    _ds_count("Desired", "desiredNumberScheduled"),
    _ds_count("Current", "currentNumberScheduled"),
    _ds_count("Ready", "numberReady"),
    _ds_count("Up-to-date", "updatedNumberScheduled"),
    _ds_count("Available", "numberAvailable"),
    col(
        "Node Selector",
        "string",
        doc("core/v1.PodSpec.nodeSelector"),
        cell=field(POD_TEMPLATE_SPEC + ".nodeSelector", "<none>", format_labels),
    ),
    pod_spec=POD_TEMPLATE_SPEC,
    selector=field("spec.selector", "<none>", format_label_selector),
    selector_doc=doc("extensions/v1beta1.DaemonSetSpec.selector"),
)

STATEFULSET = template_printer(_READY, pod_spec=POD_TEMPLATE_SPEC)


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


CONTROLLERREVISION = column_printer(
    NAME,
    col("Controller", "string", "Controller of the object", cell=lambda obj, now: controller_name(obj)),
    col(
        "Revision", "string", doc("apps/v1beta1.ControllerRevision.revision"), cell=field("revision", 0, int)
    ),
    AGE,
)
