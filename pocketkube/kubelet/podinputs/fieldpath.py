"""Downward API field selectors: a pod's fields as the strings the kubelet hands out (pure).

Theory of operation (upstream pkg/fieldpath and podFieldSelectorRuntimeValue):
- `extract_field_path(pod, path)` serves volume files and the metadata part of env:
  metadata.name / namespace / uid, metadata.labels / annotations (all of them, `FormatMap`: one
  `key="value"` line per key, sorted, values quoted as Go's %q by api/labels.go_quote, no final
  newline) and one key by subscript, `metadata.labels['k']` (a missing key is the empty string);
- `env_field_value(pod, selector, pod_ips, host_ips)` is the env variant: the label must be one
  ConvertDownwardAPIFieldLabel accepts for apiVersion v1, and the node-side values come from the
  caller: status.podIP (the first pod IP), status.podIPs (comma-joined), status.hostIP(s),
  spec.nodeName, spec.serviceAccountName. Errors are `FieldPathError` with upstream's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pocketkube.api.labels import go_quote

Obj = dict[str, Any]

_ENV_LABELS = frozenset({
    "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
    "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName", "status.phase",
    "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
})


class FieldPathError(ValueError):
    """An unsupported or malformed field selector (upstream's error text)."""


def format_map(m: Mapping[str, str] | None) -> str:
    return "\n".join(f"{k}={go_quote(str(v))}" for k, v in sorted((m or {}).items()))


def split_subscript(path: str) -> tuple[str, str, bool]:
    """SplitMaybeSubscriptedPath: "metadata.labels['k']" -> ("metadata.labels", "k", True)."""
    if not path.endswith("']"):
        return path, "", False
    head, sep, key = path[:-2].partition("['")
    if not sep or not head:
        return path, "", False
    return head, key, True


def extract_field_path(pod: Obj, path: str) -> str:
    meta = pod.get("metadata") or {}
    head, key, subscripted = split_subscript(path)
    if subscripted:
        if head == "metadata.annotations":
            return str((meta.get("annotations") or {}).get(key, ""))
        if head == "metadata.labels":
            return str((meta.get("labels") or {}).get(key, ""))
        raise FieldPathError(f"fieldPath {go_quote(path)} does not support subscript")
    if path == "metadata.annotations":
        return format_map(meta.get("annotations"))
    if path == "metadata.labels":
        return format_map(meta.get("labels"))
    if path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return str(meta.get(path.split(".", 1)[1]) or "")
    raise FieldPathError(f"unsupported fieldPath: {path}")


def convert_label(api_version: str, label: str) -> str:
    """ConvertDownwardAPIFieldLabel for pods: the internal label, or FieldPathError."""
    if api_version != "v1":
        raise FieldPathError(f"unsupported pod version: {api_version}")
    head, _, subscripted = split_subscript(label)
    if subscripted:
        if head in ("metadata.annotations", "metadata.labels"):
            return label
        raise FieldPathError(f"field label does not support subscript: {label}")
    if label == "spec.host":
        return "spec.nodeName"
    if label not in _ENV_LABELS:
        raise FieldPathError(f"field label not supported: {label}")
    return label


def env_field_value(pod: Obj, selector: Mapping[str, Any], pod_ips: Sequence[str],
                    host_ips: Sequence[str]) -> str:
    """podFieldSelectorRuntimeValue: the value of a fieldRef env source."""
    label = convert_label(str(selector.get("apiVersion") or "v1"), str(selector.get("fieldPath") or ""))
    spec = pod.get("spec") or {}
    if label == "spec.nodeName":
        return str(spec.get("nodeName") or "")
    if label == "spec.serviceAccountName":
        return str(spec.get("serviceAccountName") or "")
    if label in ("status.hostIP", "status.hostIPs"):
        if not host_ips:
            raise FieldPathError("host IP unknown; known addresses: []")
        return host_ips[0] if label == "status.hostIP" else ",".join(host_ips)
    if label == "status.podIP":
        return pod_ips[0] if pod_ips else ""
    if label == "status.podIPs":
        return ",".join(pod_ips)
    return extract_field_path(pod, label)
