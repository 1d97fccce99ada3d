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

from pocketkube.apiserver.printers.columns import AGE, NAME, Cell, Obj, Printer, age, col, items, name_of, sub
from pocketkube.apiserver.printers.descriptions import doc


def _webhook_row(obj: Obj, now: datetime) -> list[Cell]:
    return [name_of(obj), len(items(obj, "webhooks")), age(obj, now)]


WEBHOOKCONFIGURATION = Printer(
    (
        NAME,
        col(
            "Webhooks",
            "integer",
            "Webhooks indicates the number of webhooks registered in this configuration",
        ),
        AGE,
    ),
    _webhook_row,
)


def _param_kind(spec: Obj) -> str:
    pk = spec.get("paramKind")
    if not pk:
        return "<unset>"
    return f"{pk.get('apiVersion', '')}/{pk.get('kind', '')}"


def _policy_printer(list_key: str, title: str, description: str) -> Printer:
    def row(obj: Obj, now: datetime) -> list[Cell]:
        spec = sub(obj, "spec")
        return [name_of(obj), len(items(spec, list_key)), _param_kind(spec), age(obj, now)]

    return Printer(
        (
            NAME,
            col(title, "integer", description),
            col(
                "ParamKind",
                "string",
                "ParamKind specifies the kind of resources used to parameterize this policy",
            ),
            AGE,
        ),
        row,
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


def _param_ref(spec: Obj) -> str:
    ref: Any = spec.get("paramRef")
    if not ref:
        return "<unset>"
    if ref.get("name"):
        namespace = ref.get("namespace") or "*"
        return f"{namespace}/{ref['name']}"
    if ref.get("selector") is not None:
        return go_label_selector_string(ref["selector"])
    return "<unset>"


def _binding_row(obj: Obj, now: datetime) -> list[Cell]:
    spec = sub(obj, "spec")
    return [name_of(obj), str(spec.get("policyName") or ""), _param_ref(spec), age(obj, now)]


POLICYBINDING = Printer(
    (
        NAME,
        col(
            "PolicyName",
            "string",
            "PolicyName indicates the policy definition which the policy binding binded to",
        ),
        col("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
        AGE,
    ),
    _binding_row,
)


def _flowschema_row(obj: Obj, now: datetime) -> list[Cell]:
    spec = sub(obj, "spec")
    method = spec.get("distinguisherMethod")
    dangling = "?"
    for cond in items(sub(obj, "status"), "conditions"):
        if cond.get("type") == "Dangling":
            dangling = str(cond.get("status") or "")
            break
    return [
        name_of(obj),
        str(sub(spec, "priorityLevelConfiguration").get("name") or ""),
        int(spec.get("matchingPrecedence") or 0),
        str(method.get("type") or "") if method else "<none>",
        age(obj, now),
        dangling,
    ]


_FC = "flowcontrol/v1."
FLOWSCHEMA = Printer(
    (
        NAME,
        col("PriorityLevel", "string", doc(_FC + "PriorityLevelConfigurationReference.name")),
        col("MatchingPrecedence", "string", doc(_FC + "FlowSchemaSpec.matchingPrecedence")),
        col("DistinguisherMethod", "string", doc(_FC + "FlowSchemaSpec.distinguisherMethod")),
        AGE,
        col("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration"),
    ),
    _flowschema_row,
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
