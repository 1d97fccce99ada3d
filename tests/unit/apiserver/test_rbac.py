"""RBAC: rule matching, resolution, aggregation, rules review, escalation prevention, default policy."""

from __future__ import annotations

from typing import Any

import pytest

from pocketkube.api.scheme import SCHEME
from pocketkube.apiserver import bootstrap_policy
from pocketkube.apiserver.auth import Attributes, AuthorizerChain
from pocketkube.apiserver.context import RequestContext, UserInfo
from pocketkube.apiserver.rbac import RBACAuthorizer, StaticSource, rule_allows, subject_applies
from pocketkube.apiserver.rbac_escalation import RBACEscalation, compact_string, covers, escalation_message
from pocketkube.apiserver.security import NodeAuthorizer
from pocketkube.machinery import errors

Obj = dict[str, Any]
G = "rbac.authorization.k8s.io"
ALICE = UserInfo("alice", ("devs", "system:authenticated"))


def res(verb: str, resource: str, group: str = "", ns: str = "", name: str = "", sub: str = "") -> Attributes:
    return Attributes(verb=verb, resource_request=True, api_group=group, namespace=ns, resource=resource,
                      subresource=sub, name=name)


def url(verb: str, path: str) -> Attributes:
    return Attributes(verb=verb, resource_request=False, path=path)


def rule(verbs: str, groups: str = "", resources: str = "", names: str = "", urls: str = "") -> Obj:
    r: Obj = {"verbs": verbs.split(",")}
    if urls:
        r["nonResourceURLs"] = urls.split(",")
    else:
        r["apiGroups"], r["resources"] = groups.split(","), resources.split(",")
    if names:
        r["resourceNames"] = names.split(",")
    return r


@pytest.mark.parametrize(("r", "attrs", "allowed"), [
    (rule("get", "", "pods"), res("get", "pods"), True),
    (rule("get", "", "pods"), res("list", "pods"), False),
    (rule("*", "", "pods"), res("deletecollection", "pods"), True),
    (rule("get", "apps", "pods"), res("get", "pods"), False),
    (rule("get", "*", "deployments"), res("get", "deployments", "apps"), True),
    (rule("get", "", "*"), res("get", "secrets"), True),
    (rule("get", "", "*"), res("get", "pods", sub="log"), True),
    (rule("get", "", "pods"), res("get", "pods", sub="log"), False),
    (rule("get", "", "pods/log"), res("get", "pods", sub="log"), True),
    (rule("get", "", "pods/log"), res("get", "pods"), False),
    (rule("get", "*", "*/scale"), res("get", "deployments", "apps", sub="scale"), True),
    (rule("get", "*", "*/scale"), res("get", "deployments", "apps", sub="status"), False),
    (rule("get", "", "configmaps", names="a,b"), res("get", "configmaps", name="b"), True),
    (rule("get", "", "configmaps", names="a,b"), res("get", "configmaps", name="c"), False),
    (rule("list", "", "configmaps", names="a"), res("list", "configmaps"), False),
    (rule("get", urls="/healthz"), url("get", "/healthz"), True),
    (rule("get", urls="/healthz"), url("get", "/healthz/etcd"), False),
    (rule("get", urls="/healthz*"), url("get", "/healthz/etcd"), True),
    (rule("get", urls="/apis/*"), url("get", "/apis/apps/v1"), True),
    (rule("get", urls="*"), url("get", "/anything"), True),
    (rule("get", urls="/version"), url("post", "/version"), False),
    (rule("get", "", "pods"), url("get", "/api/v1/pods"), False),
    (rule("get", urls="/api/*"), res("get", "pods"), False),
])
def test_rule_allows(r: Obj, attrs: Attributes, allowed: bool) -> None:
    assert rule_allows(attrs, r) is allowed


@pytest.mark.parametrize(("subject", "ns", "applies"), [
    ({"kind": "User", "name": "alice"}, "", True),
    ({"kind": "User", "name": "bob"}, "", False),
    ({"kind": "Group", "name": "devs"}, "", True),
    ({"kind": "Group", "name": "alice"}, "", False),
    ({"kind": "ServiceAccount", "name": "default", "namespace": "dev"}, "", False),
])
def test_subject_applies(subject: Obj, ns: str, applies: bool) -> None:
    assert subject_applies(ALICE, subject, ns) is applies


def test_service_account_subject_defaults_to_binding_namespace() -> None:
    sa = UserInfo("system:serviceaccount:dev:default", ("system:serviceaccounts",))
    assert subject_applies(sa, {"kind": "ServiceAccount", "name": "default"}, "dev")
    assert not subject_applies(sa, {"kind": "ServiceAccount", "name": "default"}, "prod")
    assert not subject_applies(sa, {"kind": "ServiceAccount", "name": "default"}, "")
    assert subject_applies(sa, {"kind": "ServiceAccount", "name": "default", "namespace": "dev"}, "")


def role(name: str, rules: list[Obj], ns: str = "", labels: dict[str, str] | None = None,
         aggregate: str = "") -> Obj:
    meta: Obj = {"name": name, "labels": labels or {}}
    if ns:
        meta["namespace"] = ns
    obj: Obj = {"kind": "Role" if ns else "ClusterRole", "metadata": meta, "rules": rules}
    if aggregate:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {aggregate: "true"}}]}
    return obj


def bind(name: str, ref_kind: str, ref: str, subjects: list[Obj], ns: str = "") -> Obj:
    meta: Obj = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {"kind": "RoleBinding" if ns else "ClusterRoleBinding", "metadata": meta,
            "roleRef": {"apiGroup": G, "kind": ref_kind, "name": ref}, "subjects": subjects}


def user(name: str) -> Obj:
    return {"apiGroup": G, "kind": "User", "name": name}


SOURCE = StaticSource([
    role("pod-reader", [rule("get,list", "", "pods")], ns="dev"),
    role("secret-reader", [rule("get", "", "secrets")]),
    role("node-viewer", [rule("get", "", "nodes")]),
    bind("alice-pods", "Role", "pod-reader", [user("alice")], ns="dev"),
    bind("devs-secrets", "ClusterRole", "secret-reader", [{"apiGroup": G, "kind": "Group", "name": "devs"}], ns="dev"),
    bind("alice-nodes", "ClusterRole", "node-viewer", [user("bob"), user("alice")]),
    bind("dangling", "Role", "missing", [user("alice")], ns="dev"),
])


async def test_authorizer_role_and_cluster_role_bindings() -> None:
    a = RBACAuthorizer(SOURCE)
    assert await a.authorize(ALICE, res("list", "pods", ns="dev")) == (
        "allow", 'RBAC: allowed by RoleBinding "alice-pods/dev" of Role "pod-reader" to User "alice"')
    assert (await a.authorize(ALICE, res("get", "secrets", ns="dev")))[0] == "allow"
    # a ClusterRole bound by a RoleBinding only grants inside that namespace
    assert (await a.authorize(ALICE, res("get", "secrets", ns="prod")))[0] == ""
    assert (await a.authorize(ALICE, res("get", "secrets")))[0] == ""
    assert await a.authorize(ALICE, res("get", "nodes", name="n1")) == (
        "allow", 'RBAC: allowed by ClusterRoleBinding "alice-nodes" of ClusterRole "node-viewer" to User "alice"')
    assert await a.authorize(UserInfo("carol"), res("get", "nodes")) == ("", "")


async def test_denial_reason_names_missing_roles() -> None:
    a = RBACAuthorizer(SOURCE)
    assert await a.authorize(ALICE, res("delete", "pods", ns="dev")) == (
        "", 'RBAC: role.rbac.authorization.k8s.io "missing" not found')


async def test_chain_reason_and_masters() -> None:
    chain = AuthorizerChain([NodeAuthorizer(), RBACAuthorizer(SOURCE)])
    assert await chain.authorize(UserInfo("root", ("system:masters",)), res("delete", "nodes")) == (True, "")
    assert await chain.authorize(ALICE, res("delete", "pods", ns="dev")) == (
        False, 'RBAC: role.rbac.authorization.k8s.io "missing" not found')


async def test_node_authorizer() -> None:
    node = UserInfo("system:node:n1", ("system:nodes", "system:authenticated"))
    a = NodeAuthorizer()
    assert (await a.authorize(node, res("update", "nodes", sub="status", name="n1")))[0] == "allow"
    assert (await a.authorize(node, res("delete", "nodes", name="n1")))[0] == ""
    assert (await a.authorize(UserInfo("system:node:n1"), res("get", "pods", ns="x")))[0] == ""


def test_rules_review() -> None:
    rr, nr, err = RBACAuthorizer(SOURCE).rules_review(ALICE, "dev")
    assert rr == [{"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]},
                  {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
                  {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}]
    assert nr == []
    assert err == 'role.rbac.authorization.k8s.io "missing" not found'


def default_policy(*extra: Obj) -> StaticSource:
    objs = bootstrap_policy.cluster_roles() + bootstrap_policy.cluster_role_bindings() + bootstrap_policy.namespaced()
    return StaticSource([*objs, *extra])


async def test_aggregated_roles_are_unions() -> None:
    crd_viewer = role("widgets-view", [rule("get,list", "example.com", "widgets")],
                      labels={"rbac.authorization.k8s.io/aggregate-to-view": "true"})
    src = default_policy(crd_viewer, bind("a", "ClusterRole", "admin", [user("alice")], ns="dev"),
                         bind("v", "ClusterRole", "view", [user("vic")], ns="dev"))
    a = RBACAuthorizer(src)
    vic = UserInfo("vic", ("system:authenticated",))
    # view, edit and admin all pick up the aggregated custom rule (nested aggregation)
    for who in (ALICE, vic):
        assert (await a.authorize(who, res("list", "widgets", "example.com", ns="dev")))[0] == "allow"
    assert (await a.authorize(vic, res("get", "pods", ns="dev")))[0] == "allow"
    assert (await a.authorize(vic, res("get", "secrets", ns="dev")))[0] == ""
    assert (await a.authorize(vic, res("create", "deployments", "apps", ns="dev")))[0] == ""
    assert (await a.authorize(ALICE, res("create", "deployments", "apps", ns="dev")))[0] == "allow"
    assert (await a.authorize(ALICE, res("create", "rolebindings", G, ns="dev")))[0] == "allow"
    assert (await a.authorize(ALICE, res("create", "resourcequotas", ns="dev")))[0] == ""
    assert (await a.authorize(ALICE, res("list", "pods", ns="prod")))[0] == ""


async def test_default_policy_grants_components_least_privilege() -> None:
    a = AuthorizerChain([NodeAuthorizer(), RBACAuthorizer(default_policy())])
    kcm = UserInfo("system:kube-controller-manager", ("system:authenticated",))
    sched = UserInfo("system:kube-scheduler", ("system:authenticated",))
    anyone = UserInfo("x", ("system:authenticated",))
    for attrs in (res("deletecollection", "pods", ns="t"), res("update", "namespaces", sub="finalize", name="t"),
                  res("create", "serviceaccounts", ns="t"), res("create", "configmaps", ns="t"),
                  res("watch", "secrets"), res("create", "pods", ns="t"), url("get", "/apis/apps/v1")):
        assert (await a.authorize(kcm, attrs))[0], attrs
    for attrs in (res("create", "pods", "", sub="binding", ns="t"), res("watch", "nodes"),
                  res("update", "leases", "coordination.k8s.io", ns="kube-system", name="kube-scheduler")):
        assert (await a.authorize(sched, attrs))[0], attrs
    assert not (await a.authorize(sched, res("delete", "nodes", name="n")))[0]
    assert not (await a.authorize(kcm, res("create", "clusterrolebindings", G)))[0]
    assert (await a.authorize(anyone, url("get", "/version")))[0]
    assert (await a.authorize(anyone, res("create", "selfsubjectaccessreviews", "authorization.k8s.io")))[0]
    assert not (await a.authorize(anyone, res("list", "pods", ns="default")))[0]
    assert (await a.authorize(UserInfo("system:anonymous", ("system:unauthenticated",)), url("get", "/healthz")))[0]
    assert not (await a.authorize(UserInfo("system:anonymous", ("system:unauthenticated",)), url("get", "/api")))[0]


# ---------------------------------------------------------------------------- escalation
@pytest.mark.parametrize(("owner", "servant", "ok"), [
    ([rule("*", "*", "*")], [rule("get,delete", "apps", "deployments")], True),
    ([rule("get,list", "", "pods")], [rule("get", "", "pods")], True),
    ([rule("get", "", "pods")], [rule("get,list", "", "pods")], False),
    ([rule("get", "", "pods", names="a")], [rule("get", "", "pods")], False),
    ([rule("get", "", "pods")], [rule("get", "", "pods", names="a")], True),
    ([rule("get", "", "pods", names="a,b")], [rule("get", "", "pods", names="b")], True),
    ([rule("get", "*", "*/scale")], [rule("get", "apps", "deployments/scale")], True),
    ([rule("get", "*", "*/scale")], [rule("get", "apps", "deployments")], False),
    ([rule("get", urls="/api/*")], [rule("get", urls="/api/v1")], True),
    ([rule("get", urls="/api/v1")], [rule("get", urls="/api/*")], False),
    ([rule("get", "", "pods"), rule("list", "", "pods")], [rule("get,list", "", "pods")], True),
])
def test_covers(owner: list[Obj], servant: list[Obj], ok: bool) -> None:
    assert covers(owner, servant)[0] is ok


def test_escalation_message_is_upstreams() -> None:
    _, missing = covers([], [rule("get,list", "", "pods"), rule("get", urls="/x")])
    assert escalation_message(ALICE, missing, []) == (
        'user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not '
        'currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}\n'
        '{NonResourceURLs:["/x"], Verbs:["get"]}')
    assert compact_string(rule("get", "", "cm", names="a")) == \
        '{APIGroups:[""], Resources:["cm"], ResourceNames:["a"], Verbs:["get"]}'


def escalation(*extra: Obj) -> RBACEscalation:
    a = RBACAuthorizer(StaticSource([*SOURCE.objects, *extra]))
    return RBACEscalation(a.resolver, AuthorizerChain([a]).authorize)


def resource(plural: str) -> Any:
    return SCHEME.get(G, "v1", plural)


async def test_role_creation_needs_the_permissions() -> None:
    plugin, ctx = escalation(), RequestContext(user=ALICE)
    ok = role("r", [rule("get", "", "pods")], ns="dev")
    assert await plugin.admit("CREATE", resource("roles"), ok, None, ctx) is None
    bad = role("r", [rule("get", "", "pods"), rule("delete", "", "pods")], ns="dev")
    with pytest.raises(errors.StatusError) as e:
        await plugin.admit("CREATE", resource("roles"), bad, None, ctx)
    assert e.value.code == 403
    assert e.value.message.startswith('roles.rbac.authorization.k8s.io "r" is forbidden: user "alice" (groups=')
    assert e.value.message.endswith('{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}; resolution errors: '
                                    '[role.rbac.authorization.k8s.io "missing" not found]')
    # the same write by system:masters, or by a holder of `escalate`, passes
    await plugin.admit("CREATE", resource("roles"), bad, None, RequestContext())
    esc = escalation(role("escalator", [rule("escalate", G, "roles")]),
                     bind("e", "ClusterRole", "escalator", [user("alice")]))
    await esc.admit("CREATE", resource("roles"), bad, None, ctx)


async def test_gc_only_updates_are_not_checked() -> None:
    plugin, ctx = escalation(), RequestContext(user=ALICE)
    old = role("r", [rule("*", "*", "*")], ns="dev")
    new = old | {"metadata": old["metadata"] | {"finalizers": ["x"], "ownerReferences": [{"uid": "u"}]}}
    await plugin.admit("UPDATE", resource("roles"), new, old, ctx)
    with pytest.raises(errors.StatusError):
        await plugin.admit("UPDATE", resource("roles"), new | {"metadata": old["metadata"] | {"labels": {"a": "b"}}},
                           old, ctx)


async def test_aggregation_rule_needs_full_authority() -> None:
    plugin, ctx = escalation(), RequestContext(user=ALICE)
    agg = role("agg", [], aggregate="x")
    with pytest.raises(errors.StatusError) as e:
        await plugin.admit("CREATE", resource("clusterroles"), agg, None, ctx)
    assert e.value.message == ('clusterroles.rbac.authorization.k8s.io "agg" is forbidden: '
                               "must have cluster-admin privileges to use the aggregationRule")


async def test_binding_needs_bind_or_the_permissions() -> None:
    plugin, ctx = escalation(role("all", [rule("*", "*", "*")])), RequestContext(user=ALICE)
    ok = bind("b", "Role", "pod-reader", [user("bob")], ns="dev")
    await plugin.admit("CREATE", resource("rolebindings"), ok, None, ctx)
    bad = bind("b", "ClusterRole", "all", [user("bob")], ns="dev")
    with pytest.raises(errors.StatusError) as e:
        await plugin.admit("CREATE", resource("rolebindings"), bad, None, ctx)
    assert e.value.code == 403 and '"b" is forbidden: user "alice"' in e.value.message
    missing = bind("b", "ClusterRole", "nope", [user("bob")], ns="dev")
    with pytest.raises(errors.StatusError) as e:
        await plugin.admit("CREATE", resource("rolebindings"), missing, None, ctx)
    assert (e.value.code, e.value.message) == (404, 'clusterroles.rbac.authorization.k8s.io "nope" not found')
    binder = escalation(role("all", [rule("*", "*", "*")]), role("binder", [rule("bind", G, "clusterroles", "all")]),
                        bind("x", "ClusterRole", "binder", [user("alice")]))
    await binder.admit("CREATE", resource("rolebindings"), bad, None, ctx)


# ---------------------------------------------------------------------------- default policy objects
def test_default_policy_objects_carry_bootstrap_metadata() -> None:
    objs = bootstrap_policy.cluster_roles() + bootstrap_policy.cluster_role_bindings() + bootstrap_policy.namespaced()
    names = {o["metadata"]["name"] for o in objs if o["kind"] == "ClusterRole"}
    assert {"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
            "system:public-info-viewer", "system:kube-controller-manager", "system:kube-scheduler", "system:node",
            "system:node-proxier", "system:controller:namespace-controller"} <= names
    for o in objs:
        assert o["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
        assert o["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    view = next(o for o in objs if o["metadata"]["name"] == "view")
    assert view["aggregationRule"] == {"clusterRoleSelectors": [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]}
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"


def test_reconcile_adds_missing_and_keeps_additions() -> None:
    want = bootstrap_policy.cluster_role("r", [rule("get", "", "pods")])
    existing = bootstrap_policy.cluster_role("r", [rule("list", "", "secrets")])
    existing["metadata"]["labels"]["mine"] = "yes"
    out = bootstrap_policy.reconciled(existing, want)
    assert out is not None
    assert out["rules"] == [rule("list", "", "secrets"), rule("get", "", "pods")]
    assert out["metadata"]["labels"]["mine"] == "yes"
    assert bootstrap_policy.reconciled(out, want) is None
    existing["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] = "false"
    assert bootstrap_policy.reconciled(existing, want) is None
    b_want = bootstrap_policy.binding("b", "r", [user("x")])
    b_have = bootstrap_policy.binding("b", "r", [user("y")])
    b_out = bootstrap_policy.reconciled(b_have, b_want)
    assert b_out is not None and b_out["subjects"] == [user("y"), user("x")]
