"""downwardAPI volumes: pod fields and container resources as files (upstream CollectData, pure).

Theory of operation: each item is a file at its (cleaned) path with its mode or the volume's
defaultMode: a fieldRef (metadata.name/namespace/uid, metadata.labels/annotations in FormatMap
form, or one key by subscript) or a resourceFieldRef of a named container (unset limits read
the node's allocatable). Items that fail are collected and reported together (an aggregate:
one message alone, several as "[a, b]"); the manager rewrites the files when the pod's labels or
annotations change (`refresh`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pocketkube.kubelet.podinputs.errors import aggregate
from pocketkube.kubelet.podinputs.fieldpath import FieldPathError, extract_field_path
from pocketkube.kubelet.podinputs.resources import ResourceFieldError, resource_value
from pocketkube.kubelet.podinputs.volumes.atomic_writer import FileProjection
from pocketkube.kubelet.podinputs.volumes.configmap import DEFAULT_MODE

Obj = dict[str, Any]
PLUGIN = "kubernetes.io~downward-api"


class DownwardAPIError(ValueError):
    pass


def collect(items: list[Obj] | None, pod: Obj, allocatable: Mapping[str, Any],
            default_mode: int | None) -> dict[str, FileProjection]:
    mode_default = DEFAULT_MODE if default_mode is None else int(default_mode)
    errors: list[str] = []
    data = {}
    for item in items or []:
        mode = item.get("mode")
        value = b""
        try:
            if item.get("fieldRef") is not None:
                value = extract_field_path(pod, str(item["fieldRef"].get("fieldPath") or "")).encode()
            elif item.get("resourceFieldRef") is not None:
                value = resource_value(item["resourceFieldRef"], pod, None, allocatable).encode()
        except (FieldPathError, ResourceFieldError) as e:
            errors.append(str(e))
        data[os.path.normpath(str(item.get("path") or ""))] = FileProjection(
            value, mode_default if mode is None else int(mode))
    if errors:
        raise DownwardAPIError(aggregate(errors))
    return data


def payload(source: Obj, pod: Obj, allocatable: Mapping[str, Any],
            default_mode: int | None = None) -> dict[str, FileProjection]:
    mode = default_mode if default_mode is not None else source.get("defaultMode")
    return collect(source.get("items"), pod, allocatable, mode)
