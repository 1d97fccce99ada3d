"""Protobuf request-body decoder: real kubectl 1.32 bodies plus small hand-built ones.

The fixtures in tests/fixtures/protobuf are the captures of kubectl 1.32 against a
logging server (see shared reference protobuf-captures/README.md): every body that
has an `expected/<label>.json` (kubectl's `--dry-run=client -o json` for the same
command) must decode to exactly that JSON, key order included.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from pocketkube.api import protobuf as pb

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "protobuf"
PROTOBUF = "application/vnd.kubernetes.protobuf"


def _requests() -> list[dict[str, Any]]:
    lines = (FIXTURES / "requests.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("file")]


REQUESTS = _requests()
PB_REQUESTS = [r for r in REQUESTS if r["ctype"] == PROTOBUF]
WITH_EXPECTED = [r for r in PB_REQUESTS if (FIXTURES / "expected" / f"{r['label']}.json").exists()]
WITHOUT_EXPECTED = [r for r in PB_REQUESTS if r not in WITH_EXPECTED]

# Bodies with no dry-run counterpart: the typeMeta each must carry (from the command and path).
KIND_OF = {
    "token": ("authentication.k8s.io/v1", "TokenRequest"),
    "token_full": ("authentication.k8s.io/v1", "TokenRequest"),
    "cani_pods": ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    "cani_sub": ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    "cani_name": ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    "cani_all": ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    "cani_nonres": ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    "cani_list": ("authorization.k8s.io/v1", "SelfSubjectRulesReview"),
    "whoami": ("authentication.k8s.io/v1", "SelfSubjectReview"),
    "whoami_json": ("authentication.k8s.io/v1", "SelfSubjectReview"),
    "drain": ("v1", "DeleteOptions"),
    "drain_grace": ("v1", "DeleteOptions"),
    "drain_dry": ("v1", "DeleteOptions"),
    "cert_approve": ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    "cert_deny": ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    "cert_rich": ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    "debug_node": ("v1", "Pod"),
    "debug_copy": ("v1", "Pod"),
    "debug_copy_set": ("v1", "Pod"),
    "dryrun_server": ("v1", "ConfigMap"),
}


def body(label: str) -> bytes:
    (req,) = [r for r in REQUESTS if r["label"] == label]
    return (FIXTURES / req["file"]).read_bytes()


def obj(label: str) -> dict[str, Any]:
    return pb.decode(body(label))[2]


# -- a tiny encoder for hand-built bodies --------------------------------------------------------

def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out) + bytes([n])


def num(field: int, n: int) -> bytes:
    return varint(field << 3) + varint(n)


def ld(field: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(field << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes | None) -> bytes:
    type_meta = ld(1, ld(1, api_version) + ld(2, kind))
    return pb.MAGIC + type_meta + (ld(2, raw) if raw is not None else b"") + ld(3, b"") + ld(4, b"")


def meta(name: str) -> bytes:
    return ld(1, ld(1, name))


# -- captured bodies -----------------------------------------------------------------------------

@pytest.mark.parametrize("req", WITH_EXPECTED, ids=lambda r: r["label"])
def test_captured_body_equals_dry_run_json(req: dict[str, Any]) -> None:
    expected = json.loads((FIXTURES / "expected" / f"{req['label']}.json").read_text())
    api_version, kind, got = pb.decode((FIXTURES / req["file"]).read_bytes())
    assert (api_version, kind) == (expected["apiVersion"], expected["kind"])
    assert got == expected
    assert list(got) == list(expected)  # key order too: Go struct order
    assert json.dumps(got) == json.dumps(expected)


def test_every_dry_run_file_has_a_body() -> None:
    labels = {p.stem for p in (FIXTURES / "expected").glob("*.json")}
    assert labels == {r["label"] for r in WITH_EXPECTED}
    assert len(labels) == 37


@pytest.mark.parametrize("req", WITHOUT_EXPECTED, ids=lambda r: r["label"])
def test_captured_body_decodes_to_its_kind(req: dict[str, Any]) -> None:
    api_version, kind, got = pb.decode((FIXTURES / req["file"]).read_bytes())
    assert (api_version, kind) == KIND_OF[req["label"]]
    assert (got["apiVersion"], got["kind"]) == (api_version, kind)
    assert list(got)[:2] == ["kind", "apiVersion"]


def test_json_bodies_in_the_capture_are_not_protobuf() -> None:
    json_requests = [r for r in REQUESTS if r["ctype"] != PROTOBUF]
    assert {r["label"] for r in json_requests} >= {"delete_cm", "create_f"}
    for req in json_requests:
        with pytest.raises(pb.ProtobufError, match="does not appear to be a protobuf message"):
            pb.decode((FIXTURES / req["file"]).read_bytes())


def test_drain_delete_options() -> None:
    assert obj("drain") == {"kind": "DeleteOptions", "apiVersion": "v1"}  # zero-length raw
    assert obj("drain_grace") == {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 7}
    assert obj("drain_dry") == {"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]}


def test_token_request_non_omitempty_pointers_are_null() -> None:
    assert obj("token")["spec"] == {"audiences": None, "expirationSeconds": None, "boundObjectRef": None}
    spec = obj("token_full")["spec"]
    assert spec["audiences"] == ["aud1", "aud2"] and spec["expirationSeconds"] == 3600
    assert spec["boundObjectRef"]["uid"] == "0d4f8f6a-1111-2222-3333-444455556666"  # .proto says uID


def test_reviews() -> None:
    assert obj("cani_sub")["spec"] == {"resourceAttributes": {
        "namespace": "kube-system", "verb": "update", "group": "apps", "resource": "deployments",
        "subresource": "scale"}}
    assert obj("cani_nonres")["spec"] == {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}
    assert obj("cani_list")["status"] == {"resourceRules": None, "nonResourceRules": None, "incomplete": False}
    assert obj("whoami") == {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                             "metadata": {"creationTimestamp": None}, "status": {"userInfo": {}}}


def test_csr_approval_put() -> None:
    csr = obj("cert_rich")
    assert base64.b64decode(csr["spec"]["request"]).startswith(b"-----BEGIN CERTIFICATE REQUEST")
    assert csr["spec"]["extra"] == {"authentication.kubernetes.io/credential-id": ["X509SHA256=abc"],
                                    "scopes": ["a", "b"]}
    managed = csr["metadata"]["managedFields"][0]
    assert managed["time"] == "2025-03-04T05:06:07Z"
    assert managed["fieldsV1"] == {"f:spec": {"f:request": {}, "f:signerName": {}, "f:usages": {}}}
    assert csr["status"]["certificate"] == base64.b64encode(b"not-a-real-cert").decode()
    assert csr["status"]["conditions"][-1]["lastTransitionTime"] is None


def test_debug_copy_pod() -> None:
    spec = obj("debug_copy")["spec"]
    assert spec["securityContext"]["supplementalGroups"] == [4000, 5000]
    assert spec["volumes"][1] == {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}
    app = spec["containers"][0]
    assert app["livenessProbe"]["httpGet"]["port"] == "http"
    assert app["readinessProbe"]["tcpSocket"]["port"] == 8080
    assert app["env"][1] == {"name": "EMPTY"}
    assert app["envFrom"][0]["secretRef"] == {"name": "s1", "optional": True}
    assert spec["tolerations"][0]["tolerationSeconds"] == 300
    assert spec["automountServiceAccountToken"] is False


# -- hand-built bodies ---------------------------------------------------------------------------

def test_negative_ints() -> None:
    pc = envelope("scheduling.k8s.io/v1", "PriorityClass", meta("neg") + num(2, -5))
    assert len(varint(-5)) == 10
    assert pb.decode(pc)[2]["value"] == -5
    short = envelope("scheduling.k8s.io/v1", "PriorityClass", meta("neg") + num(2, 0xFFFFFFFB))
    assert pb.decode(short)[2]["value"] == -5  # int32 truncation of a 5-byte varint
    opts = envelope("v1", "DeleteOptions", num(1, -1))
    assert pb.decode(opts)[2] == {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": -1}


def test_packed_and_unpacked_repeated_scalars() -> None:
    packed = ld(4, varint(4000) + varint(5000)) + num(4, 6000)
    pod = envelope("v1", "Pod", meta("p") + ld(2, ld(14, packed)))
    got = pb.decode(pod)[2]
    assert got["spec"]["securityContext"] == {"supplementalGroups": [4000, 5000, 6000]}
    assert got["spec"]["containers"] is None  # not omitempty: a nil slice is null


def test_unknown_fields_are_skipped() -> None:
    plain = meta("cm") + ld(2, ld(1, "k") + ld(2, "v"))
    fixed64, fixed32 = varint(97 << 3 | 1) + b"\0" * 8, varint(109 << 3 | 5) + b"\0" * 4
    noisy = num(99, 7) + plain + ld(98, b"\x01\x02") + fixed64 + fixed32
    assert pb.decode(envelope("v1", "ConfigMap", noisy)) == pb.decode(envelope("v1", "ConfigMap", plain))


def test_zero_length_or_missing_raw_is_an_empty_object() -> None:
    for raw in (b"", None):
        assert pb.decode(envelope("apps/v1", "Deployment", raw)) == (
            "apps/v1", "Deployment", {"kind": "Deployment", "apiVersion": "apps/v1"})


def test_option_kinds_fall_back_to_meta_v1() -> None:
    for api_version in ("v1", "apps/v1", "example.com/v1"):
        got = pb.decode(envelope(api_version, "CreateOptions", ld(1, "All")))
        assert got[2] == {"kind": "CreateOptions", "apiVersion": api_version, "dryRun": ["All"]}
    assert pb.is_known("example.com/v1", "DeleteOptions")
    assert pb.is_known("events.k8s.io/v1", "Event") and pb.is_known("autoscaling/v2", "HorizontalPodAutoscaler")
    assert not pb.is_known("example.com/v1", "Widget")
    assert not pb.is_known("apps.example.com/v1", "Deployment")  # groups are matched whole


def test_go_json_zero_value_rules() -> None:
    pdb = pb.decode(envelope("policy/v1", "PodDisruptionBudget", meta("p")))[2]
    assert pdb["spec"] == {}
    assert pdb["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
    deploy = pb.decode(envelope("apps/v1", "Deployment", meta("d") + ld(2, num(1, 0))))[2]
    assert deploy["spec"]["replicas"] == 0  # a pointer keeps its zero
    assert deploy["spec"]["selector"] is None and deploy["spec"]["strategy"] == {}
    assert deploy["spec"]["template"] == {"metadata": {"creationTimestamp": None}, "spec": {"containers": None}}


def test_special_messages() -> None:
    renew = ld(4, num(1, 1741064767) + num(2, 123456789))
    lease = pb.decode(envelope("coordination.k8s.io/v1", "Lease", meta("l") + ld(2, renew + ld(3, b""))))[2]
    assert lease["spec"] == {"acquireTime": None, "renewTime": "2025-03-04T05:06:07.123456Z"}
    epoch = pb.decode(envelope("v1", "Namespace", ld(1, ld(8, num(1, 0) + num(2, 0)))))[2]
    assert epoch["metadata"]["creationTimestamp"] == "1970-01-01T00:00:00Z"
    quota_hard = ld(1, ld(1, "pods")) + ld(1, ld(1, "cpu") + ld(2, ld(1, "1500m")))
    quota = pb.decode(envelope("v1", "ResourceQuota", meta("q") + ld(2, quota_hard)))[2]
    assert quota["spec"] == {"hard": {"cpu": "1500m", "pods": "0"}}  # keys sorted, empty value is "0"
    secret = pb.decode(envelope("v1", "Secret", meta("s") + ld(2, ld(1, "b") + ld(2, b"\xff\0")) + ld(2, ld(1, "a"))))
    assert secret[2]["data"] == {"a": "", "b": "/wA="}


def test_raw_extension_json_and_nested_envelope() -> None:
    inner = envelope("v1", "ConfigMap", meta("inner"))
    for raw, want in ((b'{"a": [1]}', {"a": [1]}), (inner, pb.decode(inner)[2]), (b"", None)):
        rev = pb.decode(envelope("apps/v1", "ControllerRevision", meta("r") + ld(2, ld(1, raw)) + num(3, 2)))[2]
        assert rev["data"] == want and rev["revision"] == 2
    absent = pb.decode(envelope("apps/v1", "ControllerRevision", meta("r")))[2]
    assert absent["data"] is None and absent["revision"] == 0


def test_int_or_string() -> None:
    svc = pb.decode(envelope("v1", "Service", meta("s") + ld(2, b"".join(ld(1, num(3, 80) + ld(4, p)) for p in [
        num(1, 0) + num(2, 8080), num(1, 1) + ld(3, "web")]))))[2]
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == [8080, "web"]
    with pytest.raises(pb.ProtobufError, match="IntOrString"):
        pb.decode(envelope("v1", "Service", meta("s") + ld(2, ld(1, ld(4, num(1, 7))))))


# -- malformed input -----------------------------------------------------------------------------

@pytest.mark.parametrize("data", [b"", b"k8s", b"\x00k8s", b'{"kind":"Pod"}', b"K8S\x00" + b"\x0a\x00"])
def test_bad_magic(data: bytes) -> None:
    with pytest.raises(pb.ProtobufError, match="cannot be handled: provided data does not appear"):
        pb.decode(data)


@pytest.mark.parametrize("label", ["namespace", "deploy", "secret_tls", "cert_rich", "debug_copy"])
def test_truncated_bodies(label: str) -> None:
    data = body(label)
    type_meta_end = 4 + 2 + data[5]
    raw_size, _ = pb._varint(data, type_meta_end + 1, len(data))
    raw_end = type_meta_end + 1 + len(varint(raw_size)) + raw_size
    for cut in list(range(5, type_meta_end)) + list(range(type_meta_end + 1, raw_end)):
        with pytest.raises(pb.ProtobufError):
            pb.decode(data[:cut])


@pytest.mark.parametrize(("data", "reason"), [
    (pb.MAGIC + b"\xff\xff\xff", "unexpected EOF"),
    (pb.MAGIC + b"\x0b\x00", "illegal wireType 3"),
    (pb.MAGIC + b"\x00\x00", "illegal tag 0"),
    (pb.MAGIC + b"\x08" + b"\xff" * 10 + b"\x01", "integer overflow"),
    (pb.MAGIC + b"\x0a\x05\x0a\x02v1", "unexpected EOF"),
    (pb.MAGIC + b"\x08\x01", "wrong wireType = 0"),
    (envelope("v1", "Namespace", b"\x08\x01"), 'Namespace in version "v1" cannot be handled: proto: wrong wireType'),
    (envelope("v1", "Namespace", ld(1, num(1, 3))), "wrong wireType = 0 for field name"),
    (envelope("v1", "Pod", ld(2, ld(11, b""))), "wrong wireType = 2 for field hostNetwork"),
    (envelope("v1", "Widget", b""), 'no kind "Widget" is registered for version "v1"'),
    (envelope("apps/v1", "ControllerRevision", ld(2, ld(1, b"{oops"))), "invalid JSON"),
    (envelope("v1", "Namespace", meta("x")) + ld(3, "gzip"), "contentEncoding"),
])
def test_malformed(data: bytes, reason: str) -> None:
    with pytest.raises(pb.ProtobufError, match="cannot be handled") as info:
        pb.decode(data)
    assert reason in str(info.value)
    assert isinstance(info.value, ValueError)


def test_error_carries_type_meta_and_bare_reason() -> None:
    with pytest.raises(pb.ProtobufError) as info:
        pb.decode(envelope("apps/v1", "Deployment", b"\x0a\x05\x0a"))
    err = info.value
    assert (err.api_version, err.kind, err.reason) == ("apps/v1", "Deployment", "unexpected EOF")
    assert str(err) == 'Deployment in version "v1" cannot be handled: unexpected EOF'


def test_whole_table_loads_and_every_zero_struct_builds() -> None:
    table = pb._table()
    assert len(table) > 1000
    for msg in table.values():
        assert isinstance(pb._message(b"", [], msg), dict)
