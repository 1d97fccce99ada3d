"""RBAC authorization: Roles, ClusterRoles and their bindings, read from the watch cache.

Theory of operation (upstream plugin/pkg/auth/authorizer/rbac and
pkg/registry/rbac/validation): the rules that apply to a user in a namespace
are those of every ClusterRoleBinding, and of every RoleBinding in that
namespace, with a subject naming the user (User by name, Group by membership,
ServiceAccount by `system:serviceaccount:NS:NAME`, the binding's namespace
standing in for a missing subject namespace). A binding's rules are those of
the Role (same namespace) or ClusterRole its roleRef names. A request is
allowed as soon as one such rule matches it (`rule_allows`): verbs, API groups
and resources match exactly or by `*`; a resource rule `*/sub` matches any
resource's subresource `sub`; resourceNames, when given, must contain the
request's name; nonResourceURLs match exactly, by `*`, or by a `prefix*`.
Nothing is ever denied explicitly: no match means "no opinion", and the reason
carries any resolution errors (a binding naming a missing role).

Aggregated ClusterRoles (those with an aggregationRule) are evaluated as the
union of the rules of every ClusterRole their selectors match, computed here on
the fly (so the union is effective immediately); `rbac_aggregation` also writes
that union into the stored object as upstream's controller does.

`RuleSource` is the small read interface over the four kinds: `CacheSource`
reads the apiserver's watch cache, `StaticSource` holds plain lists (tests,
bootstrap). `Resolver` turns (user, namespace) into rules; `RBACAuthorizer` is
the Authorizer plus `rules_review` for SelfSubjectRulesReview.

Caching: every request is authorized, and scanning every binding each time is
the expensive part. So the rules applying to a (user name, groups, namespace)
and the decisions made from them are kept while `RuleSource.version()` stays
the same; the cache source's version changes with any write to a Role,
ClusterRole or binding (and with a relist of the watch cache), which drops
everything. Sources without a version (StaticSource) are never cached.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from pocketkube.api import labels
from pocketkube.apiserver.auth import Attributes
from pocketkube.apiserver.context import UserInfo
from pocketkube.apiserver.watchcache import WatchCache

Obj = dict[str, Any]
Rule = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"
PREFIX = f"/registry/{GROUP}/"
ROLES, CLUSTER_ROLES = PREFIX + "roles/", PREFIX + "clusterroles/"
ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS = PREFIX + "rolebindings/", PREFIX + "clusterrolebindings/"
SA_PREFIX = "system:serviceaccount:"


# ---------------------------------------------------------------------------- rule matching
def verb_matches(rule: Rule, verb: str) -> bool:
    verbs = rule.get("verbs") or ()
    return "*" in verbs or verb in verbs


def group_matches(rule: Rule, group: str) -> bool:
    groups = rule.get("apiGroups") or ()
    return "*" in groups or group in groups


def resource_matches(rule: Rule, combined: str, subresource: str) -> bool:
    for r in rule.get("resources") or ():
        if r in ("*", combined):
            return True
        if subresource and r == "*/" + subresource:
            return True
    return False


def name_matches(rule: Rule, name: str) -> bool:
    names = rule.get("resourceNames") or ()
    return not names or name in names


def url_matches(rule: Rule, path: str) -> bool:
    for u in rule.get("nonResourceURLs") or ():
        if u in ("*", path) or (u.endswith("*") and path.startswith(u.rstrip("*"))):
            return True
    return False


def rule_allows(attrs: Attributes, rule: Rule) -> bool:
    if not verb_matches(rule, attrs.verb):
        return False
    if not attrs.resource_request:
        return url_matches(rule, attrs.path)
    combined = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
    return (group_matches(rule, attrs.api_group) and resource_matches(rule, combined, attrs.subresource)
            and name_matches(rule, attrs.name))


def subject_applies(user: UserInfo, subject: Obj, namespace: str) -> bool:
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_ns = subject.get("namespace") or namespace
        return bool(sa_ns) and user.name == f"{SA_PREFIX}{sa_ns}:{name}"
    return False


# ---------------------------------------------------------------------------- sources
class RuleSource(Protocol):
    def cluster_role_bindings(self) -> Iterable[Obj]: ...
    def role_bindings(self, namespace: str) -> Iterable[Obj]: ...
    def cluster_roles(self) -> Iterable[Obj]: ...
    def cluster_role(self, name: str) -> Obj | None: ...
    def role(self, namespace: str, name: str) -> Obj | None: ...
    def version(self) -> object:
        """Changes whenever any Role, ClusterRole or binding changes; None disables memoizing."""
        ...


class CacheSource:
    """RBAC objects as the watch cache holds them (always current, never copied)."""

    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache

    def _all(self, prefix: str, sub: str = "") -> Iterator[Obj]:
        rc = self.cache.cache(prefix)
        if not sub:
            return (e.obj for e in list(rc.entries.values()))
        return (e.obj for e in rc.sorted_entries(prefix + sub + "/"))

    def cluster_role_bindings(self) -> Iterable[Obj]:
        return self._all(CLUSTER_ROLE_BINDINGS)

    def role_bindings(self, namespace: str) -> Iterable[Obj]:
        return self._all(ROLE_BINDINGS, namespace)

    def cluster_roles(self) -> Iterable[Obj]:
        return self._all(CLUSTER_ROLES)

    def cluster_role(self, name: str) -> Obj | None:
        e = self.cache.cache(CLUSTER_ROLES).entries.get(CLUSTER_ROLES + name)
        return e.obj if e else None

    def role(self, namespace: str, name: str) -> Obj | None:
        e = self.cache.cache(ROLES).entries.get(f"{ROLES}{namespace}/{name}")
        return e.obj if e else None

    def version(self) -> object:
        """Per kind: the entries map (replaced by a relist) and its newest change (or the relist's revision)."""
        out = []
        for prefix in (ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS):
            rc = self.cache.cache(prefix)
            out.append((id(rc.entries), rc.change_revs[-1] if rc.change_revs else rc.window_start))
        return tuple(out)


@dataclass
class StaticSource:
    """RBAC objects from plain lists (unit tests, offline checks)."""

    objects: list[Obj] = field(default_factory=list)

    def _kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o.get("kind") == kind]

    def cluster_role_bindings(self) -> Iterable[Obj]:
        return self._kind("ClusterRoleBinding")

    def role_bindings(self, namespace: str) -> Iterable[Obj]:
        return [o for o in self._kind("RoleBinding") if o["metadata"].get("namespace") == namespace]

    def cluster_roles(self) -> Iterable[Obj]:
        return self._kind("ClusterRole")

    def cluster_role(self, name: str) -> Obj | None:
        return next((o for o in self._kind("ClusterRole") if o["metadata"]["name"] == name), None)

    def role(self, namespace: str, name: str) -> Obj | None:
        return next((o for o in self._kind("Role") if o["metadata"]["name"] == name
                     and o["metadata"].get("namespace") == namespace), None)

    def version(self) -> object:
        return None


# ---------------------------------------------------------------------------- resolution
class ResolutionError(Exception):
    """A roleRef that names a missing role (upstream's lister NotFound wording)."""


def _add_unique(into: list[Rule], rules: Iterable[Rule]) -> None:
    for r in rules:
        if r not in into:
            into.append(r)


def aggregated_rules(source: RuleSource, role: Obj, _seen: frozenset[str] = frozenset()) -> list[Rule]:
    """The union of the rules of every ClusterRole the aggregationRule selects, by role name order."""
    name = role["metadata"]["name"]
    selectors = [labels.from_label_selector(s)
                 for s in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []]
    out: list[Rule] = []
    for other in sorted(source.cluster_roles(), key=lambda o: o["metadata"]["name"]):
        other_name = other["metadata"]["name"]
        if other_name == name or other_name in _seen:
            continue
        if any(labels.matches(sel, other["metadata"].get("labels")) for sel in selectors):
            _add_unique(out, effective_rules(source, other, _seen | {name}))
    return out


def effective_rules(source: RuleSource, role: Obj, _seen: frozenset[str] = frozenset()) -> list[Rule]:
    if role.get("kind") == "ClusterRole" and role.get("aggregationRule"):
        return aggregated_rules(source, role, _seen)
    return list(role.get("rules") or [])


def _subject_text(s: Obj, binding_ns: str) -> str:
    if s.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{s.get("name", "")}/{s.get("namespace") or binding_ns}"'
    return f'{s.get("kind", "")} "{s.get("name", "")}"'


def describe(binding: Obj, subject: Obj) -> str:
    """Upstream's description of the binding that granted a rule (SubjectAccessReview reasons)."""
    m, ref = binding["metadata"], binding.get("roleRef") or {}
    ns = m.get("namespace", "")
    kind = "RoleBinding" if ns else "ClusterRoleBinding"
    name = f"{m['name']}/{ns}" if ns else m["name"]
    return f'{kind} "{name}" of {ref.get("kind", "")} "{ref.get("name", "")}" to {_subject_text(subject, ns)}'


Visit = tuple[str, Rule | None, str]  # (binding description, rule, "") or ("", None, resolution error)
Decision = tuple[str, str]
MAX_CACHED_SUBJECTS = 4096
MAX_CACHED_DECISIONS = 1024  # per subject


class Applicable:
    """What applies to one (user, namespace): its rules in binding order, and the authorizer's
    decisions so far. A decision depends on the request's name only if some rule has resourceNames
    (and on the path only for non-resource requests), so those stay out of the key otherwise."""

    __slots__ = ("by_name", "decisions", "visits")

    def __init__(self, visits: list[Visit]) -> None:
        self.visits = visits
        self.by_name = any(rule is not None and rule.get("resourceNames") for _, rule, _ in visits)
        self.decisions: dict[tuple[object, ...], Decision] = {}

    def key(self, attrs: Attributes) -> tuple[object, ...]:
        if not attrs.resource_request:
            return (attrs.verb, attrs.path)
        return (attrs.verb, attrs.api_group, attrs.resource, attrs.subresource,
                attrs.name if self.by_name else "")


class Resolver:
    """Rules of (user, namespace). Both the aggregated ClusterRole unions and each (user name, groups,
    namespace)'s applicable rules are cached while `source.version()` stays the same: any write to a
    Role, ClusterRole or binding (or a relist of the cache) starts over."""

    def __init__(self, source: RuleSource) -> None:
        self.source = source
        self._memo: dict[str, list[Rule]] = {}
        self._memo_version: object = None
        self._applicable: dict[tuple[str, tuple[str, ...], str], Applicable] = {}
        self._applicable_version: object = None

    def cluster_role_rules(self, role: Obj) -> list[Rule]:
        """A ClusterRole's effective rules; aggregated unions are memoized per ClusterRole state."""
        if not role.get("aggregationRule"):
            return list(role.get("rules") or [])
        version = self.source.version()
        if version is None:
            return effective_rules(self.source, role)
        if version != self._memo_version:
            self._memo, self._memo_version = {}, version
        name = role["metadata"]["name"]
        if name not in self._memo:
            self._memo[name] = effective_rules(self.source, role)
        return self._memo[name]

    def role_ref_rules(self, ref: Obj, binding_ns: str) -> list[Rule]:
        """Rules of the role a binding refers to; ResolutionError when it does not exist."""
        kind, name = ref.get("kind", ""), ref.get("name", "")
        if kind == "Role":
            role = self.source.role(binding_ns, name)
            if role is None:
                raise ResolutionError(f'role.{GROUP} "{name}" not found')
            return list(role.get("rules") or [])
        if kind == "ClusterRole":
            crole = self.source.cluster_role(name)
            if crole is None:
                raise ResolutionError(f'clusterrole.{GROUP} "{name}" not found')
            return self.cluster_role_rules(crole)
        raise ResolutionError(f'unsupported role reference kind: "{kind}"')

    def visit(self, user: UserInfo, namespace: str) -> Iterator[Visit]:
        """(source description, rule, "") per applicable rule, or ("", None, error) per failure."""
        found = self.applicable(user, namespace)
        return iter(found.visits) if found is not None else self._resolve(user, namespace)

    def applicable(self, user: UserInfo, namespace: str) -> Applicable | None:
        """The cached rules of (user, namespace); None when the source cannot say when they change."""
        version = self.source.version()
        if version is None:
            return None
        if version != self._applicable_version:
            self._applicable, self._applicable_version = {}, version
        key = (user.name, user.groups, namespace)
        found = self._applicable.get(key)
        if found is None:
            if len(self._applicable) >= MAX_CACHED_SUBJECTS:
                self._applicable.clear()
            found = self._applicable[key] = Applicable(list(self._resolve(user, namespace)))
        return found

    def _resolve(self, user: UserInfo, namespace: str) -> Iterator[Visit]:
        bindings: list[tuple[Obj, str]] = [(b, "") for b in self.source.cluster_role_bindings()]
        if namespace:
            bindings += [(b, namespace) for b in self.source.role_bindings(namespace)]
        for binding, ns in bindings:
            subject = next((s for s in binding.get("subjects") or () if subject_applies(user, s, ns)), None)
            if subject is None:
                continue
            try:
                rules = self.role_ref_rules(binding.get("roleRef") or {}, ns)
            except ResolutionError as e:
                yield "", None, str(e)
                continue
            text = describe(binding, subject)
            for r in rules:
                yield text, r, ""

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[str]]:
        rules: list[Rule] = []
        errs: list[str] = []
        for _, rule, err in self.visit(user, namespace):
            if rule is not None:
                rules.append(rule)
            if err:
                errs.append(err)
        return rules, errs


def aggregate_errors(errs: list[str]) -> str:
    """utilerrors.NewAggregate's message."""
    return errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"


# ---------------------------------------------------------------------------- the authorizer
def decide(visits: Iterator[Visit], attrs: Attributes) -> Decision:
    """Allowed by the first matching rule; otherwise no opinion, with any resolution errors."""
    errs: list[str] = []
    for text, rule, err in visits:
        if rule is not None and rule_allows(attrs, rule):
            return "allow", f"RBAC: allowed by {text}"
        if err:
            errs.append(err)
    return "", f"RBAC: {aggregate_errors(errs)}" if errs else ""


class RBACAuthorizer:
    def __init__(self, source: RuleSource) -> None:
        self.resolver = Resolver(source)

    async def authorize(self, user: UserInfo, attrs: Attributes) -> Decision:
        found = self.resolver.applicable(user, attrs.namespace)
        if found is None:
            return decide(self.resolver.visit(user, attrs.namespace), attrs)
        key = found.key(attrs)
        decision = found.decisions.get(key)
        if decision is None:
            if len(found.decisions) >= MAX_CACHED_DECISIONS:
                found.decisions.clear()
            decision = found.decisions[key] = decide(iter(found.visits), attrs)
        return decision

    def rules_review(self, user: UserInfo, namespace: str) -> tuple[list[Obj], list[Obj], str]:
        """(resourceRules, nonResourceRules, evaluation error) as SelfSubjectRulesReview shows them."""
        rules, errs = self.resolver.rules_for(user, namespace)
        resource_rules: list[Obj] = []
        url_rules: list[Obj] = []
        for r in rules:
            if r.get("resources"):
                rr: Obj = {"verbs": list(r.get("verbs") or [])}
                for key in ("apiGroups", "resources", "resourceNames"):
                    if r.get(key):
                        rr[key] = list(r[key])
                resource_rules.append(rr)
            if r.get("nonResourceURLs"):
                url_rules.append({"verbs": list(r.get("verbs") or []),
                                  "nonResourceURLs": list(r["nonResourceURLs"])})
        return resource_rules, url_rules, aggregate_errors(errs) if errs else ""
