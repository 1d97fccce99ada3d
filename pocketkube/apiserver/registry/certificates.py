"""certificates.k8s.io/v1 strategy: CertificateSigningRequest (main, /status and /approval).

Theory of operation: a CSR carries a PEM "CERTIFICATE REQUEST" with a valid
signature, at least one known key usage (no duplicates), a signer name of the
form example.com/name (the legacy "kubernetes.io/legacy-unknown" is refused in
v1) and an expiration of at least ten minutes. The requester identity
(username, uid, groups, extra) is stamped by the apiserver on create:
`set_requester` does that and needs the authenticated user, which strategies
do not see, so the store calls it. The spec never changes after create; the
main resource cannot change status; /status may not add or remove
Approved/Denied conditions (they are preserved) and /approval may not change
the certificate. Condition timestamps are filled from the strategy's clock.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pocketkube.apiserver.registry import govalue
from pocketkube.apiserver.strategy import Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import names

Obj = dict[str, Any]

USAGES = sorted((
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement", "data encipherment",
    "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth", "client auth", "code signing",
    "email protection", "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
    "microsoft sgc", "netscape sgc"))
LEGACY_SIGNER = "kubernetes.io/legacy-unknown"
SIGNER_FORM = "must be a fully qualified domain and path of the form 'example.com/signer-name'"
APPROVAL_TYPES = ("Approved", "Denied")


def _pem(data: Any) -> bytes:
    try:
        return base64.b64decode(data or "")
    except (ValueError, TypeError):
        return b""


def request_problem(request_b64: Any) -> str:
    """ParseCSR + CheckSignature: "" when the request is a valid, self-signed CSR."""
    raw = _pem(request_b64)
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in raw:
        return "PEM block type must be CERTIFICATE REQUEST"
    try:
        from cryptography import x509  # only CSRs need it: keep ~7 MB out of an idle apiserver

        csr = x509.load_pem_x509_csr(raw)
    except ValueError as e:
        return f"x509: {e}"
    return "" if csr.is_signature_valid else "x509: ECDSA verification failure"


def signer_name_errors(signer: str, path: str) -> list[FieldError]:
    if not signer:
        return [errors.required(path)]
    segments = signer.split("/")
    if len(segments) != 2:
        return [errors.invalid(path, signer, SIGNER_FORM)]
    domain, rest = segments
    errs: list[FieldError] = []
    if len(domain) > names.DNS1123_SUBDOMAIN_MAX:
        errs.append(errors.too_long(path, names.DNS1123_SUBDOMAIN_MAX))
    labels = domain.split(".")
    for lbl in labels:
        problems = names.dns1123_label_problems(lbl)
        if problems:
            errs += [errors.invalid(path, domain, f'validating label "{lbl}": {m}') for m in problems]
            break
    if len(labels) < 2:
        errs.append(errors.invalid(path, domain, "should be a domain with at least two segments separated by dots"))
    if not rest:
        errs.append(errors.invalid(path, signer, SIGNER_FORM))
    else:
        errs += [errors.invalid(path, rest, m) for m in names.dns1123_subdomain_problems(rest.lower())]
    return errs


def _conditions(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    conds = (obj.get("status") or {}).get("conditions") or []
    for i, c in enumerate(conds):
        p = f"status.conditions[{i}]"
        ctype, status = c.get("type", ""), c.get("status", "")
        if not ctype:
            errs.append(errors.required(f"{p}.type"))
        if (ctype in APPROVAL_TYPES and status != "True") or status not in ("True", "False", "Unknown"):
            errs.append(errors.not_supported(f"{p}.status", status, ["True"]))
        if ctype in seen:
            errs.append(errors.duplicate(f"{p}.type", ctype))
        seen.add(ctype)
    if "Approved" in seen and "Denied" in seen:
        errs.append(errors.invalid("status.conditions", govalue.go_struct("[]certificates.CertificateSigningRequestCondition",
                                                                         conds), "only one of Approved or Denied is allowed"))
    return errs


def _certificate(obj: Obj) -> list[FieldError]:
    cert = (obj.get("status") or {}).get("certificate")
    if not cert:
        return []
    raw = _pem(cert)
    try:
        from cryptography import x509

        x509.load_pem_x509_certificates(raw)
    except ValueError:
        return [errors.invalid("status.certificate", "<certificate data>", "must contain at least one CERTIFICATE PEM block")]
    return []


def validate_csr(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    problem = request_problem(spec.get("request"))
    if problem:
        errs.append(errors.invalid("spec.request", govalue.GoValue("[]byte{...}"), problem))
    usages = spec.get("usages") or []
    if not usages:
        errs.append(errors.required("spec.usages"))
    errs += [errors.not_supported(f"spec.usages[{i}]", u, USAGES) for i, u in enumerate(usages) if u not in USAGES]
    errs += [errors.duplicate(f"spec.usages[{i}]", u) for i, u in enumerate(usages) if u in usages[:i]]
    signer = spec.get("signerName", "")
    if signer == LEGACY_SIGNER:
        errs.append(errors.invalid("spec.signerName", signer, "the legacy signerName is not allowed via this API version"))
    else:
        errs += signer_name_errors(signer, "spec.signerName")
    exp = spec.get("expirationSeconds")
    if exp is not None and exp < 600:
        errs.append(errors.invalid("spec.expirationSeconds", exp, "may not specify a duration less than 600 seconds (10 minutes)"))
    return errs + _conditions(obj) + _certificate(obj)


def set_requester(obj: Obj, username: str, uid: str, groups: list[str], extra: dict[str, list[str]]) -> None:
    """Stamp the creating user's identity into the spec (upstream PrepareForCreate)."""
    spec = obj.setdefault("spec", {})
    for key in ("username", "uid", "groups", "extra"):
        spec.pop(key, None)
    if username:
        spec["username"] = username
    if uid:
        spec["uid"] = uid
    if groups:
        spec["groups"] = list(groups)
    if extra:
        spec["extra"] = {k: list(v) for k, v in extra.items()}


def _conditions_of(obj: Obj, ctype: str) -> list[Obj]:
    return [c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == ctype]


class CertificateSigningRequestStrategy(Strategy):
    tracks_generation = False
    name_rule = "path-segment"
    selectable_fields = ("spec.signerName",)

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_csr(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        new["spec"] = copy.deepcopy(old.get("spec") or {})
        super().prepare_for_update(new, old)

    def _timestamps(self, new: Obj, old: Obj) -> None:
        now = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        old_by_type = {c.get("type"): c for c in (old.get("status") or {}).get("conditions") or []}
        for c in (new.get("status") or {}).get("conditions") or []:
            c.setdefault("lastUpdateTime", now)
            prev = old_by_type.get(c.get("type"))
            if "lastTransitionTime" not in c:
                same = prev is not None and prev.get("status") == c.get("status") and prev.get("lastTransitionTime")
                c["lastTransitionTime"] = prev["lastTransitionTime"] if same and prev else now

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        conds = [c for c in (new.get("status") or {}).get("conditions") or [] if c.get("type") not in APPROVAL_TYPES]
        kept = [c for t in APPROVAL_TYPES for c in _conditions_of(old, t)]
        if conds or kept:
            new.setdefault("status", {})["conditions"] = kept + conds
        self._timestamps(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = validate_csr(new)
        old_cert = (old.get("status") or {}).get("certificate")
        if old_cert and (new.get("status") or {}).get("certificate") != old_cert:
            errs.append(errors.forbidden("status.certificate", "updates may not modify existing certificate content"))
        return errs

    def prepare_for_approval_update(self, new: Obj, old: Obj) -> None:
        """The /approval subresource: only conditions change; the certificate is kept."""
        super().prepare_for_status_update(new, old)
        status = new.setdefault("status", {})
        if (old.get("status") or {}).get("certificate"):
            status["certificate"] = old["status"]["certificate"]
        else:
            status.pop("certificate", None)
        self._timestamps(new, old)

    def validate_approval_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = validate_csr(new)
        for ctype in APPROVAL_TYPES:
            if _conditions_of(old, ctype) and not _conditions_of(new, ctype):
                errs.append(errors.forbidden("status.conditions", f'updates may not remove a condition of type "{ctype}"'))
        return errs


STRATEGIES: dict[str, Strategy] = {"CertificateSigningRequest": CertificateSigningRequestStrategy()}
