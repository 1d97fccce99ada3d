"""pki: the per-profile CA and certificates (names, SANs, usages, file modes, reuse)."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pocketkube.cli.pki import PKI


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    p = PKI(tmp_path_factory.mktemp("profile") / "pki")
    p.ensure(extra_ips=("192.168.1.20",))
    return p


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def names(c: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in c.subject.get_attributes_for_oid(oid)]


def test_files_and_modes(pki: PKI) -> None:
    assert mode(pki.dir) == 0o700
    for name in ("ca", "apiserver", "admin", "controller-manager", "scheduler"):
        assert mode(pki.dir / f"{name}.key") == 0o600, name
        assert mode(pki.dir / f"{name}.crt") == 0o644, name
    assert mode(pki.dir / "sa.key") == 0o600
    assert (pki.dir / "sa.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")


def test_ca(pki: PKI) -> None:
    ca = cert(pki.ca.cert)
    assert names(ca, NameOID.COMMON_NAME) == ["pocketkube-ca"]
    assert ca.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)


def test_serving_certificate_sans(pki: PKI) -> None:
    c = cert(pki.pair("apiserver").cert)
    assert names(c, NameOID.COMMON_NAME) == ["kube-apiserver"]
    san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [
        "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(i) for i in (
        "127.0.0.1", "10.96.0.1", "::1", "192.168.1.20")]
    eku = c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_admin_client_certificate(pki: PKI) -> None:
    c = cert(pki.pair("admin").cert)
    assert names(c, NameOID.COMMON_NAME) == ["kubernetes-admin"]
    assert names(c, NameOID.ORGANIZATION_NAME) == ["system:masters"]
    assert list(c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        c.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_component_identities(pki: PKI) -> None:
    cm = cert(pki.pair("controller-manager").cert)
    assert names(cm, NameOID.COMMON_NAME) == ["system:kube-controller-manager"]
    assert names(cm, NameOID.ORGANIZATION_NAME) == []
    assert names(cert(pki.pair("scheduler").cert), NameOID.COMMON_NAME) == ["system:kube-scheduler"]


def test_certificates_chain_to_the_ca_and_match_their_keys(pki: PKI) -> None:
    ca = cert(pki.ca.cert)
    ca_key = ca.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey)
    for name in ("apiserver", "admin", "controller-manager", "scheduler"):
        pair = pki.pair(name)
        c = cert(pair.cert)
        assert c.issuer == ca.subject
        ca_key.verify(c.signature, c.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
        key = serialization.load_pem_private_key(pair.key_pem(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert key.public_key().public_numbers() == c.public_key().public_numbers()  # type: ignore[union-attr]
        assert pair.cert_pem() == pair.cert.read_bytes()


def test_ensure_reuses_existing_files(tmp_path: Path) -> None:
    p = PKI(tmp_path / "pki")
    p.ensure()
    before = {f.name: f.read_bytes() for f in p.dir.iterdir()}
    p.ensure()
    assert {f.name: f.read_bytes() for f in p.dir.iterdir()} == before
    (p.dir / "admin.crt").unlink()
    p.ensure()
    after = {f.name: f.read_bytes() for f in p.dir.iterdir()}
    assert after["ca.crt"] == before["ca.crt"]
    assert after["admin.crt"] != before["admin.crt"]
    assert after["apiserver.crt"] == before["apiserver.crt"]


def test_reissued_key_is_private(tmp_path: Path) -> None:
    p = PKI(tmp_path / "pki")
    p.ensure()
    (p.dir / "admin.crt").unlink()
    (p.dir / "admin.key").chmod(0o644)
    p.ensure()
    assert mode(p.dir / "admin.key") == 0o600
