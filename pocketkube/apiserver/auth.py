"""Authentication and authorization chains.

Theory of operation: authentication turns a request into a `UserInfo` or None.
The x509 authenticator reads the verified client certificate of the TLS
connection (the server requests one and verifies it against the profile CA, but
does not require it, so token clients can connect): username = subject CN,
groups = every subject O, plus system:authenticated. Token authenticators plug
in beside it. A request that no authenticator accepts is 401 Unauthorized,
except the public health and version endpoints (upstream grants those to
anonymous users through system:public-info-viewer).

A bearer token that no token authenticator accepts is 401 even on the public
paths (upstream: a presented credential that fails is never anonymous).

Impersonation (upstream WithImpersonation): `Impersonate-User`,
`Impersonate-Group` (repeatable), `Impersonate-Uid` and `Impersonate-Extra-<key>`
headers make the request act as another user once the authenticated user is
authorized for verb `impersonate` on each part: users (or serviceaccounts, in
their namespace, for `system:serviceaccount:NS:NAME`), groups, uids and
userextras/<key> (the last two in authentication.k8s.io). The new user gets
system:authenticated (system:unauthenticated for system:anonymous) unless a
requested group says otherwise, and a service account without requested
groups gets its service-account groups.

Authorization asks each authorizer in turn for (user, attributes) and the first
definite answer wins; with none configured everything authenticated is allowed.
system:masters is always allowed. A denial's reason joins the reasons of every
authorizer that had no opinion (upstream union authorizer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote

from aiohttp import web

from pocketkube.apiserver.context import UserInfo
from pocketkube.machinery import errors

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})
AUTHENTICATED = "system:authenticated"


def _subject_fields(cert: dict[str, Any]) -> tuple[str, list[str]]:
    cn = ""
    orgs: list[str] = []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    return cn, orgs


def peer_subject(request: web.Request) -> tuple[str, list[str]] | None:
    """(subject CN, subject Os) of the connection's verified client certificate; None without one.
    The node agent's streaming server authenticates its clients with this too."""
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    return _subject_fields(cert) if cert else None


def x509_user(request: web.Request) -> UserInfo | None:
    subject = peer_subject(request)
    if subject is None or not subject[0]:
        return None
    cn, orgs = subject
    return UserInfo(cn, (*orgs, AUTHENTICATED))


TokenAuthenticator = Callable[[str], Awaitable[UserInfo | None]]


class Authenticator:
    def __init__(self) -> None:
        self.token_authenticators: list[TokenAuthenticator] = []

    async def authenticate(self, request: web.Request) -> UserInfo | None:
        user = x509_user(request)
        if user is not None:
            return user
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer " and header[7:].strip():
            token = header[7:].strip()
            for auth in self.token_authenticators:
                found = await auth(token)
                if found is not None:
                    return found
            raise errors.unauthorized()
        return None


@dataclass(frozen=True)
class Attributes:
    """What a request wants to do (authorizer.Attributes)."""

    verb: str
    resource_request: bool
    path: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


class Authorizer(Protocol):
    async def authorize(self, user: UserInfo, attrs: Attributes) -> tuple[str, str]:
        """("allow" | "deny" | "", reason); "" means no opinion."""
        ...


class AuthorizerChain:
    def __init__(self, authorizers: list[Authorizer] | None = None) -> None:
        self.authorizers = authorizers or []

    async def authorize(self, user: UserInfo, attrs: Attributes) -> tuple[bool, str]:
        if "system:masters" in user.groups or not self.authorizers:
            return True, ""
        reasons: list[str] = []
        for a in self.authorizers:
            decision, reason = await a.authorize(user, attrs)
            if decision == "allow":
                return True, reason
            if decision == "deny":
                return False, reason
            if reason:
                reasons.append(reason)
        return False, "\n".join(reasons)


def forbidden_message(user: UserInfo, attrs: Attributes) -> str:
    """The upstream wording of an RBAC denial."""
    if not attrs.resource_request:
        return f'User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
    res = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    where = f' in the namespace "{attrs.namespace}"' if attrs.namespace else ""
    scope = "" if attrs.namespace else " at the cluster scope"
    return (f'User "{user.name}" cannot {attrs.verb} resource "{res}" in API group "{attrs.api_group}"'
            f"{where}{scope}")


# ---------------------------------------------------------------------------- impersonation
IMPERSONATE_USER, IMPERSONATE_GROUP, IMPERSONATE_UID = "Impersonate-User", "Impersonate-Group", "Impersonate-Uid"
IMPERSONATE_EXTRA = "impersonate-extra-"
SA_USER = "system:serviceaccount:"


def has_impersonation(request: web.Request) -> bool:
    return any(k.lower().startswith("impersonate-") for k in request.headers)


def _requests(request: web.Request) -> list[tuple[Attributes, str]]:
    """(attributes to authorize, what it is) per impersonation header value."""
    h = request.headers
    out: list[tuple[Attributes, str]] = []
    name = h.get(IMPERSONATE_USER, "")
    if name:
        parts = name.split(":")
        if name.startswith(SA_USER) and len(parts) == 4 and parts[2] and parts[3]:
            out.append((Attributes("impersonate", True, namespace=parts[2], resource="serviceaccounts",
                                   name=parts[3]), "user"))
        else:
            out.append((Attributes("impersonate", True, resource="users", name=name), "user"))
    out += [(Attributes("impersonate", True, resource="groups", name=g), "group")
            for g in h.getall(IMPERSONATE_GROUP, [])]
    if h.get(IMPERSONATE_UID):
        out.append((Attributes("impersonate", True, api_group="authentication.k8s.io", resource="uids",
                               name=h[IMPERSONATE_UID]), "uid"))
    for key, value in h.items():
        if key.lower().startswith(IMPERSONATE_EXTRA):
            extra_key = unquote(key[len(IMPERSONATE_EXTRA):].lower())
            out.append((Attributes("impersonate", True, api_group="authentication.k8s.io", resource="userextras",
                                   subresource=extra_key, name=value), "extra"))
    if out and not name:
        raise errors.internal_error(f"requested {[a.resource + '/' + a.name for a, _ in out]} without "
                                    f"impersonating a user")
    return out


async def impersonate(request: web.Request, user: UserInfo, authorizer: AuthorizerChain) -> UserInfo:
    """The user the request acts as, after checking `impersonate` on every requested part (403)."""
    name, groups, uid = "", [], ""
    extra: dict[str, list[str]] = {}
    for attrs, what in _requests(request):
        allowed, reason = await authorizer.authorize(user, attrs)
        if not allowed:
            msg = forbidden_message(user, attrs) + (f": {reason}" if reason else "")
            raise errors.forbidden_error(attrs.resource, attrs.api_group, attrs.name, msg)
        if what == "user":
            name = request.headers[IMPERSONATE_USER]
        elif what == "group":
            groups.append(attrs.name)
        elif what == "uid":
            uid = attrs.name
        else:
            extra.setdefault(attrs.subresource, []).append(attrs.name)
    if name.startswith(SA_USER) and IMPERSONATE_GROUP not in request.headers:
        ns = name.split(":")[2]
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    if name != "system:anonymous":
        if AUTHENTICATED not in groups and "system:unauthenticated" not in groups:
            groups.append(AUTHENTICATED)
    elif "system:unauthenticated" not in groups:
        groups.append("system:unauthenticated")
    return UserInfo(name, tuple(groups), uid, extra)
