"""Printers for the small kinds of coordination, scheduling, node, policy and certificates.

Theory of operation: one table of cell-carrying columns per upstream printXxx (v1.32).
Leases show their holder (empty when none), lease candidates the lease and versions, priority
classes value/global-default/preemption policy, runtime classes their handler, pod
disruption budgets min-available/max-unavailable (`N/A` when unset) and allowed
disruptions, certificate signing requests signer, requestor, requested duration and a
condition summary (`Denied`/`Approved`/`Pending`, then `,Failed`, `,Issued`), cluster
trust bundles their signer.
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.printers.columns import (
    AGE,
    NAME,
    Cell,
    CellFunc,
    Obj,
    col,
    column_printer,
    field,
    int_or_string,
    items,
    sub,
)
from pocketkube.apiserver.printers.descriptions import doc
from pocketkube.apiserver.printers.duration import human_duration

LEASE = column_printer(
    NAME,
    col(
        "Holder",
        "string",
        doc("coordination/v1.LeaseSpec.holderIdentity"),
        cell=field("spec.holderIdentity", "", None),
    ),
    AGE,
)

_LC = "coordination/v1alpha2.LeaseCandidateSpec."
LEASECANDIDATE = column_printer(
    NAME,
    col("LeaseName", "string", doc(_LC + "leaseName"), cell=field("spec.leaseName")),
    col("BinaryVersion", "string", doc("meta/v1.ObjectMeta.binaryVersion"), cell=field("spec.binaryVersion")),
    col(
        "EmulationVersion",
        "string",
        doc("meta/v1.ObjectMeta.emulationVersion"),
        cell=field("spec.emulationVersion"),
    ),
    AGE,
)

_PC = "scheduling/v1.PriorityClass."
PRIORITYCLASS = column_printer(
    NAME,
    col("Value", "integer", doc(_PC + "value"), cell=field("value", 0, int)),
    col("Global-Default", "boolean", doc(_PC + "globalDefault"), cell=field("globalDefault", False, bool)),
    AGE,
    col("PreemptionPolicy", "string", doc(_PC + "preemptionPolicy"), cell=field("preemptionPolicy")),
)

RUNTIMECLASS = column_printer(
    NAME, col("Handler", "string", doc("meta/v1.ObjectMeta.handler"), cell=field("handler")), AGE
)


def _int_or_string_or_na(path: str) -> CellFunc:
    """A PDB bound (intstr pointer): its String(), or `N/A` when unset."""
    return field(path, "N/A", int_or_string, pointer=True)


PODDISRUPTIONBUDGET = column_printer(
    NAME,
    col(
        "Min Available",
        "string",
        "The minimum number of pods that must be available.",
        cell=_int_or_string_or_na("spec.minAvailable"),
    ),
    col(
        "Max Unavailable",
        "string",
        "The maximum number of pods that may be unavailable.",
        cell=_int_or_string_or_na("spec.maxUnavailable"),
    ),
    col(
        "Allowed Disruptions",
        "integer",
        "Calculated number of pods that may be disrupted at this time.",
        cell=field("status.disruptionsAllowed", 0, int),
    ),
    AGE,
)


def csr_condition(obj: Obj) -> str:
    status = sub(obj, "status")
    types = {c.get("type") for c in items(status, "conditions")}
    if "Denied" in types:
        summary = "Denied"
    elif "Approved" in types:
        summary = "Approved"
    else:
        summary = "Pending"
    if "Failed" in types:
        summary += ",Failed"
    if status.get("certificate"):
        summary += ",Issued"
    return summary


def _seconds(value: Any) -> Cell:
    return human_duration(int(value))


_CSR = "certificates/v1beta1.CertificateSigningRequest"
CERTIFICATESIGNINGREQUEST = column_printer(
    NAME,
    AGE,
    col("SignerName", "string", doc(_CSR + "Spec.signerName"), cell=field("spec.signerName", "<none>", None)),
    col("Requestor", "string", doc(_CSR + "Spec.request"), cell=field("spec.username")),
    col(
        "RequestedDuration",
        "string",
        doc(_CSR + "Spec.expirationSeconds"),
        cell=field("spec.expirationSeconds", "<none>", _seconds, pointer=True),
    ),
    col("Condition", "string", doc(_CSR + "Status.conditions"), cell=lambda obj, now: csr_condition(obj)),
)

CLUSTERTRUSTBUNDLE = column_printer(
    NAME,
    col(
        "SignerName",
        "string",
        doc("certificates/v1alpha1.ClusterTrustBundleSpec.signerName"),
        cell=field("spec.signerName", "<none>", None),
    ),
)
