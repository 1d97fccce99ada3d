"""The resource table: every served kind with its REST identity.

Theory of operation: this is the single place that says which kinds exist, in
which group-version, under which plural, singular and short names, with which
scope, verbs, categories and subresources. Discovery, routing, the storage key
layout, RBAC resource names and the kubectl-facing names are all derived from
it. Adding a built-in resource means adding one row here and (optionally) a
strategy module in apiserver/registry.

Two versions of a kind may share storage (core/v1 and events.k8s.io/v1 Events;
autoscaling v1 and v2 HorizontalPodAutoscalers): the `storage` field names the
storage identity, and the non-storage version is converted on the way in and
out by the apiserver.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CRUD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NO_COLLECTION_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")
CREATE_ONLY = ("create",)


@dataclass(frozen=True, slots=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None  # None: same group/version as the parent resource
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Resource:
    """One served resource in one group-version."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = CRUD_VERBS
    subresources: tuple[Subresource, ...] = ()
    storage: tuple[str, str] | None = None  # (group, plural) whose storage this version shares
    stored: bool = True  # False: virtual resources (reviews, bindings) never persisted

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def storage_id(self) -> tuple[str, str]:
        return self.storage or (self.group, self.plural)

    @property
    def key_prefix(self) -> str:
        """Storage key prefix of every object of this resource, ending in '/'."""
        group, plural = self.storage_id
        return f"/registry/{group or 'core'}/{plural}/"

    @property
    def is_storage_version(self) -> bool:
        return self.storage is None

    def subresource(self, name: str) -> Subresource | None:
        for s in self.subresources:
            if s.name == name:
                return s
        return None

    @property
    def group_resource(self) -> str:
        """`plural.group` as kubectl and error messages print it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def object_key(self, namespace: str, name: str) -> str:
        if self.namespaced:
            return f"{self.key_prefix}{namespace}/{name}"
        return f"{self.key_prefix}{name}"

    def collection_prefix(self, namespace: str = "") -> str:
        if self.namespaced and namespace:
            return f"{self.key_prefix}{namespace}/"
        return self.key_prefix


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, STATUS_VERBS)


def _scale() -> Subresource:
    return Subresource("scale", "Scale", STATUS_VERBS, group="autoscaling", version="v1")


_PROXY_VERBS = ("create", "delete", "get", "patch", "update")

ALL = ("all",)

# The order of groups here is the order of /apis, which kubectl's RESTMapper uses
# as priority; the core group always comes first.
RESOURCES: tuple[Resource, ...] = (
    # core/v1
    Resource("", "v1", "Binding", "bindings", True, verbs=CREATE_ONLY, stored=False),
    Resource("", "v1", "ComponentStatus", "componentstatuses", False, ("cs",), verbs=("get", "list"),
             stored=False),
    Resource("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    Resource("", "v1", "Endpoints", "endpoints", True, ("ep",)),
    Resource("", "v1", "Event", "events", True, ("ev",)),
    Resource("", "v1", "LimitRange", "limitranges", True, ("limits",)),
    Resource("", "v1", "Namespace", "namespaces", False, ("ns",), verbs=NO_COLLECTION_VERBS,
             subresources=(Subresource("finalize", "Namespace", ("update",)), _status("Namespace"))),
    Resource("", "v1", "Node", "nodes", False, ("no",),
             subresources=(Subresource("proxy", "NodeProxyOptions", _PROXY_VERBS), _status("Node"))),
    Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",),
             subresources=(_status("PersistentVolumeClaim"),)),
    Resource("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",),
             subresources=(_status("PersistentVolume"),)),
    Resource("", "v1", "Pod", "pods", True, ("po",), ALL, subresources=(
        Subresource("attach", "PodAttachOptions", ("create", "get")),
        Subresource("binding", "Binding", CREATE_ONLY),
        Subresource("ephemeralcontainers", "Pod", STATUS_VERBS),
        Subresource("eviction", "Eviction", CREATE_ONLY, group="policy", version="v1"),
        Subresource("exec", "PodExecOptions", ("create", "get")),
        Subresource("log", "Pod", ("get",)),
        Subresource("portforward", "PodPortForwardOptions", ("create", "get")),
        Subresource("proxy", "PodProxyOptions", _PROXY_VERBS),
        _status("Pod"),
    )),
    Resource("", "v1", "PodTemplate", "podtemplates", True),
    Resource("", "v1", "ReplicationController", "replicationcontrollers", True, ("rc",), ALL,
             subresources=(_scale(), _status("ReplicationController"))),
    Resource("", "v1", "ResourceQuota", "resourcequotas", True, ("quota",),
             subresources=(_status("ResourceQuota"),)),
    Resource("", "v1", "Secret", "secrets", True),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), subresources=(
        Subresource("token", "TokenRequest", CREATE_ONLY, group="authentication.k8s.io", version="v1"),)),
    Resource("", "v1", "Service", "services", True, ("svc",), ALL, subresources=(
        Subresource("proxy", "ServiceProxyOptions", _PROXY_VERBS), _status("Service"))),
    # apiregistration.k8s.io is not served: pocketkube has no aggregation layer.
    # apps/v1
    Resource("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), ALL,
             subresources=(_status("DaemonSet"),)),
    Resource("apps", "v1", "Deployment", "deployments", True, ("deploy",), ALL,
             subresources=(_scale(), _status("Deployment"))),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), ALL,
             subresources=(_scale(), _status("ReplicaSet"))),
    Resource("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), ALL,
             subresources=(_scale(), _status("StatefulSet"))),
    # events.k8s.io/v1 (stored as core/v1 events)
    Resource("events.k8s.io", "v1", "Event", "events", True, ("ev",), storage=("", "events")),
    # authentication.k8s.io/v1
    Resource("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False,
             verbs=CREATE_ONLY, stored=False),
    Resource("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False,
             verbs=CREATE_ONLY, stored=False),
    # authorization.k8s.io/v1
    Resource("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", True,
             verbs=CREATE_ONLY, stored=False),
    Resource("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False,
             verbs=CREATE_ONLY, stored=False),
    Resource("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", False,
             verbs=CREATE_ONLY, stored=False),
    Resource("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", False,
             verbs=CREATE_ONLY, stored=False),
    # autoscaling: v2 is the storage and preferred version, v1 is converted
    Resource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ("hpa",), ALL,
             subresources=(_status("HorizontalPodAutoscaler"),)),
    Resource("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ("hpa",), ALL,
             subresources=(_status("HorizontalPodAutoscaler"),),
             storage=("autoscaling", "horizontalpodautoscalers")),
    # batch/v1
    Resource("batch", "v1", "CronJob", "cronjobs", True, ("cj",), ALL, subresources=(_status("CronJob"),)),
    Resource("batch", "v1", "Job", "jobs", True, (), ALL, subresources=(_status("Job"),)),
    # certificates.k8s.io/v1
    Resource("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", False,
             ("csr",), subresources=(Subresource("approval", "CertificateSigningRequest", STATUS_VERBS),
                                     _status("CertificateSigningRequest"))),
    # networking.k8s.io/v1
    Resource("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False),
    Resource("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",),
             subresources=(_status("Ingress"),)),
    Resource("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",)),
    # policy/v1
    Resource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",),
             subresources=(_status("PodDisruptionBudget"),)),
    # rbac.authorization.k8s.io/v1
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    # storage.k8s.io/v1
    Resource("storage.k8s.io", "v1", "CSIDriver", "csidrivers", False),
    Resource("storage.k8s.io", "v1", "CSINode", "csinodes", False),
    Resource("storage.k8s.io", "v1", "CSIStorageCapacity", "csistoragecapacities", True),
    Resource("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
    Resource("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", False,
             subresources=(_status("VolumeAttachment"),)),
    # apiextensions.k8s.io/v1
    Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
             ("crd", "crds"), ("api-extensions",), subresources=(_status("CustomResourceDefinition"),)),
    # scheduling.k8s.io/v1
    Resource("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",)),
    # coordination.k8s.io/v1
    Resource("coordination.k8s.io", "v1", "Lease", "leases", True),
    # node.k8s.io/v1
    Resource("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", False),
    # discovery.k8s.io/v1
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
)


@dataclass
class Scheme:
    """Lookups over RESOURCES by the names clients use."""

    resources: tuple[Resource, ...] = RESOURCES
    _by_gvr: dict[tuple[str, str, str], Resource] = field(default_factory=dict)
    _by_gvk: dict[tuple[str, str, str], Resource] = field(default_factory=dict)
    _groups: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for r in self.resources:
            self._by_gvr[(r.group, r.version, r.plural)] = r
            self._by_gvk.setdefault((r.group, r.version, r.kind), r)
            versions = self._groups.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)

    def get(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_gvr.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> Resource | None:
        return self._by_gvk.get((group, version, kind))

    def groups(self) -> dict[str, list[str]]:
        """group -> versions, preferred version first, in /apis order."""
        return self._groups

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self.resources if r.group == group and r.version == version]

    def storage_version(self, r: Resource) -> Resource:
        """The resource row whose version is persisted for `r`'s storage."""
        if r.storage is None:
            return r
        g, plural = r.storage
        for cand in self.resources:
            if cand.group == g and cand.plural == plural and cand.storage is None:
                return cand
        raise KeyError(r.storage)


SCHEME = Scheme()
