"""Service account tokens for projected volumes through the TokenRequest API (upstream token manager).

Theory of operation: `get(namespace, sa, audiences, expiration, pod)` POSTs
`serviceaccounts/<sa>/token` with spec {audiences (omitted when empty: the API's own),
expirationSeconds, boundObjectRef: the pod (v1 Pod, name, uid)} and caches the answer per
(sa, namespace, audiences, expiration, bound pod). A cached token is reused until it needs a
refresh: when more than 80% of its lifetime has passed (within 20% of the expiration), or when
it is older than 24 hours, each less a random jitter of up to 10 s. A failed refresh keeps
serving the cached token until it expires (then `token <key> expired and refresh failed: ...`);
a token never obtained is `failed to fetch token: <API error>`. `forget_pod(uid)` drops the
pod's tokens; `gc(now)` drops expired ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pocketkube.client.rest import ApiError, ResourceRef, RESTClient
from pocketkube.kubelet.timefmt import parse_time

Obj = dict[str, Any]
SERVICEACCOUNTS = ResourceRef("", "v1", "serviceaccounts")
MAX_TTL = 24 * 3600.0
MAX_JITTER = 10.0


class TokenError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Token:
    token: str
    expires_at: float
    expiration_seconds: int

    @property
    def issued_at(self) -> float:
        return self.expires_at - self.expiration_seconds


def requires_refresh(token: Token, now: float, jitter: float) -> bool:
    """requiresRefresh: older than 24 h, or within 20% of its lifetime (less jitter) of expiry."""
    if now > token.issued_at + MAX_TTL - jitter:
        return True
    return now > token.expires_at - (token.expiration_seconds * 20 // 100) - jitter


class TokenManager:
    def __init__(self, client: RESTClient, now: Callable[[], float],
                 jitter: Callable[[], float] = lambda: random.uniform(0, MAX_JITTER)) -> None:
        self.client = client
        self.now = now
        self.jitter = jitter
        self._cache: dict[tuple[Any, ...], Token] = {}

    async def get(self, namespace: str, service_account: str, audiences: Sequence[str], expiration: int,
                  pod: Obj) -> str:
        meta = pod.get("metadata") or {}
        key = (service_account, namespace, tuple(audiences), expiration, meta.get("name"), meta.get("uid"))
        cached = self._cache.get(key)
        now = self.now()
        if cached is not None and not requires_refresh(cached, now, float(int(self.jitter()))):
            return cached.token
        try:
            fresh = await self._request(namespace, service_account, audiences, expiration, meta)
        except Exception as e:  # an API error, a transport error, a bad answer
            if cached is None:
                raise TokenError(f"failed to fetch token: {e.message if isinstance(e, ApiError) else e}") from e
            if now >= cached.expires_at:
                raise TokenError(f'token "{"/".join(map(str, key))}" expired and refresh failed: {e}') from e
            return cached.token
        self._cache[key] = fresh
        return fresh.token

    async def _request(self, namespace: str, sa: str, audiences: Sequence[str], expiration: int,
                       meta: Obj) -> Token:
        spec: Obj = {"expirationSeconds": expiration,
                     "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta.get("name"),
                                        "uid": meta.get("uid")}}
        if audiences:
            spec["audiences"] = list(audiences)
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        answer = await self.client.create(SERVICEACCOUNTS, body, namespace, name=sa, subresource="token")
        status, got = answer.get("status") or {}, answer.get("spec") or {}
        expires = parse_time(status.get("expirationTimestamp"))
        if not status.get("token") or expires is None:
            raise TokenError("the TokenRequest answer carries no token")
        return Token(str(status["token"]), expires,
                     int(got.get("expirationSeconds") or expiration))

    def forget_pod(self, uid: str) -> None:
        for key in [k for k in self._cache if k[5] == uid]:
            del self._cache[key]

    def gc(self, now: float) -> None:
        for key in [k for k, t in self._cache.items() if now >= t.expires_at]:
            del self._cache[key]
