"""configMap volumes: a ConfigMap's keys as files (upstream pkg/volume/configmap), payload part (pure).

Theory of operation: without `items`, every key of data (text) and binaryData (base64 in JSON)
becomes a file named after the key with `defaultMode` (420 = 0644 unless set). With `items`, only
the listed keys are projected, each at its `path` with its own `mode` or the default; a listed
key the ConfigMap lacks is an error (`configmap references non-existent config key: k`) unless
the volume is optional, then it is skipped. A missing optional ConfigMap projects nothing (an
empty directory); a missing required one is the error `configmap "name" not found`. The manager
writes the payload with the AtomicWriter on a plain directory, and resyncs it periodically so
edits of the ConfigMap reach running containers.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from pocketkube.kubelet.podinputs.volumes.atomic_writer import FileProjection

Obj = dict[str, Any]
DEFAULT_MODE = 0o644
PLUGIN = "kubernetes.io~configmap"


class PayloadMissing(LookupError):
    """A key the volume lists is not in the object (upstream's text)."""


def b64_bytes(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value or ""), validate=True)
    except (binascii.Error, ValueError):
        return str(value or "").encode()


def configmap_data(cm: Obj | None) -> dict[str, bytes]:
    if cm is None:
        return {}
    data = {str(k): str(v).encode() for k, v in (cm.get("data") or {}).items()}
    data.update({str(k): b64_bytes(v) for k, v in (cm.get("binaryData") or {}).items()})
    return data


def make_payload(items: list[Obj] | None, values: Mapping[str, bytes], default_mode: int, optional: bool,
                 missing: str) -> dict[str, FileProjection]:
    """MakePayload shared by configMap and secret: `missing` is the error text before the key."""
    if not items:
        return {k: FileProjection(v, default_mode) for k, v in values.items()}
    payload = {}
    for item in items:
        key = str(item.get("key") or "")
        if key not in values:
            if optional:
                continue
            raise PayloadMissing(f"{missing}: {key}")
        mode = item.get("mode")
        payload[str(item.get("path") or key)] = FileProjection(values[key], default_mode if mode is None else int(mode))
    return payload


def payload(source: Obj, cm: Obj | None, default_mode: int | None = None) -> dict[str, FileProjection]:
    """The files of a configMap volume source (or projection) given the ConfigMap (None if absent)."""
    mode = default_mode if default_mode is not None else source.get("defaultMode")
    return make_payload(source.get("items"), configmap_data(cm), DEFAULT_MODE if mode is None else int(mode),
                        bool(source.get("optional")), "configmap references non-existent config key")
