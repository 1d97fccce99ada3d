"""Wiring of the security model into the API server: token authentication, Node + RBAC authorization.

Theory of operation: `Security(server)` builds the service-account token
issuer/authenticator from the server's configuration and registers it as a
bearer-token authenticator; installs the authorizer chain kube-apiserver runs
with `--authorization-mode=Node,RBAC` (system:masters is always allowed first,
by the chain itself); and puts RBAC escalation prevention first in admission.
It also answers the two questions the review resources ask: the rules a user
has in a namespace (SelfSubjectRulesReview) and what a token is (TokenReview).

The Node authorizer here is simplified: a node identity (user
`system:node:NAME` in group `system:nodes`) is allowed what the system:node
role allows, without upstream's graph of which pods, secrets and volumes
belong to which node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketkube.apiserver.auth import Attributes
from pocketkube.apiserver.bootstrap_policy import NODE_RULES
from pocketkube.apiserver.context import UserInfo
from pocketkube.apiserver.rbac import CacheSource, RBACAuthorizer, rule_allows
from pocketkube.apiserver.rbac_escalation import RBACEscalation
from pocketkube.apiserver.tokens import ServiceAccountTokens, TokenConfig

if TYPE_CHECKING:
    from pocketkube.apiserver.server import APIServer

Obj = dict[str, Any]
NODES_GROUP = "system:nodes"
NODE_PREFIX = "system:node:"
PRIVILEGED = "system:masters"


class NodeAuthorizer:
    async def authorize(self, user: UserInfo, attrs: Attributes) -> tuple[str, str]:
        if NODES_GROUP not in user.groups or not user.name.startswith(NODE_PREFIX):
            return "", ""
        if any(rule_allows(attrs, r) for r in NODE_RULES):
            return "allow", ""
        return "", ""


class Security:
    def __init__(self, server: APIServer) -> None:
        cfg = server.config
        self.tokens = ServiceAccountTokens(server.cache, TokenConfig(
            signing_key_file=cfg.service_account_signing_key_file,
            key_files=list(cfg.service_account_key_files),
            issuers=list(cfg.service_account_issuers) or TokenConfig().issuers,
            api_audiences=list(cfg.api_audiences)))
        self.rbac = RBACAuthorizer(CacheSource(server.cache))
        server.authorizer.authorizers[:] = [NodeAuthorizer(), self.rbac]
        server.authenticator.token_authenticators.append(self.tokens.authenticate)
        server.admission.plugins.insert(0, RBACEscalation(self.rbac.resolver, server.authorizer.authorize))

    def rules_for(self, user: UserInfo, namespace: str) -> Obj:
        """SelfSubjectRulesReview status: the privileged group's `*` rules, then RBAC's."""
        resource_rules: list[Obj] = []
        url_rules: list[Obj] = []
        if PRIVILEGED in user.groups:
            resource_rules.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
            url_rules.append({"verbs": ["*"], "nonResourceURLs": ["*"]})
        rr, nr, error = self.rbac.rules_review(user, namespace)
        status: Obj = {"resourceRules": resource_rules + rr, "nonResourceRules": url_rules + nr,
                       "incomplete": False}
        if NODES_GROUP in user.groups and user.name.startswith(NODE_PREFIX):
            status["incomplete"] = True
            error = "; ".join(e for e in (error, "node authorizer does not support user rule resolution") if e)
        if error:
            status["evaluationError"] = error
        return status

    def review_token(self, token: str, audiences: list[str]) -> Obj:
        """TokenReview status for `token` checked against `audiences` (default: the API audiences)."""
        user, good, error = self.tokens.review(token, audiences)
        if user is None:
            return {"user": {}, "error": error or "invalid bearer token"}
        return {"authenticated": True, "user": user.to_json(), "audiences": good}
