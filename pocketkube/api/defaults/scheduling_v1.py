"""scheduling.k8s.io/v1 defaults: PriorityClass preemptionPolicy PreemptLowerPriority.

Theory of operation: upstream SetDefaults_PriorityClass fills the policy when
it is unset; the value itself has no default.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.defaults import defaults_for


@defaults_for("io.k8s.api.scheduling.v1.PriorityClass")
def priority_class(obj: dict[str, Any]) -> None:
    if obj.get("preemptionPolicy") is None:
        obj["preemptionPolicy"] = "PreemptLowerPriority"
