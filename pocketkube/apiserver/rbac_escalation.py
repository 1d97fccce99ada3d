"""RBAC privilege-escalation prevention for writes of roles and bindings.

Theory of operation (upstream pkg/registry/rbac/*/policybased and
validation.ConfirmNoEscalation): a user may only grant what they hold.

- Creating or updating a Role/ClusterRole is allowed to system:masters, to a
  user the authorizer lets `escalate` that role, or when the user's own rules
  in the role's namespace cover every rule the role contains. Setting (or
  changing) a ClusterRole's aggregationRule needs full authority (`*` on
  everything), since it can gather any permission.
- Creating or updating a RoleBinding/ClusterRoleBinding is allowed to
  system:masters, to a user the authorizer lets `bind` the referenced role (in
  the binding's namespace), or when the user's rules cover the referenced
  role's rules. A referenced role that does not exist is 404 NotFound.
- Updates that only change ownerReferences or finalizers (garbage collection)
  are never checked.

"Cover" is decided rule by rule after breaking each rule into atoms (one
group, one resource, one verb, at most one name; or one URL and one verb): an
atom is covered when a single owned rule covers all of it. The uncovered atoms,
re-compacted and sorted, make the 403 message in upstream's wording.

It runs as an admission plugin, so it sees the requester (`ctx.user`) and the
final object of every create, update, patch and apply.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from pocketkube.api.scheme import Resource
from pocketkube.apiserver.admission import Release
from pocketkube.apiserver.auth import Attributes
from pocketkube.apiserver.context import RequestContext, UserInfo
from pocketkube.apiserver.rbac import GROUP, ResolutionError, Resolver, Rule, aggregate_errors
from pocketkube.machinery import errors

Obj = dict[str, Any]
Authorize = Callable[[UserInfo, Attributes], Awaitable[tuple[bool, str]]]

FULL_AUTHORITY: list[Rule] = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                              {"nonResourceURLs": ["*"], "verbs": ["*"]}]
_GC_META = ("ownerReferences", "finalizers", "managedFields", "resourceVersion")


# ---------------------------------------------------------------------------- covers
def breakdown(rule: Rule) -> list[Rule]:
    """Atoms of a rule: one group/resource/verb(/name), or one URL/verb."""
    out: list[Rule] = []
    names = rule.get("resourceNames") or []
    for g in rule.get("apiGroups") or []:
        for r in rule.get("resources") or []:
            for v in rule.get("verbs") or []:
                base: Rule = {"apiGroups": [g], "resources": [r], "verbs": [v]}
                out += [base | {"resourceNames": [n]} for n in names] if names else [base]
    for u in rule.get("nonResourceURLs") or []:
        out += [{"nonResourceURLs": [u], "verbs": [v]} for v in rule.get("verbs") or []]
    return out


def _has_all(have: list[str], want: list[str]) -> bool:
    return set(want) <= set(have)


def _resources_cover(have: list[str], want: list[str]) -> bool:
    if "*" in have or _has_all(have, want):
        return True
    for path in want:
        if path in have:
            continue
        if "/" not in path or "*/" + path.split("/", 1)[1] not in have:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def rule_covers(owner: Rule, atom: Rule) -> bool:
    ov, og = owner.get("verbs") or [], owner.get("apiGroups") or []
    on, an = owner.get("resourceNames") or [], atom.get("resourceNames") or []
    return (("*" in ov or _has_all(ov, atom.get("verbs") or []))
            and ("*" in og or _has_all(og, atom.get("apiGroups") or []))
            and _resources_cover(owner.get("resources") or [], atom.get("resources") or [])
            and all(any(_url_covers(o, p) for o in owner.get("nonResourceURLs") or [])
                    for p in atom.get("nonResourceURLs") or [])
            and (not on if not an else (not on or _has_all(on, an))))


def covers(owner_rules: list[Rule], servant_rules: list[Rule]) -> tuple[bool, list[Rule]]:
    missing = [atom for rule in servant_rules for atom in breakdown(rule)
               if not any(rule_covers(o, atom) for o in owner_rules)]
    return not missing, missing


def compact(rules: list[Rule]) -> list[Rule]:
    """Merge atoms that differ only by verb (upstream CompactRules)."""
    out: list[Rule] = []
    simple: dict[tuple[str, str], Rule] = {}
    for r in rules:
        is_simple = (set(r) <= {"apiGroups", "resources", "verbs"} and len(r.get("apiGroups") or []) == 1
                     and len(r.get("resources") or []) == 1)
        if not is_simple:
            out.append(r)
            continue
        key = (r["apiGroups"][0], r["resources"][0])
        if key in simple:
            simple[key]["verbs"] = simple[key]["verbs"] + list(r.get("verbs") or [])
        else:
            simple[key] = {k: list(v) for k, v in r.items()}
    return out + list(simple.values())


def _go_quote_list(values: list[str]) -> str:
    return "[" + " ".join(json.dumps(v) for v in values) + "]"


def compact_string(rule: Rule) -> str:
    parts = [f"{label}:{_go_quote_list(rule[key])}" for key, label in (
        ("apiGroups", "APIGroups"), ("resources", "Resources"), ("nonResourceURLs", "NonResourceURLs"),
        ("resourceNames", "ResourceNames"), ("verbs", "Verbs")) if rule.get(key)]
    return "{" + ", ".join(parts) + "}"


def escalation_message(user: UserInfo, missing: list[Rule], resolution_errors: list[str]) -> str:
    described = sorted({compact_string(r) for r in compact(missing)})
    msg = (f"user {json.dumps(user.name)} (groups={_go_quote_list(list(user.groups))}) is attempting to grant "
           f"RBAC permissions not currently held:\n" + "\n".join(described))
    if resolution_errors:
        msg += f"; resolution errors: [{aggregate_errors(resolution_errors)}]"
    return msg


# ---------------------------------------------------------------------------- admission plugin
def only_gc_fields_changed(new: Obj, old: Obj) -> bool:
    def strip(o: Obj) -> Obj:
        meta = {k: v for k, v in (o.get("metadata") or {}).items() if k not in _GC_META}
        return o | {"metadata": meta}
    return strip(new) == strip(old)


class RBACEscalation:
    def __init__(self, resolver: Resolver, authorize: Authorize) -> None:
        self.resolver = resolver
        self.authorize = authorize

    async def admit(self, op: str, resource: Resource, obj: Obj | None, old: Obj | None,
                    ctx: RequestContext) -> Release | None:
        if resource.group != GROUP or op not in ("CREATE", "UPDATE") or obj is None:
            return None
        user = ctx.user
        if "system:masters" in user.groups:
            return None
        if old is not None and only_gc_fields_changed(obj, old):
            return None
        if resource.plural in ("roles", "clusterroles"):
            await self._check_role(resource.plural, obj, old, user)
        elif resource.plural in ("rolebindings", "clusterrolebindings"):
            await self._check_binding(resource.plural, obj, user)
        return None

    async def _allowed(self, user: UserInfo, verb: str, plural: str, namespace: str, name: str) -> bool:
        attrs = Attributes(verb=verb, resource_request=True, api_group=GROUP, api_version="*",
                           namespace=namespace, resource=plural, name=name)
        allowed, _ = await self.authorize(user, attrs)
        return allowed

    def confirm_no_escalation(self, user: UserInfo, namespace: str, rules: list[Rule]) -> str:
        """"" when the user's own rules in `namespace` cover `rules`, else upstream's message."""
        owned, errs = self.resolver.rules_for(user, namespace)
        ok, missing = covers(owned, rules)
        return "" if ok else escalation_message(user, missing, errs)

    async def _check_role(self, plural: str, obj: Obj, old: Obj | None, user: UserInfo) -> None:
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        # upstream asks with the request's name, which a create (POST to the collection) does not have
        if await self._allowed(user, "escalate", plural, ns, name if old is not None else ""):
            return
        msg = self.confirm_no_escalation(user, ns, list(obj.get("rules") or []))
        if msg:
            raise errors.forbidden_error(plural, GROUP, name, msg)
        aggregation = obj.get("aggregationRule")
        if aggregation and (old is None or old.get("aggregationRule") != aggregation) and \
                self.confirm_no_escalation(user, ns, FULL_AUTHORITY):
            raise errors.forbidden_error(plural, GROUP, name,
                                         "must have cluster-admin privileges to use the aggregationRule")

    async def _check_binding(self, plural: str, obj: Obj, user: UserInfo) -> None:
        meta, ref = obj["metadata"], obj.get("roleRef") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        ref_plural = "roles" if ref.get("kind") == "Role" else "clusterroles"
        if await self._allowed(user, "bind", ref_plural, ns, ref.get("name", "")):
            return
        try:
            rules = self.resolver.role_ref_rules(ref, ns)
        except ResolutionError:
            raise errors.not_found_error(ref_plural, GROUP, ref.get("name", "")) from None
        msg = self.confirm_no_escalation(user, ns, rules)
        if msg:
            raise errors.forbidden_error(plural, GROUP, name, msg)
