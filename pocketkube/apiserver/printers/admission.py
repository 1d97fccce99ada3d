"""Printers for admissionregistration.k8s.io and flowcontrol.apiserver.k8s.io kinds.

Theory of operation: webhook configurations count their webhooks; admission policies
count validations/mutations and show `apiVersion/kind` of their param kind
(`<unset>` when none); bindings show the policy and the param reference
(`namespace/name`, `*/name` without a namespace, or the selector's Go `String()`
rendering). Flow schemas show their priority level, precedence, distinguisher and
whether the Dangling condition flags a missing priority level (`?` when unknown);
priority levels their queuing numbers or `<none>`.

Upstream sorts a FlowSchema *list* by precedence before printing; rows here are per
object, so that ordering is the caller's business.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pocketkube.apiserver.printers.columns import (
    AGE,
    NAME,
    Cell,
    Obj,
    Printer,
    age,
    col,
    column_printer,
    field,
    int_field,
    items,
    list_len,
    name_of,
    sub,
)
from pocketkube.apiserver.printers.descriptions import doc

WEBHOOKCONFIGURATION = column_printer(
    NAME,
    col(
        "Webhooks",
        "integer",
        "Webhooks indicates the number of webhooks registered in this configuration",
        cell=field("webhooks", 0, list_len),
    ),
    AGE,
)


def _param_kind(obj: Obj, now: datetime) -> Cell:
    pk = sub(obj, "spec").get("paramKind")
    if not pk:
        return "<unset>"
    return f"{pk.get('apiVersion', '')}/{pk.get('kind', '')}"


def _policy_printer(list_key: str, title: str, description: str) -> Printer:
    """An admission policy: how many `list_key` entries its spec has, and its param kind."""
    return column_printer(
        NAME,
        col(title, "integer", description, cell=field("spec." + list_key, 0, list_len)),
        col(
            "ParamKind",
            "string",
            "ParamKind specifies the kind of resources used to parameterize this policy",
            cell=_param_kind,
        ),
        AGE,
    )


VALIDATINGADMISSIONPOLICY = _policy_printer(
    "validations",
    "Validations",
    "Validations indicates the number of validation rules defined in this configuration",
)
MUTATINGADMISSIONPOLICY = _policy_printer(
    "mutations", "Mutations", "Mutation indicates the number of mutations rules defined in this configuration"
)


def go_label_selector_string(sel: Obj) -> str:
    """The protobuf-generated `(*metav1.LabelSelector).String()` rendering."""
    labels = sel.get("matchLabels") or {}
    label_part = "".join(f"{k}: {labels[k]}," for k in sorted(labels))
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(e.get('values') or [])}],}},"
        for e in sel.get("matchExpressions") or []
    )
    return (
        f"&LabelSelector{{MatchLabels:map[string]string{{{label_part}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )


def _param_ref(obj: Obj, now: datetime) -> Cell:
    ref: Any = sub(obj, "spec").get("paramRef")
    if not ref:
        return "<unset>"
    if ref.get("name"):
        namespace = ref.get("namespace") or "*"
        return f"{namespace}/{ref['name']}"
    if ref.get("selector") is not None:
        return go_label_selector_string(ref["selector"])
    return "<unset>"


POLICYBINDING = column_printer(
    NAME,
    col(
        "PolicyName",
        "string",
        "PolicyName indicates the policy definition which the policy binding binded to",
        cell=field("spec.policyName"),
    ),
    col(
        "ParamRef",
        "string",
        "ParamRef indicates the param resource which sets the configration param",
        cell=_param_ref,
    ),
    AGE,
)


def _distinguisher(obj: Obj, now: datetime) -> Cell:
    method = sub(obj, "spec").get("distinguisherMethod")
    return str(method.get("type") or "") if method else "<none>"


def _missing_priority_level(obj: Obj, now: datetime) -> Cell:
    """The Dangling condition's status, `?` when there is none."""
    for cond in items(sub(obj, "status"), "conditions"):
        if cond.get("type") == "Dangling":
            return str(cond.get("status") or "")
    return "?"


_FC = "flowcontrol/v1."
FLOWSCHEMA = column_printer(
    NAME,
    col(
        "PriorityLevel",
        "string",
        doc(_FC + "PriorityLevelConfigurationReference.name"),
        cell=field("spec.priorityLevelConfiguration.name"),
    ),
    col(
        "MatchingPrecedence",
        "string",
        doc(_FC + "FlowSchemaSpec.matchingPrecedence"),
        cell=int_field("spec.matchingPrecedence"),
    ),
    col(
        "DistinguisherMethod", "string", doc(_FC + "FlowSchemaSpec.distinguisherMethod"), cell=_distinguisher
    ),
    AGE,
    col(
        "MissingPL",
        "string",
        "references a broken or non-existent PriorityLevelConfiguration",
        cell=_missing_priority_level,
    ),
)


def _prioritylevel_row(obj: Obj, now: datetime) -> list[Cell]:
    spec = sub(obj, "spec")
    cells: list[Cell] = ["<none>", "<none>", "<none>", "<none>"]
    limited = spec.get("limited")
    if limited:
        cells[0] = int(limited.get("nominalConcurrencyShares") or 0)
        queuing = sub(limited, "limitResponse").get("queuing")
        if queuing:
            cells[1:] = [int(queuing.get(k) or 0) for k in ("queues", "handSize", "queueLengthLimit")]
    return [name_of(obj), str(spec.get("type") or ""), *cells, age(obj, now)]


PRIORITYLEVELCONFIGURATION = Printer(
    (
        NAME,
        col("Type", "string", doc(_FC + "PriorityLevelConfigurationSpec.type")),
        col(
            "NominalConcurrencyShares",
            "string",
            doc(_FC + "LimitedPriorityLevelConfiguration.nominalConcurrencyShares"),
        ),
        col("Queues", "string", doc(_FC + "QueuingConfiguration.queues")),
        col("HandSize", "string", doc(_FC + "QueuingConfiguration.handSize")),
        col("QueueLengthLimit", "string", doc(_FC + "QueuingConfiguration.queueLengthLimit")),
        AGE,
    ),
    _prioritylevel_row,
)
