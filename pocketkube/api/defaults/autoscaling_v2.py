"""autoscaling/v2 defaults (upstream pkg/apis/autoscaling/v2/defaults.go, v1.32).

Theory of operation: minReplicas 1; no metrics means one Resource metric on cpu
at 80% average utilization; a present `behavior` gets both directions filled:
scale up stabilizes 0s and allows max(4 pods, 100%) per 15s, scale down allows
100% per 15s with no stabilization value (the controller's flag decides). Only
unset fields of a rule are filled; policies given as a list are kept whole.
"""

from __future__ import annotations

import copy
from typing import Any

from pocketkube.api.defaults import defaults_for

Obj = dict[str, Any]

DEFAULT_CPU_UTILIZATION = 80

SCALE_UP: Obj = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
SCALE_DOWN: Obj = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _rules(given: Any, base: Obj) -> Obj:
    out = copy.deepcopy(base)
    if isinstance(given, dict):
        for key in ("selectPolicy", "stabilizationWindowSeconds", "policies"):
            if given.get(key) is not None:
                out[key] = given[key]
    return out


@defaults_for("io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler")
def horizontal_pod_autoscaler(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                   "averageUtilization": DEFAULT_CPU_UTILIZATION}},
        }]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _rules(behavior.get("scaleUp"), SCALE_UP)
        behavior["scaleDown"] = _rules(behavior.get("scaleDown"), SCALE_DOWN)
