"""group name -> the registry module holding that group's strategies.

Theory of operation: one entry per API group served in `api.scheme` (the core
group "" included). Modules are imported here, eagerly, so a missing or broken
module fails at startup rather than on the first request for that group.
"""

from __future__ import annotations

from types import ModuleType

from pocketkube.apiserver.registry import (
    apiextensions,
    apps,
    authentication,
    authorization,
    autoscaling,
    batch,
    certificates,
    coordination,
    core,
    discovery,
    events,
    networking,
    node,
    policy,
    rbac,
    scheduling,
    storage,
)

MODULES: dict[str, ModuleType] = {
    "": core,
    "apps": apps,
    "events.k8s.io": events,
    "authentication.k8s.io": authentication,
    "authorization.k8s.io": authorization,
    "autoscaling": autoscaling,
    "batch": batch,
    "certificates.k8s.io": certificates,
    "networking.k8s.io": networking,
    "policy": policy,
    "rbac.authorization.k8s.io": rbac,
    "storage.k8s.io": storage,
    "apiextensions.k8s.io": apiextensions,
    "scheduling.k8s.io": scheduling,
    "coordination.k8s.io": coordination,
    "node.k8s.io": node,
    "discovery.k8s.io": discovery,
}
