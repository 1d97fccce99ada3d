"""The per-profile PKI: a cluster CA, the apiserver serving certificate, client certificates.

Theory of operation: everything is ECDSA P-256 (fast to generate, accepted by
kubectl/client-go and Python's ssl). The CA is created once per profile and
signs the apiserver's serving certificate (SANs for every name a client or pod
uses: 127.0.0.1, localhost, 10.96.0.1, kubernetes.default.svc...), the admin
client certificate (O=system:masters, like kubeadm's kubernetes-admin) and the
certificates of the cluster's own components. Private keys are written 0600,
the folder 0700. Existing files are reused, so a restart keeps its identity.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
CERT_DAYS = 365
SERVING_DNS = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
               "kubernetes.default.svc.cluster.local")
SERVING_IPS = ("127.0.0.1", "10.96.0.1", "::1")
# Client identities of the cluster's own components (the names upstream's RBAC bootstrap policy knows).
COMPONENT_IDENTITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "controller-manager": ("system:kube-controller-manager", ()),
    "scheduler": ("system:kube-scheduler", ()),
    # One identity for the process that hosts every simulated node (bound to ClusterRole system:node).
    "node-agent": ("system:node-agent", ("system:nodes",)),
    # The apiserver's client identity towards node agents (logs, exec, port-forward), as kubeadm's.
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", ("system:masters",)),
}


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path

    def cert_pem(self) -> bytes:
        return self.cert.read_bytes()

    def key_pem(self) -> bytes:
        return self.key.read_bytes()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(fd, 0o600)  # the mode above applies only to a new file; an old key may have been readable
        f.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.chmod(0o644)


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


class PKI:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca = CertPair(directory / "ca.crt", directory / "ca.key")

    def ensure(self, extra_ips: tuple[str, ...] = ()) -> None:
        """Create whatever is missing: CA, serving cert, admin cert, service-account key."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        if not (self.ca.cert.exists() and self.ca.key.exists()):
            self._create_ca()
        serving = self.pair("apiserver")
        if not serving.cert.exists():
            self.issue("apiserver", "kube-apiserver", (), server=True, ips=SERVING_IPS + extra_ips)
        if not self.pair("admin").cert.exists():
            self.issue("admin", "kubernetes-admin", ("system:masters",))
        for name, (cn, orgs) in COMPONENT_IDENTITIES.items():
            if not self.pair(name).cert.exists():
                self.issue(name, cn, orgs)
        if not self.pair("node-agent-serving").cert.exists():
            self.issue("node-agent-serving", "system:node-agent", ("system:nodes",), server=True,
                       ips=("127.0.0.1", "::1"), dns=("localhost",))
        sa = self.dir / "sa.key"
        if not sa.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            _write_key(sa, key)
            (self.dir / "sa.pub").write_bytes(key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def pair(self, name: str) -> CertPair:
        return CertPair(self.dir / f"{name}.crt", self.dir / f"{name}.key")

    def _create_ca(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pocketkube-ca")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(_now() - datetime.timedelta(minutes=5))
                .not_valid_after(_now() + datetime.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        _write_key(self.ca.key, key)
        _write_cert(self.ca.cert, cert)

    def issue(self, name: str, common_name: str, orgs: tuple[str, ...], *, server: bool = False,
              ips: tuple[str, ...] = (), dns: tuple[str, ...] = SERVING_DNS) -> CertPair:
        ca_key = _load_key(self.ca.key)
        ca_cert = x509.load_pem_x509_certificate(self.ca.cert.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(ca_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(_now() - datetime.timedelta(minutes=5))
                   .not_valid_after(_now() + datetime.timedelta(days=CERT_DAYS))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        if server:
            sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
            sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in dict.fromkeys(ips)]
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        pair = self.pair(name)
        _write_key(pair.key, key)
        _write_cert(pair.cert, cert)
        return pair
