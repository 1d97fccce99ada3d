"""ResourceRefs of the built-in resources controllers use."""

from pocketkube.client.rest import ResourceRef

NAMESPACES = ResourceRef("", "v1", "namespaces", namespaced=False)
SERVICEACCOUNTS = ResourceRef("", "v1", "serviceaccounts")
PODS = ResourceRef("", "v1", "pods")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments")
REPLICASETS = ResourceRef("apps", "v1", "replicasets")
