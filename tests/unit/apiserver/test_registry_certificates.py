"""certificates.k8s.io/v1 CertificateSigningRequest strategy."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pocketkube.apiserver.registry import certificates

FIXED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
CSR = certificates.CertificateSigningRequestStrategy(clock=lambda: FIXED)


@pytest.fixture(scope="module")
def request_b64() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")])).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def csr(request: str, **spec: Any) -> dict[str, Any]:
    obj = {"metadata": {"name": "alice"},
           "spec": {"request": request, "signerName": "kubernetes.io/kube-apiserver-client",
                    "usages": ["client auth"], **spec}}
    CSR.prepare_for_create(obj)
    return obj


def msgs(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def test_valid_csr_and_requester(request_b64: str) -> None:
    obj = csr(request_b64, expirationSeconds=3600)
    certificates.set_requester(obj, "alice", "uid-1", ["system:authenticated"], {})
    assert obj["spec"]["username"] == "alice" and obj["spec"]["groups"] == ["system:authenticated"]
    assert obj["status"] == {} and "generation" not in obj["metadata"]
    assert msgs(CSR.validate(obj)) == []
    assert CSR.field_value(obj, "spec.signerName") == "kubernetes.io/kube-apiserver-client"


def test_csr_errors(request_b64: str) -> None:
    bad = csr(base64.b64encode(b"nope").decode(), usages=["client auth", "client auth", "flying"],
              signerName="kubernetes.io/legacy-unknown", expirationSeconds=60)
    assert msgs(CSR.validate(bad)) == [
        "spec.request: Invalid value: []byte{...}: PEM block type must be CERTIFICATE REQUEST",
        'spec.usages[2]: Unsupported value: "flying": supported values: ' + ", ".join(f'"{u}"' for u in certificates.USAGES),
        'spec.usages[1]: Duplicate value: "client auth"',
        'spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not allowed via '
        "this API version",
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)",
    ]
    assert msgs(CSR.validate(csr(request_b64, signerName="example"))) == [
        "spec.signerName: Invalid value: \"example\": must be a fully qualified domain and path of the form "
        "'example.com/signer-name'"]


def test_spec_is_frozen_and_approval_conditions_survive_status_updates(request_b64: str) -> None:
    old = csr(request_b64)
    approved = copy.deepcopy(old)
    approved["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "OK"}]}
    CSR.prepare_for_approval_update(approved, old)
    cond = approved["status"]["conditions"][0]
    assert cond["lastUpdateTime"] == "2025-01-02T03:04:05Z" and cond["lastTransitionTime"] == "2025-01-02T03:04:05Z"
    assert msgs(CSR.validate_approval_update(approved, old)) == []
    edited = copy.deepcopy(approved)
    edited["spec"]["usages"] = ["server auth"]
    CSR.prepare_for_update(edited, approved)
    assert edited["spec"] == approved["spec"]
    signed = copy.deepcopy(approved)
    signed["status"] = {"certificate": "", "conditions": []}
    CSR.prepare_for_status_update(signed, approved)
    assert [c["type"] for c in signed["status"]["conditions"]] == ["Approved"]
    both = copy.deepcopy(approved)
    both["status"]["conditions"].append({"type": "Denied", "status": "True"})
    assert msgs(CSR.validate_approval_update(both, approved))[-1].endswith("only one of Approved or Denied is allowed")
