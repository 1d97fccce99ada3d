"""The core/v1 ("" group) strategies, keyed by kind.

Theory of operation: each kind's rules live in a themed module (pods, services
and endpoints, config objects, cluster objects, storage, policy and replication
controllers); this module only assembles `STRATEGIES`, which
`apiserver/registry/groups.py` registers for the legacy group. Defaults for the
same types are in `pocketkube.api.defaults.core_v1`.
"""

from __future__ import annotations

from pocketkube.apiserver.registry.core_cluster import EventStrategy, NamespaceStrategy, NodeStrategy
from pocketkube.apiserver.registry.core_config import (
    ConfigMapStrategy,
    SecretStrategy,
    ServiceAccountStrategy,
)
from pocketkube.apiserver.registry.core_endpoints import EndpointsStrategy
from pocketkube.apiserver.registry.core_pods import BindingStrategy, PodStrategy, PodTemplateStrategy
from pocketkube.apiserver.registry.core_policy import (
    LimitRangeStrategy,
    ReplicationControllerStrategy,
    ResourceQuotaStrategy,
)
from pocketkube.apiserver.registry.core_services import ServiceStrategy
from pocketkube.apiserver.registry.core_storage import PersistentVolumeClaimStrategy, PersistentVolumeStrategy
from pocketkube.apiserver.strategy import Strategy

STRATEGIES: dict[str, Strategy] = {
    "Pod": PodStrategy(),
    "PodTemplate": PodTemplateStrategy(),
    "Binding": BindingStrategy(),
    "Service": ServiceStrategy(),
    "Endpoints": EndpointsStrategy(),
    "Namespace": NamespaceStrategy(),
    "Node": NodeStrategy(),
    "Event": EventStrategy(),
    "ConfigMap": ConfigMapStrategy(),
    "Secret": SecretStrategy(),
    "ServiceAccount": ServiceAccountStrategy(),
    "PersistentVolume": PersistentVolumeStrategy(),
    "PersistentVolumeClaim": PersistentVolumeClaimStrategy(),
    "LimitRange": LimitRangeStrategy(),
    "ResourceQuota": ResourceQuotaStrategy(),
    "ReplicationController": ReplicationControllerStrategy(),
}
