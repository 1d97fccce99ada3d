"""Service-account tokens: JWS, claims, authentication checks, TokenRequest, impersonation."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from multidict import CIMultiDict

from pocketkube.api.scheme import SCHEME
from pocketkube.apiserver import jws, token_request
from pocketkube.apiserver.auth import AuthorizerChain, has_impersonation, impersonate
from pocketkube.apiserver.context import RequestContext, UserInfo
from pocketkube.apiserver.rbac import RBACAuthorizer, StaticSource
from pocketkube.apiserver.tokens import ISSUER, ServiceAccountTokens, TokenConfig
from pocketkube.apiserver.watchcache import Entry, WatchCache
from pocketkube.machinery import errors

Obj = dict[str, Any]
NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = NOW

    def __call__(self) -> float:
        return self.t


class FixedStore:
    async def current_revision(self) -> int:
        return 0


def make_cache() -> WatchCache:
    prefixes = {SCHEME.get("", "v1", p).key_prefix for p in ("serviceaccounts", "pods", "secrets", "nodes")}  # type: ignore[union-attr]
    return WatchCache(FixedStore(), prefixes)  # type: ignore[arg-type]


def put(cache: WatchCache, plural: str, obj: Obj) -> Obj:
    r = SCHEME.get("", "v1", plural)
    assert r is not None
    key = r.object_key(obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
    cache.cache(r.key_prefix).entries[key] = Entry(key, obj, 1)
    return obj


def drop(cache: WatchCache, plural: str, ns: str, name: str) -> None:
    r = SCHEME.get("", "v1", plural)
    assert r is not None
    del cache.cache(r.key_prefix).entries[r.object_key(ns, name)]


def obj(name: str, uid: str, ns: str = "dev", **extra: Any) -> Obj:
    meta: Obj = {"name": name, "uid": uid}
    if ns:
        meta["namespace"] = ns
    return {"metadata": meta, **extra}


@pytest.fixture
def env(tmp_path: Path) -> tuple[ServiceAccountTokens, WatchCache, Clock]:
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "sa.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    (tmp_path / "sa.pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    cache, clock = make_cache(), Clock()
    tokens = ServiceAccountTokens(cache, TokenConfig(signing_key_file=str(tmp_path / "sa.key"),
                                                     key_files=[str(tmp_path / "sa.pub")]), clock)
    put(cache, "serviceaccounts", obj("default", "sa-uid"))
    return tokens, cache, clock


# ---------------------------------------------------------------------------- JWS
def test_jws_round_trip_and_rejections() -> None:
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    token = jws.sign(key, {"sub": "x", "a": 1})
    header = orjson.loads(jws.unb64url(token.split(".")[0]))
    assert header == {"alg": "ES256", "kid": jws.key_id(key.public_key())}
    assert jws.verify(token, [other.public_key(), key.public_key()]) == {"a": 1, "sub": "x"}
    with pytest.raises(jws.InvalidToken):
        jws.verify(token, [other.public_key()])
    h, p, s = token.split(".")
    tampered = jws.b64url(orjson.dumps({"sub": "root", "a": 1}))
    with pytest.raises(jws.InvalidToken):
        jws.verify(f"{h}.{tampered}.{s}", [key.public_key()])
    none_header = jws.b64url(orjson.dumps({"alg": "none"}))
    with pytest.raises(jws.InvalidToken, match="algorithm"):
        jws.verify(f"{none_header}.{p}.", [key.public_key()])
    with pytest.raises(jws.InvalidToken):
        jws.verify("not-a-token", [key.public_key()])


def test_load_public_keys_from_private_key_and_cert(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    (tmp_path / "k").write_bytes(pem)
    assert [jws.key_id(k) for k in jws.load_public_keys(tmp_path / "k")] == [jws.key_id(key.public_key())]


# ---------------------------------------------------------------------------- authentication
def issue(tokens: ServiceAccountTokens, cache: WatchCache, audiences: list[str] | None = None,
          pod: Obj | None = None, node: Obj | None = None) -> str:
    sa = cache.cache(SCHEME.get("", "v1", "serviceaccounts").key_prefix).entries[  # type: ignore[union-attr]
        "/registry/core/serviceaccounts/dev/default"].obj
    return tokens.sign(tokens.claims(sa, audiences or [ISSUER], 3600, pod=pod, node=node))


async def test_valid_token_authenticates(env: tuple[ServiceAccountTokens, WatchCache, Clock]) -> None:
    tokens, cache, _ = env
    token = issue(tokens, cache)
    claims = orjson.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["iss"] == ISSUER and claims["aud"] == [ISSUER]
    assert claims["sub"] == "system:serviceaccount:dev:default"
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"] == int(NOW)
    assert claims["kubernetes.io"] == {"namespace": "dev", "serviceaccount": {"name": "default", "uid": "sa-uid"}}
    user = await tokens.authenticate(token)
    assert user == UserInfo("system:serviceaccount:dev:default",
                            ("system:serviceaccounts", "system:serviceaccounts:dev", "system:authenticated"),
                            "sa-uid", {"authentication.kubernetes.io/credential-id": [f"JTI={claims['jti']}"]})


async def test_expiry_audience_and_foreign_tokens(env: tuple[ServiceAccountTokens, WatchCache, Clock]) -> None:
    tokens, cache, clock = env
    token = issue(tokens, cache)
    clock.t = NOW + 3600 + 59  # within go-jose's one minute of leeway
    assert await tokens.authenticate(token) is not None
    clock.t = NOW + 3600 + 61
    assert tokens.review(token, []) == (None, [], "service account token has expired")
    clock.t = NOW
    other = issue(tokens, cache, ["https://vault"])
    user, _, err = tokens.review(other, [])
    assert user is None and err == ('token audiences ["https://vault"] is invalid for the target audiences '
                                    '["https://kubernetes.default.svc.cluster.local"]')
    assert tokens.review(other, ["x", "https://vault"])[1] == ["https://vault"]
    foreign = jws.sign(ec.generate_private_key(ec.SECP256R1()), {"iss": ISSUER, "sub": "x"})
    assert tokens.review(foreign, []) == (None, [], "invalid signature")
    assert tokens.review(jws.sign(tokens.signing_key, {"iss": "someone-else"}), []) == (None, [], "")
    assert await tokens.authenticate("opaque-token") is None


async def test_deleted_or_recreated_service_account(env: tuple[ServiceAccountTokens, WatchCache, Clock]) -> None:
    tokens, cache, _ = env
    token = issue(tokens, cache)
    drop(cache, "serviceaccounts", "dev", "default")
    assert tokens.review(token, [])[2] == "service account dev/default has been deleted"
    put(cache, "serviceaccounts", obj("default", "new-uid"))
    assert tokens.review(token, [])[2] == "service account UID (new-uid) does not match claim (sa-uid)"


async def test_pod_bound_token(env: tuple[ServiceAccountTokens, WatchCache, Clock]) -> None:
    tokens, cache, _ = env
    pod = put(cache, "pods", obj("web", "pod-uid", spec={"serviceAccountName": "default", "nodeName": "n1"}))
    node = put(cache, "nodes", obj("n1", "node-uid", ns=""))
    token = issue(tokens, cache, pod=pod, node=node)
    user = await tokens.authenticate(token)
    assert user is not None
    assert {k: v for k, v in user.extra.items() if "credential-id" not in k} == {
        "authentication.kubernetes.io/pod-name": ["web"], "authentication.kubernetes.io/pod-uid": ["pod-uid"],
        "authentication.kubernetes.io/node-name": ["n1"], "authentication.kubernetes.io/node-uid": ["node-uid"]}
    drop(cache, "nodes", "", "n1")  # informational for pod-bound tokens
    assert await tokens.authenticate(token) is not None
    drop(cache, "pods", "dev", "web")
    assert tokens.review(token, [])[2] == "pod dev/web has been deleted"


# ---------------------------------------------------------------------------- TokenRequest
async def test_token_request_defaults(env: tuple[ServiceAccountTokens, WatchCache, Clock]) -> None:
    tokens, _, _ = env
    ctx = RequestContext()
    out = await token_request.create(tokens, "dev", "default", {"apiVersion": "authentication.k8s.io/v1",
                                                                 "kind": "TokenRequest", "spec": {}}, ctx)
    assert out["kind"] == "TokenRequest" and out["metadata"]["name"] == "default"
    assert out["spec"] == {"audiences": [ISSUER], "expirationSeconds": 3600, "boundObjectRef": None}
    assert out["status"]["expirationTimestamp"] == "2027-01-15T09:00:00Z"
    assert await tokens.authenticate(out["status"]["token"]) is not None


@pytest.mark.parametrize(("name", "body", "code", "message"), [
    ("default", {"spec": {"expirationSeconds": 599}}, 422,
     'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 599: '
     "may not specify a duration less than 10 minutes"),
    ("default", {"metadata": {"name": "other"}, "spec": {}}, 422,
     'TokenRequest.authentication.k8s.io "default" is invalid: metadata.name: Invalid value: "other": '
     "must match the service account name if specified"),
    ("nobody", {"spec": {}}, 404, 'serviceaccounts "nobody" not found'),
    ("default", {"spec": {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "c"}}}, 400,
     "cannot bind token to object of type /v1, Kind=ConfigMap"),
    ("default", {"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "nope"}}}, 404,
     'pods "nope" not found'),
    ("default", {"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "other-sa"}}}, 400,
     'cannot bind token for serviceaccount "default" to pod running with different serviceaccount name.'),
    ("default", {"spec": {"boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "s", "uid": "x"}}}, 409,
     'Operation cannot be fulfilled on Secret "s": the UID in the bound object reference (x) does not match the '
     "UID in record. The object might have been deleted and then recreated"),
])
async def test_token_request_errors(env: tuple[ServiceAccountTokens, WatchCache, Clock], name: str, body: Obj,
                                    code: int, message: str) -> None:
    tokens, cache, _ = env
    put(cache, "pods", obj("other-sa", "p", spec={"serviceAccountName": "builder"}))
    put(cache, "secrets", obj("s", "secret-uid"))
    with pytest.raises(errors.StatusError) as e:
        await token_request.create(tokens, "dev", name, body, RequestContext())
    assert (e.value.code, e.value.message) == (code, message)


async def test_kubelet_projected_token_is_extended(env: tuple[ServiceAccountTokens, WatchCache, Clock]) -> None:
    tokens, cache, _ = env
    put(cache, "pods", obj("web", "pod-uid", spec={"serviceAccountName": "default"}))
    body = {"spec": {"expirationSeconds": 3607, "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web"}}}
    out = await token_request.create(tokens, "dev", "default", body, RequestContext())
    claims = jws.unverified_claims(out["status"]["token"])
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600
    assert claims["kubernetes.io"]["warnafter"] == int(NOW) + 3607
    assert claims["kubernetes.io"]["pod"] == {"name": "web", "uid": "pod-uid"}


# ---------------------------------------------------------------------------- impersonation
class FakeRequest:
    def __init__(self, **headers: str | list[str]) -> None:
        self.headers: CIMultiDict[str] = CIMultiDict()
        for k, v in headers.items():
            for item in v if isinstance(v, list) else [v]:
                self.headers.add(k.replace("_", "-"), item)


def chain(*objects: Obj) -> AuthorizerChain:
    return AuthorizerChain([RBACAuthorizer(StaticSource(list(objects)))])


IMPERSONATOR = [
    {"kind": "ClusterRole", "metadata": {"name": "imp"}, "rules": [
        {"verbs": ["impersonate"], "apiGroups": [""], "resources": ["users", "groups"]},
        {"verbs": ["impersonate"], "apiGroups": ["authentication.k8s.io"], "resources": ["userextras/scopes"]}]},
    {"kind": "ClusterRoleBinding", "metadata": {"name": "imp"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "imp"},
     "subjects": [{"kind": "User", "name": "alice"}]},
]


async def test_impersonation() -> None:
    alice = UserInfo("alice", ("system:authenticated",))
    req = FakeRequest(Impersonate_User="bob", Impersonate_Group=["g1", "g2"], Impersonate_Extra_Scopes="view")
    assert has_impersonation(req) and not has_impersonation(FakeRequest())  # type: ignore[arg-type]
    user = await impersonate(req, alice, chain(*IMPERSONATOR))  # type: ignore[arg-type]
    assert user == UserInfo("bob", ("g1", "g2", "system:authenticated"), "", {"scopes": ["view"]})
    sa = await impersonate(FakeRequest(Impersonate_User="system:serviceaccount:dev:x"),  # type: ignore[arg-type]
                           UserInfo("root", ("system:masters",)), chain())
    assert sa.groups == ("system:serviceaccounts", "system:serviceaccounts:dev", "system:authenticated")
    with pytest.raises(errors.StatusError) as e:
        await impersonate(FakeRequest(Impersonate_User="bob"), UserInfo("carol"), chain(*IMPERSONATOR))  # type: ignore[arg-type]
    assert (e.value.code, e.value.message) == (403, 'users "bob" is forbidden: User "carol" cannot impersonate '
                                                    'resource "users" in API group "" at the cluster scope')
    with pytest.raises(errors.StatusError) as e:
        await impersonate(FakeRequest(Impersonate_User="system:serviceaccount:dev:x"),  # type: ignore[arg-type]
                          alice, chain(*IMPERSONATOR))
    assert e.value.message == ('serviceaccounts "x" is forbidden: User "alice" cannot impersonate resource '
                               '"serviceaccounts" in API group "" in the namespace "dev"')
    with pytest.raises(errors.StatusError) as e:
        await impersonate(FakeRequest(Impersonate_Group="g"), alice, chain(*IMPERSONATOR))  # type: ignore[arg-type]
    assert e.value.code == 500 and "without impersonating a user" in e.value.message
