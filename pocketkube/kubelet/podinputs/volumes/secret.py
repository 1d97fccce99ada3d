"""secret volumes: a Secret's keys as files (upstream pkg/volume/secret), payload part (pure).

Theory of operation: as configMap volumes (configmap.make_payload), with the Secret's data
base64-decoded and the missing-key text `secret references non-existent secret key: k`; a
missing required Secret is `secret "name" not found`. Upstream keeps secrets off the node's disk:
the volume directory is a tmpfs (the manager mounts one per secret and projected volume, falling
back to a plain directory where mounting is not allowed).
"""

from __future__ import annotations

from typing import Any

from pocketkube.kubelet.podinputs.volumes.atomic_writer import FileProjection
from pocketkube.kubelet.podinputs.volumes.configmap import DEFAULT_MODE, b64_bytes, make_payload

Obj = dict[str, Any]
PLUGIN = "kubernetes.io~secret"


def secret_data(secret: Obj | None) -> dict[str, bytes]:
    if secret is None:
        return {}
    return {str(k): b64_bytes(v) for k, v in (secret.get("data") or {}).items()}


def payload(source: Obj, secret: Obj | None, default_mode: int | None = None) -> dict[str, FileProjection]:
    """The files of a secret volume source (or projection) given the Secret (None if absent)."""
    mode = default_mode if default_mode is not None else source.get("defaultMode")
    return make_payload(source.get("items"), secret_data(secret), DEFAULT_MODE if mode is None else int(mode),
                        bool(source.get("optional")), "secret references non-existent secret key")
