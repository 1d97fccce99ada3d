"""projected volumes: several sources in one directory (upstream pkg/volume/projected collectData).

Theory of operation: the sources are merged into one payload, later files winning: secret and
configMap projections (configmap/secret payloads with the projected volume's defaultMode; a
missing optional object projects nothing), downwardAPI items, and serviceAccountToken: a token
for the pod's service account from the TokenRequest API (audience as given, else the API's;
expirationSeconds, default 3600; bound to the pod), written with the volume's defaultMode, or 0600
when the pod sets fsGroup (the group bit is added by the ownership change). This is how the
`kube-api-access-*` volume gives every pod /var/run/secrets/kubernetes.io/serviceaccount/{token,
ca.crt,namespace}. Failing sources are collected and reported together (aggregate text); the
others are still computed. clusterTrustBundle projections (alpha, gate off in v1.32) are ignored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pocketkube.kubelet.podinputs.errors import aggregate
from pocketkube.kubelet.podinputs.volumes import configmap, downwardapi, secret
from pocketkube.kubelet.podinputs.volumes.atomic_writer import FileProjection
from pocketkube.kubelet.podinputs.volumes.token import TokenError, TokenManager

Obj = dict[str, Any]
Getter = Callable[[str, str], Awaitable[Obj | None]]
PLUGIN = "kubernetes.io~projected"
DEFAULT_TOKEN_EXPIRATION = 3600


class ProjectedError(ValueError):
    pass


async def _object_source(kind: str, src: Obj, get: Getter, ns: str, mode: int) -> dict[str, FileProjection]:
    name, optional = str(src.get("name") or ""), bool(src.get("optional"))
    obj = await get(ns, name)
    if obj is None and not optional:
        raise ProjectedError(f'{kind} "{name}" not found')
    build = configmap.payload if kind == "configmap" else secret.payload
    try:
        return build(src, obj, mode)
    except configmap.PayloadMissing as e:
        raise ProjectedError(str(e)) from e


async def _token_source(src: Obj, pod: Obj, tokens: TokenManager, mode: int) -> dict[str, FileProjection]:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    audience = str(src.get("audience") or "")
    if (spec.get("securityContext") or {}).get("fsGroup") is not None:
        mode = 0o600
    token = await tokens.get(str(meta.get("namespace") or ""), str(spec.get("serviceAccountName") or "default"),
                             [audience] if audience else [],
                             int(src.get("expirationSeconds") or DEFAULT_TOKEN_EXPIRATION), pod)
    return {str(src.get("path") or "token"): FileProjection(token.encode(), mode)}


async def payload(source: Obj, pod: Obj, *, get_configmap: Getter, get_secret: Getter, tokens: TokenManager,
                  allocatable: Mapping[str, Any]) -> dict[str, FileProjection]:
    mode = int(source["defaultMode"]) if source.get("defaultMode") is not None else configmap.DEFAULT_MODE
    ns = str((pod.get("metadata") or {}).get("namespace") or "")
    errors: list[str] = []
    out: dict[str, FileProjection] = {}
    for src in source.get("sources") or []:
        try:
            if src.get("secret") is not None:
                out.update(await _object_source("secret", src["secret"], get_secret, ns, mode))
            elif src.get("configMap") is not None:
                out.update(await _object_source("configmap", src["configMap"], get_configmap, ns, mode))
            elif src.get("downwardAPI") is not None:
                out.update(downwardapi.collect(src["downwardAPI"].get("items"), pod, allocatable, mode))
            elif src.get("serviceAccountToken") is not None:
                out.update(await _token_source(src["serviceAccountToken"], pod, tokens, mode))
        except (ProjectedError, downwardapi.DownwardAPIError, TokenError) as e:
            errors.append(str(e))
    if errors:
        raise ProjectedError(aggregate(errors))
    return out
