"""How pod inputs report events: a callable the node agent adapts to its event recorder (pure).

Theory of operation: the volume and probe managers do not own an EventRecorder; they call
`sink(pod, type, reason, message, field_path)` exactly as the kubelet's recorder.Eventf would be
called (pod = the pod object; field_path = "spec.containers{name}" for container events, "" for
pod events), and the agent forwards that to kubelet/events.NodeEvents (rate limiting, correlation).
"""

from __future__ import annotations

from typing import Any, Protocol

NORMAL = "Normal"
WARNING = "Warning"


class EventSink(Protocol):
    def __call__(self, pod: dict[str, Any], type_: str, reason: str, message: str, field_path: str = "") -> None: ...


def discard(pod: dict[str, Any], type_: str, reason: str, message: str, field_path: str = "") -> None:
    """An EventSink that drops everything."""


def container_field_path(pod: dict[str, Any], container: str) -> str:
    """The involvedObject.fieldPath of a container: spec.containers{c}, spec.initContainers{c}..."""
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        if any(c.get("name") == container for c in spec.get(key) or []):
            return f"spec.{key}{{{container}}}"
    return f"spec.containers{{{container}}}"
