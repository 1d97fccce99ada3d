"""RBAC caching: rules per (user, namespace) and decisions are kept only while the source's version holds."""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver import rbac
from pocketkube.apiserver.auth import Attributes
from pocketkube.apiserver.context import UserInfo
from pocketkube.apiserver.rbac import RBACAuthorizer, StaticSource

Obj = dict[str, Any]
G = "rbac.authorization.k8s.io"
ALICE = UserInfo("alice", ("devs", "system:authenticated"))


class VersionedSource(StaticSource):
    """A StaticSource that says when it changed, as the watch cache source does."""

    def __init__(self, objects: list[Obj]) -> None:
        super().__init__(objects)
        self.generation = 0

    def version(self) -> object:
        return self.generation

    def change(self, add: tuple[Obj, ...] = (), remove: tuple[str, ...] = ()) -> None:
        self.objects = [o for o in self.objects if o["metadata"]["name"] not in remove] + list(add)
        self.generation += 1


def res(verb: str, resource: str, ns: str = "dev", name: str = "") -> Attributes:
    return Attributes(verb=verb, resource_request=True, namespace=ns, resource=resource, name=name,
                      path=f"/api/v1/namespaces/{ns}/{resource}/{name}")


def role(name: str, rules: list[Obj], ns: str = "dev") -> Obj:
    return {"kind": "Role", "metadata": {"name": name, "namespace": ns}, "rules": rules}


def binding(name: str, role_name: str, who: str = "alice", ns: str = "dev") -> Obj:
    return {"kind": "RoleBinding", "metadata": {"name": name, "namespace": ns},
            "roleRef": {"apiGroup": G, "kind": "Role", "name": role_name},
            "subjects": [{"apiGroup": G, "kind": "User", "name": who}]}


POD_READER = role("pod-reader", [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}])


async def test_a_new_binding_takes_effect_at_once() -> None:
    src = VersionedSource([POD_READER])
    a = RBACAuthorizer(src)
    assert (await a.authorize(ALICE, res("get", "pods", name="p1")))[0] == ""
    src.change(add=(binding("alice-reads", "pod-reader"),))
    assert (await a.authorize(ALICE, res("get", "pods", name="p1")))[0] == "allow"
    src.change(remove=("alice-reads",))
    assert (await a.authorize(ALICE, res("get", "pods", name="p1")))[0] == ""


async def test_decisions_are_reused_while_the_version_holds() -> None:
    src = VersionedSource([POD_READER, binding("alice-reads", "pod-reader")])
    a = RBACAuthorizer(src)
    assert (await a.authorize(ALICE, res("get", "pods", name="p1")))[0] == "allow"
    src.objects = []  # changed behind the version's back: the cached answer stands, for any pod name
    assert (await a.authorize(ALICE, res("get", "pods", name="p2")))[0] == "allow"
    src.generation += 1
    assert (await a.authorize(ALICE, res("get", "pods", name="p2")))[0] == ""


async def test_role_rule_changes_invalidate() -> None:
    src = VersionedSource([POD_READER, binding("alice-reads", "pod-reader")])
    a = RBACAuthorizer(src)
    assert (await a.authorize(ALICE, res("list", "pods")))[0] == ""
    widened = role("pod-reader", [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}])
    src.change(add=(widened,), remove=("pod-reader",))
    assert (await a.authorize(ALICE, res("list", "pods")))[0] == "allow"


async def test_resource_names_keep_the_name_in_the_key() -> None:
    only_a = role("cm-a", [{"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"],
                            "resourceNames": ["a"]}])
    a = RBACAuthorizer(VersionedSource([only_a, binding("alice-cm", "cm-a")]))
    for _ in range(2):  # second round: from the cache
        assert (await a.authorize(ALICE, res("get", "configmaps", name="a")))[0] == "allow"
        assert (await a.authorize(ALICE, res("get", "configmaps", name="b")))[0] == ""


async def test_subjects_and_namespaces_are_separate() -> None:
    src = VersionedSource([POD_READER, binding("alice-reads", "pod-reader")])
    a = RBACAuthorizer(src)
    assert (await a.authorize(ALICE, res("get", "pods")))[0] == "allow"
    assert (await a.authorize(UserInfo("bob", ("devs",)), res("get", "pods")))[0] == ""
    assert (await a.authorize(UserInfo("alice", ("other",)), res("get", "pods")))[0] == "allow"
    assert (await a.authorize(ALICE, res("get", "pods", ns="prod")))[0] == ""


async def test_non_resource_decisions_depend_on_the_path() -> None:
    health = {"kind": "ClusterRole", "metadata": {"name": "health"},
              "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}
    crb = {"kind": "ClusterRoleBinding", "metadata": {"name": "health"},
           "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "health"},
           "subjects": [{"apiGroup": G, "kind": "User", "name": "alice"}]}
    a = RBACAuthorizer(VersionedSource([health, crb]))
    for _ in range(2):
        assert (await a.authorize(ALICE, Attributes(verb="get", resource_request=False, path="/healthz")))[0] \
            == "allow"
        assert (await a.authorize(ALICE, Attributes(verb="get", resource_request=False, path="/metrics")))[0] == ""


async def test_caches_are_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(rbac, "MAX_CACHED_DECISIONS", 2)
    monkeypatch.setattr(rbac, "MAX_CACHED_SUBJECTS", 2)
    src = VersionedSource([POD_READER, binding("alice-reads", "pod-reader")])
    a = RBACAuthorizer(src)
    for verb in ("get", "list", "watch", "get"):
        await a.authorize(ALICE, res(verb, "pods"))
    found = a.resolver.applicable(ALICE, "dev")
    assert found is not None and len(found.decisions) <= 2
    for ns in ("a", "b", "c"):
        await a.authorize(ALICE, res("get", "pods", ns=ns))
    assert len(a.resolver._applicable) <= 2


async def test_sources_without_a_version_are_not_cached() -> None:
    src = StaticSource([POD_READER, binding("alice-reads", "pod-reader")])
    a = RBACAuthorizer(src)
    assert (await a.authorize(ALICE, res("get", "pods")))[0] == "allow"
    src.objects = []
    assert (await a.authorize(ALICE, res("get", "pods")))[0] == ""
    assert a.resolver.applicable(ALICE, "dev") is None
