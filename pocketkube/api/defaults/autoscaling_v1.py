"""autoscaling/v1 defaults (upstream pkg/apis/autoscaling/v1/defaults.go): minReplicas 1.

Theory of operation: v1 HorizontalPodAutoscalers are converted to the v2 storage
shape by the apiserver; defaulting the v1 body first keeps upstream's order
(defaults of the request's version, then conversion).
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.defaults import defaults_for


@defaults_for("io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler")
def horizontal_pod_autoscaler(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    spec.setdefault("minReplicas", 1)
