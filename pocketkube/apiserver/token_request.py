"""The TokenRequest subresource: `POST .../serviceaccounts/NAME/token` (what `kubectl create token` calls).

Theory of operation (upstream pkg/registry/core/serviceaccount/storage/token.go):
the body is an authentication.k8s.io/v1 TokenRequest (JSON or protobuf); its
metadata may only repeat the service account's name and namespace. The service
account must exist (404 otherwise). spec.audiences defaults to the API
audiences, spec.expirationSeconds to 3600 and must be at least 600 (10
minutes) and at most 2^32. spec.boundObjectRef may name a Pod (which must run
as this service account; its node is recorded too), a Secret or a Node; the
object must exist and match the given uid. A pod-bound token asked for 3607
seconds with the API audiences is the kubelet's projected token: it is valid
for a year but carries `warnafter`, as upstream's expiration extension. The
answer (201) is the request with metadata filled in and status {token,
expirationTimestamp}.
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.tokens import ServiceAccountTokens, rfc3339
from pocketkube.machinery import errors

Obj = dict[str, Any]

KIND, GROUP = "TokenRequest", "authentication.k8s.io"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 1 << 32
WARN_ONLY_EXPIRATION = 3607
EXTENDED_EXPIRATION = 365 * 24 * 3600


def _check_meta(body: Obj, namespace: str, name: str) -> None:
    meta = body.get("metadata") or {}
    for key, want, what in (("name", name, "name"), ("namespace", namespace, "namespace")):
        if meta.get(key) and meta[key] != want:
            raise errors.invalid_error(KIND, GROUP, name, [errors.invalid(
                f"metadata.{key}", meta[key], f"must match the service account {what} if specified")])


def _expiration(spec: Obj) -> int:
    value = spec.get("expirationSeconds")
    if value is None:
        return DEFAULT_EXPIRATION
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.bad_request("spec.expirationSeconds must be an integer")
    if value < MIN_EXPIRATION:
        detail = "may not specify a duration less than 10 minutes"
    elif value > MAX_EXPIRATION:
        detail = "may not specify a duration larger than 2^32 seconds"
    else:
        return value
    raise errors.invalid_error(KIND, GROUP, "", [errors.invalid("spec.expirationSeconds", value, detail)])


def _bound(tokens: ServiceAccountTokens, namespace: str, name: str, ref: Obj) -> dict[str, Obj]:
    """The bound object(s) by claim name; raises as upstream for wrong kinds, absent objects, uids."""
    api_version, kind, ref_name = ref.get("apiVersion", ""), ref.get("kind", ""), ref.get("name", "")
    group, _, version = api_version.rpartition("/")
    plural = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}.get(kind) if group == "" else None
    if plural is None:
        raise errors.bad_request(f"cannot bind token to object of type {group}/{version}, Kind={kind}")
    obj = tokens.lookup(plural, "" if kind == "Node" else namespace, ref_name)
    if obj is None:
        raise errors.not_found_error(plural, "", ref_name)
    if kind == "Pod" and (obj.get("spec") or {}).get("serviceAccountName", "default") != name:
        raise errors.bad_request(f'cannot bind token for serviceaccount "{name}" to pod running with '
                                 f"different serviceaccount name.")
    if ref.get("uid") and ref["uid"] != obj["metadata"].get("uid"):
        raise errors.conflict(kind, "", ref_name, f"the UID in the bound object reference ({ref['uid']}) does not "
                              "match the UID in record. The object might have been deleted and then recreated")
    bound = {kind.lower(): obj}
    node_name = (obj.get("spec") or {}).get("nodeName") if kind == "Pod" else ""
    node = tokens.lookup("nodes", "", node_name) if node_name else None
    if node is not None:
        bound["node"] = node
    return bound


async def create(tokens: ServiceAccountTokens, namespace: str, name: str, body: Any,
                 ctx: RequestContext) -> Obj:
    if not isinstance(body, dict):
        raise errors.bad_request("request body must be a TokenRequest object")
    _check_meta(body, namespace, name)
    if tokens.cache is not None:
        await tokens.cache.wait_fresh()
    sa = tokens.lookup("serviceaccounts", namespace, name)
    if sa is None:
        raise errors.not_found_error("serviceaccounts", "", name)
    spec = body.get("spec") or {}
    audiences = list(spec.get("audiences") or []) or list(tokens.api_audiences)
    expiration = _expiration(spec)
    ref = spec.get("boundObjectRef") or None
    bound = _bound(tokens, namespace, name, ref) if ref else {}
    exp, warn_after = expiration, 0
    if "pod" in bound and expiration == WARN_ONLY_EXPIRATION and set(audiences) <= set(tokens.api_audiences):
        exp, warn_after = EXTENDED_EXPIRATION, expiration
    now = tokens.clock()
    claims = tokens.claims(sa, audiences, exp, pod=bound.get("pod"), secret=bound.get("secret"),
                           node=bound.get("node"), warn_after=warn_after)
    meta = dict(body.get("metadata") or {}) | {"name": name, "namespace": namespace,
                                                "creationTimestamp": ctx.timestamp()}
    return {"kind": KIND, "apiVersion": f"{GROUP}/v1", "metadata": meta,
            "spec": {"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": ref},
            "status": {"token": tokens.sign(claims), "expirationTimestamp": rfc3339(int(now) + expiration)}}
