"""Printers for the small kinds of coordination, scheduling, node, policy and certificates.

Theory of operation: one short row function per upstream printXxx (v1.32). Leases show
their holder (empty when none), lease candidates the lease and versions, priority
classes value/global-default/preemption policy, runtime classes their handler, pod
disruption budgets min-available/max-unavailable (`N/A` when unset) and allowed
disruptions, certificate signing requests signer, requestor, requested duration and a
condition summary (`Denied`/`Approved`/`Pending`, then `,Failed`, `,Issued`), cluster
trust bundles their signer.
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
    int_or_string,
    items,
    name_of,
    sub,
)
from pocketkube.apiserver.printers.descriptions import doc
from pocketkube.apiserver.printers.duration import human_duration


def _lease_row(obj: Obj, now: datetime) -> list[Cell]:
    return [name_of(obj), sub(obj, "spec").get("holderIdentity") or "", age(obj, now)]


LEASE = Printer(
    (NAME, col("Holder", "string", doc("coordination/v1.LeaseSpec.holderIdentity")), AGE), _lease_row
)


def _leasecandidate_row(obj: Obj, now: datetime) -> list[Cell]:
    spec = sub(obj, "spec")
    return [
        name_of(obj),
        str(spec.get("leaseName") or ""),
        str(spec.get("binaryVersion") or ""),
        str(spec.get("emulationVersion") or ""),
        age(obj, now),
    ]


LEASECANDIDATE = Printer(
    (
        NAME,
        col("LeaseName", "string", doc("coordination/v1alpha2.LeaseCandidateSpec.leaseName")),
        col("BinaryVersion", "string", doc("meta/v1.ObjectMeta.binaryVersion")),
        col("EmulationVersion", "string", doc("meta/v1.ObjectMeta.emulationVersion")),
        AGE,
    ),
    _leasecandidate_row,
)


def _priorityclass_row(obj: Obj, now: datetime) -> list[Cell]:
    return [
        name_of(obj),
        int(obj.get("value") or 0),
        bool(obj.get("globalDefault")),
        age(obj, now),
        str(obj.get("preemptionPolicy") or ""),
    ]


_PC = "scheduling/v1.PriorityClass."
PRIORITYCLASS = Printer(
    (
        NAME,
        col("Value", "integer", doc(_PC + "value")),
        col("Global-Default", "boolean", doc(_PC + "globalDefault")),
        AGE,
        col("PreemptionPolicy", "string", doc(_PC + "preemptionPolicy")),
    ),
    _priorityclass_row,
)


def _runtimeclass_row(obj: Obj, now: datetime) -> list[Cell]:
    return [name_of(obj), str(obj.get("handler") or ""), age(obj, now)]


RUNTIMECLASS = Printer(
    (NAME, col("Handler", "string", doc("meta/v1.ObjectMeta.handler")), AGE), _runtimeclass_row
)


def _pdb_row(obj: Obj, now: datetime) -> list[Cell]:
    spec = sub(obj, "spec")
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    return [
        name_of(obj),
        "N/A" if min_available is None else int_or_string(min_available),
        "N/A" if max_unavailable is None else int_or_string(max_unavailable),
        int(sub(obj, "status").get("disruptionsAllowed") or 0),
        age(obj, now),
    ]


PODDISRUPTIONBUDGET = Printer(
    (
        NAME,
        col("Min Available", "string", "The minimum number of pods that must be available."),
        col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
        col(
            "Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."
        ),
        AGE,
    ),
    _pdb_row,
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


def _csr_row(obj: Obj, now: datetime) -> list[Cell]:
    spec = sub(obj, "spec")
    expiration = spec.get("expirationSeconds")
    return [
        name_of(obj),
        age(obj, now),
        spec.get("signerName") or "<none>",
        str(spec.get("username") or ""),
        "<none>" if expiration is None else human_duration(int(expiration)),
        csr_condition(obj),
    ]


_CSR = "certificates/v1beta1.CertificateSigningRequest"
CERTIFICATESIGNINGREQUEST = Printer(
    (
        NAME,
        AGE,
        col("SignerName", "string", doc(_CSR + "Spec.signerName")),
        col("Requestor", "string", doc(_CSR + "Spec.request")),
        col("RequestedDuration", "string", doc(_CSR + "Spec.expirationSeconds")),
        col("Condition", "string", doc(_CSR + "Status.conditions")),
    ),
    _csr_row,
)


def _clustertrustbundle_row(obj: Obj, now: datetime) -> list[Cell]:
    return [name_of(obj), sub(obj, "spec").get("signerName") or "<none>"]


CLUSTERTRUSTBUNDLE = Printer(
    (NAME, col("SignerName", "string", doc("certificates/v1alpha1.ClusterTrustBundleSpec.signerName"))),
    _clustertrustbundle_row,
)
