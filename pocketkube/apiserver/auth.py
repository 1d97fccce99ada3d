"""Authentication and authorization chains.

Theory of operation: authentication turns a request into a `UserInfo` or None.
The x509 authenticator reads the verified client certificate of the TLS
connection (the server requests one and verifies it against the profile CA, but
does not require it, so token clients can connect): username = subject CN,
groups = every subject O, plus system:authenticated. Token authenticators plug
in beside it. A request that no authenticator accepts is 401 Unauthorized,
except the public health and version endpoints (upstream grants those to
anonymous users through system:public-info-viewer).

Authorization asks each authorizer in turn for (user, attributes) and the first
definite answer wins; with none configured everything authenticated is allowed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from pocketkube.apiserver.context import UserInfo

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


def x509_user(request: web.Request) -> UserInfo | None:
    transport = request.transport
    if transport is None:
        return None
    cert = transport.get_extra_info("peercert")
    if not cert:
        return None
    cn, orgs = _subject_fields(cert)
    if not cn:
        return None
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
        for a in self.authorizers:
            decision, reason = await a.authorize(user, attrs)
            if decision == "allow":
                return True, reason
            if decision == "deny":
                return False, reason
        return False, ""


def forbidden_message(user: UserInfo, attrs: Attributes) -> str:
    """The upstream wording of an RBAC denial."""
    if not attrs.resource_request:
        return f'User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
    res = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    where = f' in the namespace "{attrs.namespace}"' if attrs.namespace else ""
    scope = "" if attrs.namespace else " at the cluster scope"
    return (f'User "{user.name}" cannot {attrs.verb} resource "{res}" in API group "{attrs.api_group}"'
            f"{where}{scope}")
