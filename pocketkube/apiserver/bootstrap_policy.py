"""The default RBAC policy every cluster starts with (upstream bootstrappolicy, v1.32 defaults).

Theory of operation: at each start the apiserver reconciles the default
ClusterRoles, ClusterRoleBindings, Roles and RoleBindings, as kube-apiserver's
`rbac/bootstrap-roles` post-start hook does: a missing object is created; an
existing one whose `rbac.authorization.kubernetes.io/autoupdate` annotation is
not "false" gets what is missing added (rules, aggregation selectors, subjects,
the bootstrap label and annotation) and keeps whatever an admin added. Every
object carries `kubernetes.io/bootstrapping: rbac-defaults` and
`rbac.authorization.kubernetes.io/autoupdate: "true"`.

The user-facing roles admin/edit/view are aggregated: they start without rules
and collect those of every ClusterRole labelled
`rbac.authorization.k8s.io/aggregate-to-<role>: "true"` (the
system:aggregate-to-* roles here, and any a user adds); see rbac_aggregation.
The component identities (system:kube-controller-manager, system:kube-scheduler,
system:kube-proxy, nodes through the Node authorizer) get their system roles;
the controllers' roles live in bootstrap_controller_policy.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import TYPE_CHECKING, Any

from pocketkube.apiserver.bootstrap_controller_policy import (
    CONTROLLER_MANAGER_RUNS,
    CONTROLLER_MANAGER_USER,
    CONTROLLER_ROLES,
    EVENTS,
    READ,
    RW,
    Rule,
    r,
    url,
)
from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.rbac_escalation import covers
from pocketkube.apiserver.watchcache import Entry
from pocketkube.machinery import errors

if TYPE_CHECKING:
    from pocketkube.apiserver.server import APIServer

Obj = dict[str, Any]
log = logging.getLogger("pocketkube.apiserver.bootstrap_policy")

GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
WRITE = "create,delete,deletecollection,patch,update"
AGG = "rbac.authorization.k8s.io/aggregate-to-"
MANAGER = "kube-apiserver"


def _meta(name: str, namespace: str = "", labels: dict[str, str] | None = None) -> Obj:
    m: Obj = {"name": name}
    if namespace:
        m["namespace"] = namespace
    m["labels"] = dict(LABELS) | (labels or {})
    m["annotations"] = {AUTOUPDATE: "true"}
    return m


def cluster_role(name: str, rules: list[Rule], labels: dict[str, str] | None = None,
                 aggregate: str = "") -> Obj:
    obj: Obj = {"apiVersion": API_VERSION, "kind": "ClusterRole", "metadata": _meta(name, labels=labels)}
    if aggregate:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {AGG + aggregate: "true"}}]}
    obj["rules"] = rules
    return obj


def user(name: str) -> Obj:
    return {"apiGroup": GROUP, "kind": "User", "name": name}


def group(name: str) -> Obj:
    return {"apiGroup": GROUP, "kind": "Group", "name": name}


def sa(namespace: str, name: str) -> Obj:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def binding(name: str, role: str, subjects: list[Obj], namespace: str = "", role_kind: str = "") -> Obj:
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    obj: Obj = {"apiVersion": API_VERSION, "kind": kind, "metadata": _meta(name, namespace),
                "roleRef": {"apiGroup": GROUP, "kind": role_kind or "ClusterRole", "name": role}}
    if subjects:
        obj["subjects"] = subjects
    return obj


def _user_facing_roles() -> list[Obj]:
    return [
        cluster_role("cluster-admin", [r("*", "*", "*"), url("*", "*")]),
        cluster_role("admin", [], aggregate="admin"),
        cluster_role("edit", [], {AGG + "admin": "true"}, aggregate="edit"),
        cluster_role("view", [], {AGG + "edit": "true"}, aggregate="view"),
        cluster_role("system:aggregate-to-admin", [
            r("create", "authorization.k8s.io", "localsubjectaccessreviews"),
            r(RW + ",deletecollection", GROUP, "rolebindings,roles")], {AGG + "admin": "true"}),
        cluster_role("system:aggregate-to-edit", [
            r(READ, "", "pods/attach,pods/exec,pods/portforward,pods/proxy,secrets,services/proxy"),
            r("impersonate", "", "serviceaccounts"),
            r(WRITE, "", "pods,pods/attach,pods/exec,pods/portforward,pods/proxy"),
            r("create", "", "pods/eviction"),
            r(WRITE, "", "configmaps,events,persistentvolumeclaims,replicationcontrollers,"
              "replicationcontrollers/scale,secrets,serviceaccounts,services,services/proxy"),
            r("create", "", "serviceaccounts/token"),
            r(WRITE, "apps", "daemonsets,deployments,deployments/rollback,deployments/scale,replicasets,"
              "replicasets/scale,statefulsets,statefulsets/scale"),
            r(WRITE, "autoscaling", "horizontalpodautoscalers"),
            r(WRITE, "batch", "cronjobs,jobs"),
            r(WRITE, "extensions", "daemonsets,deployments,deployments/rollback,deployments/scale,ingresses,"
              "networkpolicies,replicasets,replicasets/scale,replicationcontrollers/scale"),
            r(WRITE, "policy", "poddisruptionbudgets"),
            r(WRITE, "networking.k8s.io", "ingresses,networkpolicies"),
            r(RW + ",deletecollection", "coordination.k8s.io", "leases")], {AGG + "edit": "true"}),
        cluster_role("system:aggregate-to-view", [
            r(READ, "", "configmaps,endpoints,persistentvolumeclaims,persistentvolumeclaims/status,pods,"
              "replicationcontrollers,replicationcontrollers/scale,serviceaccounts,services,services/status"),
            r(READ, "", "bindings,events,limitranges,namespaces/status,pods/log,pods/status,"
              "replicationcontrollers/status,resourcequotas,resourcequotas/status"),
            r(READ, "", "namespaces"),
            r(READ, "discovery.k8s.io", "endpointslices"),
            r(READ, "apps", "controllerrevisions,daemonsets,daemonsets/status,deployments,deployments/scale,"
              "deployments/status,replicasets,replicasets/scale,replicasets/status,statefulsets,"
              "statefulsets/scale,statefulsets/status"),
            r(READ, "autoscaling", "horizontalpodautoscalers,horizontalpodautoscalers/status"),
            r(READ, "batch", "cronjobs,cronjobs/status,jobs,jobs/status"),
            r(READ, "extensions", "daemonsets,daemonsets/status,deployments,deployments/scale,deployments/status,"
              "ingresses,ingresses/status,networkpolicies,replicasets,replicasets/scale,replicasets/status,"
              "replicationcontrollers/scale"),
            r(READ, "policy", "poddisruptionbudgets,poddisruptionbudgets/status"),
            r(READ, "networking.k8s.io", "ingresses,ingresses/status,networkpolicies")], {AGG + "view": "true"}),
    ]


def _signer_roles() -> list[Obj]:
    csr = "certificates.k8s.io"
    out = [cluster_role(f"system:certificates.k8s.io:certificatesigningrequests:{n}",
                        [r("create", csr, f"certificatesigningrequests/{n}")]) for n in ("nodeclient", "selfnodeclient")]
    for role, signer in (("kube-apiserver-client-approver", "kube-apiserver-client"),
                         ("kube-apiserver-client-kubelet-approver", "kube-apiserver-client-kubelet"),
                         ("kubelet-serving-approver", "kubelet-serving"),
                         ("legacy-unknown-approver", "legacy-unknown")):
        out.append(cluster_role(f"system:certificates.k8s.io:{role}",
                                [r("approve", csr, "signers", f"kubernetes.io/{signer}")]))
    return out


def _component_roles() -> list[Obj]:
    leases = "coordination.k8s.io"
    reviews = [r("create", "authentication.k8s.io", "tokenreviews"),
               r("create", "authorization.k8s.io", "subjectaccessreviews")]
    return [
        cluster_role("system:kube-controller-manager", [
            EVENTS, r("create", leases, "leases"), r("get,update", leases, "leases", "kube-controller-manager"),
            r("create", "", "secrets,serviceaccounts"), r("delete", "", "secrets"),
            r("get", "", "configmaps,namespaces,secrets,serviceaccounts"), r("update", "", "secrets,serviceaccounts"),
            *reviews, r("list,watch", "*", "*"), r("create", "", "serviceaccounts/token")]),
        cluster_role("system:kube-scheduler", [
            EVENTS, r("create", leases, "leases"), r("get,update", leases, "leases", "kube-scheduler"),
            r(READ, "", "nodes"), r("delete,get,list,watch", "", "pods"), r("create", "", "bindings,pods/binding"),
            r("patch,update", "", "pods/status"), r(READ, "", "replicationcontrollers,services"),
            r(READ, "apps,extensions", "replicasets"), r(READ, "apps", "statefulsets"),
            r(READ, "policy", "poddisruptionbudgets"), r(READ, "", "persistentvolumeclaims,persistentvolumes"),
            *reviews, r(READ, "storage.k8s.io", "csinodes"), r(READ, "", "namespaces"),
            r(READ, "storage.k8s.io", "csidrivers"), r(READ, "storage.k8s.io", "csistoragecapacities")]),
        cluster_role("system:node", NODE_RULES),
        cluster_role("system:node-bootstrapper", [
            r("create,get,list,watch", "certificates.k8s.io", "certificatesigningrequests")]),
        cluster_role("system:node-problem-detector", [
            r("get", "", "nodes"), r("patch", "", "nodes/status"), EVENTS]),
        cluster_role("system:node-proxier", [
            r("list,watch", "", "endpoints,services"), r(READ, "", "nodes"), EVENTS,
            r("list,watch", "discovery.k8s.io", "endpointslices")]),
        cluster_role("system:kube-dns", [r("list,watch", "", "endpoints,services")]),
        cluster_role("system:kube-aggregator", [r(READ, "", "endpoints,services")]),
        cluster_role("system:heapster", [r(READ, "", "events,namespaces,nodes,pods"),
                                         r(READ, "extensions", "deployments")]),
        cluster_role("system:kubelet-api-admin", [
            r(READ, "", "nodes"), r("proxy", "", "nodes"),
            r("*", "", "nodes/log,nodes/metrics,nodes/proxy,nodes/stats")]),
        cluster_role("system:persistent-volume-provisioner", [
            r("create,delete,get,list,watch", "", "persistentvolumes"),
            r("get,list,update,watch", "", "persistentvolumeclaims"), r(READ, "storage.k8s.io", "storageclasses"),
            r("watch", "", "events"), EVENTS]),
        cluster_role("system:volume-scheduler", [
            r("get,list,patch,update,watch", "", "persistentvolumes"), r(READ, "storage.k8s.io", "storageclasses"),
            r("get,list,patch,update,watch", "", "persistentvolumeclaims")]),
        cluster_role("system:auth-delegator", reviews),
    ]


NODE_RULES: list[Rule] = [
    r("create", "authentication.k8s.io", "tokenreviews"),
    r("create", "authorization.k8s.io", "localsubjectaccessreviews,subjectaccessreviews"),
    r(READ, "", "services"), r("create,get,list,watch", "", "nodes"), r("patch,update", "", "nodes/status"),
    r("patch,update", "", "nodes"), r("create,patch,update", "", "events"), r(READ, "", "pods"),
    r("create,delete", "", "pods"), r("patch,update", "", "pods/status"), r("create", "", "pods/eviction"),
    r(READ, "", "configmaps,secrets"), r("get", "", "persistentvolumeclaims,persistentvolumes"),
    r("get", "", "endpoints"), r("create,get,list,watch", "certificates.k8s.io", "certificatesigningrequests"),
    r("create,delete,get,patch,update", "coordination.k8s.io", "leases"),
    r("get", "storage.k8s.io", "volumeattachments"), r("create", "", "serviceaccounts/token"),
    r("get,patch,update", "", "persistentvolumeclaims/status"), r(READ, "storage.k8s.io", "csidrivers"),
    r("create,delete,get,patch,update", "storage.k8s.io", "csinodes"), r(READ, "node.k8s.io", "runtimeclasses"),
]


def _url_roles() -> list[Obj]:
    return [
        cluster_role("system:basic-user", [
            r("create", "authorization.k8s.io", "selfsubjectaccessreviews,selfsubjectrulesreviews"),
            r("create", "authentication.k8s.io", "selfsubjectreviews")]),
        cluster_role("system:discovery", [url("get", "/api,/api/*,/apis,/apis/*,/healthz,/livez,/openapi,"
                                                     "/openapi/*,/readyz,/version,/version/")]),
        cluster_role("system:public-info-viewer", [url("get", "/healthz,/livez,/readyz,/version,/version/")]),
        cluster_role("system:monitoring", [url("get", "/healthz,/healthz/*,/livez,/livez/*,/metrics,/metrics/slis,"
                                                      "/readyz,/readyz/*")]),
        cluster_role("system:service-account-issuer-discovery", [
            url("get", "/.well-known/openid-configuration,/openid/v1/jwks")]),
    ]


def cluster_roles() -> list[Obj]:
    controllers = [cluster_role(f"system:controller:{n}", rules) for n, rules in CONTROLLER_ROLES.items()]
    return _user_facing_roles() + _url_roles() + _signer_roles() + _component_roles() + controllers


def cluster_role_bindings() -> list[Obj]:
    out = [
        binding("cluster-admin", "cluster-admin", [group("system:masters")]),
        binding("system:monitoring", "system:monitoring", [group("system:monitoring")]),
        binding("system:discovery", "system:discovery", [group("system:authenticated")]),
        binding("system:basic-user", "system:basic-user", [group("system:authenticated")]),
        binding("system:public-info-viewer", "system:public-info-viewer",
                [group("system:authenticated"), group("system:unauthenticated")]),
        binding("system:node-proxier", "system:node-proxier", [user("system:kube-proxy")]),
        binding("system:kube-controller-manager", "system:kube-controller-manager", [user(CONTROLLER_MANAGER_USER)]),
        binding("system:kube-dns", "system:kube-dns", [sa("kube-system", "kube-dns")]),
        binding("system:kube-scheduler", "system:kube-scheduler", [user("system:kube-scheduler")]),
        binding("system:volume-scheduler", "system:volume-scheduler", [user("system:kube-scheduler")]),
        binding("system:service-account-issuer-discovery", "system:service-account-issuer-discovery",
                [group("system:serviceaccounts")]),
        binding("system:node", "system:node", []),
        # pocketkube's node agent hosts many (simulated) nodes under one identity in group system:nodes.
        binding("pocketkube:node-agent", "system:node", [user("system:node-agent")]),
    ]
    for name in CONTROLLER_ROLES:
        subjects = [sa("kube-system", name)]
        if name in CONTROLLER_MANAGER_RUNS:
            subjects.append(user(CONTROLLER_MANAGER_USER))
        out.append(binding(f"system:controller:{name}", f"system:controller:{name}", subjects))
    return out


def _role(name: str, namespace: str, rules: list[Rule]) -> Obj:
    return {"apiVersion": API_VERSION, "kind": "Role", "metadata": _meta(name, namespace), "rules": rules}


def namespaced() -> list[Obj]:
    """Roles and RoleBindings in kube-system and kube-public."""
    ks, leases = "kube-system", "coordination.k8s.io"
    signer = [r(READ, "", "configmaps"), r("update", "", "configmaps", "cluster-info"), EVENTS]
    return [
        _role("extension-apiserver-authentication-reader", ks,
              [r(READ, "", "configmaps", "extension-apiserver-authentication")]),
        _role("system::leader-locking-kube-controller-manager", ks, [r("create,get,list,update,watch", leases, "leases")]),
        _role("system::leader-locking-kube-scheduler", ks, [r("create,get,list,update,watch", leases, "leases")]),
        _role("system:controller:bootstrap-signer", ks, [r(READ, "", "secrets")]),
        _role("system:controller:cloud-provider", ks, [r("create,get,list,watch", "", "configmaps")]),
        _role("system:controller:token-cleaner", ks, [r("delete,get,list,watch", "", "secrets"), EVENTS]),
        _role("system:controller:bootstrap-signer", "kube-public", signer),
        binding("system::extension-apiserver-authentication-reader", "extension-apiserver-authentication-reader",
                [user(CONTROLLER_MANAGER_USER), user("system:kube-scheduler")], ks, "Role"),
        binding("system::leader-locking-kube-controller-manager", "system::leader-locking-kube-controller-manager",
                [user(CONTROLLER_MANAGER_USER), sa(ks, "kube-controller-manager")], ks, "Role"),
        binding("system::leader-locking-kube-scheduler", "system::leader-locking-kube-scheduler",
                [user("system:kube-scheduler"), sa(ks, "kube-scheduler")], ks, "Role"),
        binding("system:controller:bootstrap-signer", "system:controller:bootstrap-signer",
                [sa(ks, "bootstrap-signer")], ks, "Role"),
        binding("system:controller:cloud-provider", "system:controller:cloud-provider",
                [sa(ks, "cloud-provider")], ks, "Role"),
        binding("system:controller:token-cleaner", "system:controller:token-cleaner",
                [sa(ks, "token-cleaner")], ks, "Role"),
        binding("system:controller:bootstrap-signer", "system:controller:bootstrap-signer",
                [sa(ks, "bootstrap-signer")], "kube-public", "Role"),
    ]


# ---------------------------------------------------------------------------- reconciliation
def reconciled(existing: Obj, want: Obj) -> Obj | None:
    """`existing` with what `want` adds, or None when nothing is missing (or autoupdate is off)."""
    meta = existing.get("metadata") or {}
    if (meta.get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None
    out = copy.deepcopy(existing)
    for key in ("labels", "annotations"):
        out["metadata"][key] = (want["metadata"].get(key) or {}) | (meta.get(key) or {})
    if "roleRef" in want:
        subjects = list(existing.get("subjects") or [])
        subjects += [s for s in want.get("subjects") or [] if s not in subjects]
        if subjects:
            out["subjects"] = subjects
    elif want.get("aggregationRule"):
        selectors = list((existing.get("aggregationRule") or {}).get("clusterRoleSelectors") or [])
        selectors += [s for s in want["aggregationRule"]["clusterRoleSelectors"] if s not in selectors]
        out["aggregationRule"] = {"clusterRoleSelectors": selectors}
    else:
        rules = list(existing.get("rules") or [])
        if not covers(rules, want.get("rules") or [])[0]:
            out["rules"] = rules + [x for x in want.get("rules") or [] if x not in rules]
    return None if out == existing else out


async def ensure(server: APIServer, plural: str, want: Obj) -> None:
    """Create `want` if absent, else add to the stored object whatever of `want` it lacks."""
    resource = server.scheme.get(GROUP, "v1", plural)
    assert resource is not None
    store = server.store_for(resource)
    ns, name = want["metadata"].get("namespace", ""), want["metadata"]["name"]
    ctx = RequestContext(field_manager=MANAGER, field_validation="Strict", trusted=True)
    current = store.entry(ns, name)
    if current is None:
        try:
            await store.create(ns, copy.deepcopy(want), ctx)
        except errors.StatusError as e:
            if e.code != 409:
                raise
        return
    if reconciled(current.obj, want) is None:
        return

    async def transform(entry: Entry | None) -> Obj:
        assert entry is not None
        return reconciled(entry.obj, want) or entry.copy()

    await store.guaranteed_update(ns, name, transform, ctx)


async def run(server: APIServer) -> None:
    """Create or reconcile every default RBAC object (concurrently: the writes share group commits)."""
    plurals = {"ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings", "Role": "roles",
               "RoleBinding": "rolebindings"}
    await server.cache.wait_fresh()
    async with asyncio.TaskGroup() as tg:
        for obj in cluster_roles() + cluster_role_bindings() + namespaced():
            tg.create_task(ensure(server, plurals[obj["kind"]], obj))
    log.info("default RBAC policy in place")
