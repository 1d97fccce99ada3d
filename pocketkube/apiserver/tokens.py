"""Service-account tokens: bound ES256 JWTs, issued by TokenRequest and checked on every request.

Theory of operation (upstream pkg/serviceaccount): a token is a JWT signed with
the profile's service-account key (jws.py) carrying the upstream bound-token
claims: iss, sub `system:serviceaccount:NS:NAME`, aud, iat/nbf/exp, jti, and
`kubernetes.io` {namespace, serviceaccount {name, uid}, pod?, secret?, node?,
warnafter?}. `issue` builds and signs one.

`authenticate` (registered as a bearer-token authenticator) accepts a token
when: it parses as a JWT whose issuer is one of ours, the signature verifies
with one of the configured public keys, it is within iat/nbf/exp (one minute
of leeway, as go-jose), its audiences intersect the API audiences (or the
audiences a TokenReview asks about), it has the bound-token claims, and the
service account and the bound pod/secret/node still exist with the uid in the
token (and are not being deleted for more than a minute). Every check reads the
watch cache, so deleting a service account invalidates its tokens at once. The
user is `system:serviceaccount:NS:NAME` with uid = the service account's uid,
groups system:serviceaccounts, system:serviceaccounts:NS and
system:authenticated, and extras naming the bound pod/node and the token's
JTI (`authentication.kubernetes.io/credential-id: JTI=...`).

Signature checks are memoized per token (bounded); the object checks are not.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pocketkube.api.scheme import SCHEME
from pocketkube.apiserver.context import UserInfo
from pocketkube.apiserver.watchcache import WatchCache

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

Obj = dict[str, Any]
log = logging.getLogger("pocketkube.apiserver.tokens")


def _jws() -> Any:
    """The JWS module, imported on first use: `cryptography` costs ~7 MB of memory that an apiserver
    nobody sends service-account tokens to never needs."""
    from pocketkube.apiserver import jws

    return jws

ISSUER = "https://kubernetes.default.svc.cluster.local"
LEEWAY = 60
SA_USER_PREFIX = "system:serviceaccount:"
ALL_SA_GROUP = "system:serviceaccounts"
EXTRA = "authentication.kubernetes.io/"
VERIFIED_CACHE_SIZE = 4096


class TokenError(Exception):
    """Why a token was rejected (TokenReview's status.error)."""


@dataclass
class TokenConfig:
    signing_key_file: str = ""
    key_files: list[str] = field(default_factory=list)
    issuers: list[str] = field(default_factory=lambda: [ISSUER])
    api_audiences: list[str] = field(default_factory=list)  # default: the issuers


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _go_list(values: list[str]) -> str:
    """Go's %q of a []string."""
    return "[" + " ".join(json.dumps(v) for v in values) + "]"


def _ref(obj: Obj) -> Obj:
    return {"name": obj["metadata"]["name"], "uid": obj["metadata"].get("uid", "")}


class ServiceAccountTokens:
    def __init__(self, cache: WatchCache | None, config: TokenConfig,
                 clock: Callable[[], float] = time.time) -> None:
        self.cache = cache
        self.clock = clock
        self.config = config
        self._signing_key: ec.EllipticCurvePrivateKey | None = None
        self._public_keys: list[ec.EllipticCurvePublicKey] | None = None
        if not config.signing_key_file:
            log.warning("no --service-account-signing-key-file: tokens are signed with an ephemeral key")
        self.issuers = list(config.issuers) or [ISSUER]
        self.api_audiences = list(config.api_audiences) or list(self.issuers)
        self._verified: dict[str, Obj] = {}

    @property
    def signing_key(self) -> ec.EllipticCurvePrivateKey:
        if self._signing_key is None:
            if self.config.signing_key_file:
                self._signing_key = _jws().load_private_key(self.config.signing_key_file)
            else:
                from cryptography.hazmat.primitives.asymmetric import ec

                self._signing_key = ec.generate_private_key(ec.SECP256R1())
        assert self._signing_key is not None
        return self._signing_key

    @property
    def public_keys(self) -> list[ec.EllipticCurvePublicKey]:
        if self._public_keys is None:
            keys: list[ec.EllipticCurvePublicKey] = []
            for path in self.config.key_files:
                keys += _jws().load_public_keys(path)
            if not self.config.key_files:
                keys.append(self.signing_key.public_key())
            self._public_keys = keys
        return self._public_keys

    # ------------------------------------------------------------------ lookups
    def lookup(self, plural: str, namespace: str, name: str) -> Obj | None:
        if self.cache is None:
            return None
        resource = SCHEME.get("", "v1", plural)
        assert resource is not None
        entry = self.cache.cache(resource.key_prefix).entries.get(resource.object_key(namespace, name))
        return entry.obj if entry else None

    # ------------------------------------------------------------------ issuing
    def claims(self, sa: Obj, audiences: list[str], expiration: int, *, pod: Obj | None = None,
               secret: Obj | None = None, node: Obj | None = None, warn_after: int = 0) -> Obj:
        now = int(self.clock())
        ns = sa["metadata"]["namespace"]
        k8s: Obj = {"namespace": ns, "serviceaccount": _ref(sa)}
        for key, obj in (("pod", pod), ("secret", secret), ("node", node)):
            if obj is not None:
                k8s[key] = _ref(obj)
        if warn_after:
            k8s["warnafter"] = now + warn_after
        return {"iss": self.issuers[0], "sub": f"{SA_USER_PREFIX}{ns}:{sa['metadata']['name']}",
                "aud": list(audiences), "iat": now, "nbf": now, "exp": now + expiration,
                "jti": str(uuid.uuid4()), "kubernetes.io": k8s}

    def sign(self, claims: Obj) -> str:
        return _jws().sign(self.signing_key, claims)

    # ------------------------------------------------------------------ authentication
    async def authenticate(self, token: str) -> UserInfo | None:
        user, _, _ = self.review(token, [])
        return user

    def review(self, token: str, audiences: list[str]) -> tuple[UserInfo | None, list[str], str]:
        """(user, audiences the token is good for, error); user None when the token is not valid."""
        try:
            claims = self._verified_claims(token)
        except TokenError as e:
            return None, [], str(e)
        if claims is None:
            return None, [], ""
        try:
            return self._check(claims, audiences or self.api_audiences)
        except TokenError as e:
            log.debug("service account token rejected: %s", e)
            return None, [], str(e)

    def _verified_claims(self, token: str) -> Obj | None:
        """Claims of a correctly signed token of ours; None if not ours at all."""
        hit = self._verified.get(token)
        if hit is not None:
            return hit
        try:
            issuer = _jws().unverified_claims(token).get("iss")
        except _jws().InvalidToken:
            return None
        if issuer not in self.issuers:
            return None
        try:
            claims = _jws().verify(token, self.public_keys)
        except _jws().InvalidToken as e:
            raise TokenError(str(e)) from None
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = claims
        return claims

    def _check(self, claims: Obj, audiences: list[str]) -> tuple[UserInfo, list[str], str]:
        now = self.clock()
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if not isinstance(exp, int | float) or now > exp + LEEWAY:
            raise TokenError("service account token has expired")
        if (isinstance(nbf, int | float) and now + LEEWAY < nbf) or (isinstance(iat, int | float) and now + LEEWAY < iat):
            raise TokenError("service account token is not valid yet")
        token_auds = claims.get("aud")
        token_auds = [token_auds] if isinstance(token_auds, str) else list(token_auds or [])
        good = [a for a in audiences if a in token_auds]
        if not good:
            raise TokenError(f"token audiences {_go_list(token_auds)} is invalid for the target audiences "
                             f"{_go_list(audiences)}")
        return self._user(claims), good, ""

    def _bound(self, plural: str, ns: str, ref: Obj | None, what: str) -> Obj | None:
        if not ref:
            return None
        obj = self.lookup(plural, ns, ref.get("name", ""))
        if obj is None:
            raise TokenError(f"{what} {ns + '/' if ns else ''}{ref.get('name', '')} has been deleted")
        if obj["metadata"].get("uid") != ref.get("uid"):
            raise TokenError(f"{what} UID ({obj['metadata'].get('uid')}) does not match claim ({ref.get('uid')})")
        deleted = obj["metadata"].get("deletionTimestamp")
        if deleted and datetime.fromisoformat(deleted.replace("Z", "+00:00")).timestamp() < self.clock() - LEEWAY:
            raise TokenError(f"{what} {ns + '/' if ns else ''}{ref.get('name', '')} is being deleted")
        return obj

    def _user(self, claims: Obj) -> UserInfo:
        k8s = claims.get("kubernetes.io")
        if not isinstance(k8s, dict) or not isinstance(k8s.get("serviceaccount"), dict):
            raise TokenError("token is not a bound service account token")
        ns = k8s.get("namespace", "")
        sa_ref = k8s["serviceaccount"]
        if claims.get("sub") != f"{SA_USER_PREFIX}{ns}:{sa_ref.get('name', '')}":
            raise TokenError("token subject does not match its service account")
        sa = self._bound("serviceaccounts", ns, sa_ref, "service account")
        assert sa is not None
        self._bound("pods", ns, k8s.get("pod"), "pod")
        self._bound("secrets", ns, k8s.get("secret"), "secret")
        if not k8s.get("pod"):  # a pod-bound token's node claim is informational only
            self._bound("nodes", "", k8s.get("node"), "node")
        extra: dict[str, list[str]] = {}
        for key, ref in (("pod", k8s.get("pod")), ("node", k8s.get("node"))):
            if isinstance(ref, dict):
                extra[f"{EXTRA}{key}-name"] = [ref.get("name", "")]
                extra[f"{EXTRA}{key}-uid"] = [ref.get("uid", "")]
        if claims.get("jti"):
            extra[f"{EXTRA}credential-id"] = [f"JTI={claims['jti']}"]
        groups = (ALL_SA_GROUP, f"{ALL_SA_GROUP}:{ns}", "system:authenticated")
        return UserInfo(claims["sub"], groups, sa["metadata"].get("uid", ""), extra)
