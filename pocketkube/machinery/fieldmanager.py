"""metadata.managedFields bookkeeping and server-side apply (k8s.io/apiserver fieldmanager).

Theory of operation. An object's managedFields is a map from a manager identity to a
field set (see fieldpath.py). The identity is (manager, operation, apiVersion,
subresource), where Apply entries leave apiVersion out so an applier keeps one entry
across versions. Every write goes through one of two paths:

  * `update_managed_fields` (create, update, any non-apply patch): the fields that
    changed between old and new (against the Go zero object on create) are taken
    from every other entry and given to (manager, "Update"); removed fields are
    dropped from everyone; empty entries disappear. The entry's time moves only
    when it set (added or modified) a field, and a write that changes nothing
    leaves the list as it was. managedFields sent in the body replace the stored ones (`[]` or `[{}]`
    reset them; absent, unparsable or any subresource write keeps the stored ones).
    More than 10 Update entries are folded, oldest first, into "ancient-changes".
  * `apply` (server-side apply): the applied configuration is merged into the live
    object (leaves replaced, maps and list-maps merged by key, sets unioned, atomic
    values replaced); its field set becomes the (manager, "Apply") entry; fields the
    manager applied last time and no manager owns any more are pruned. Fields other
    managers own and this apply changes are conflicts: 409 unless `force`, which
    takes them over. Unchanged values stay shared. The applier's time moves when the
    object changed (so, as in 1.32, a new applier of identical values gets no time;
    kubernetes#127938). As upstream, the manager
    "kubectl" may take over fields recorded in a matching last-applied annotation,
    and keeps that annotation current.
Entries are written in upstream order: Apply before Update, then by time, manager,
apiVersion and subresource. apiVersion, kind and metadata bookkeeping fields (name,
namespace, uid, resourceVersion, generation, creationTimestamp, managedFields, ...)
are never owned. `reset_fields` are the strategy's reset fields (status on the main
resource, everything but status on /status): nobody gains or loses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from pocketkube.api.labels import go_quote
from pocketkube.api.schema import OBJECT, Node
from pocketkube.machinery import errors
from pocketkube.machinery.fieldpath import (
    ABSENT,
    GRANULAR,
    LIST,
    STRUCT,
    FieldPathError,
    FieldSet,
    compare_objects,
    definition,
    element_key,
    ensure_named_members,
    field_node,
    fieldset_of,
    json_value,
    list_keys,
    shape,
    zero_object,
)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_UPDATE_MANAGERS = 10
_MAX_ANNOTATIONS = 256 * 1024
_STRIP = FieldSet({"f:apiVersion": {}, "f:kind": {}, "f:metadata": {
    ".": {}, "f:name": {}, "f:namespace": {}, "f:creationTimestamp": {}, "f:selfLink": {}, "f:uid": {},
    "f:clusterName": {}, "f:generation": {}, "f:managedFields": {}, "f:resourceVersion": {}}})

Ident = tuple[str, str, str, str]  # manager, operation, apiVersion ("" for Apply), subresource


@dataclass(slots=True)
class _Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: FieldSet

    @property
    def ident(self) -> Ident:
        return (self.manager, self.operation, "" if self.operation == "Apply" else self.api_version,
                self.subresource)

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.manager:
            out["manager"] = self.manager
        out["operation"] = self.operation
        out["apiVersion"] = self.api_version
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = self.fields.to_fields_v1()
        if self.subresource:
            out["subresource"] = self.subresource
        return out


Managers = dict[Ident, _Entry]


def _decode(entries: Any, *, trusted: bool) -> Managers:
    """Parse managedFields; ValueError (FieldPathError included) on anything upstream refuses."""
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    out: Managers = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or e.get("operation") not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        if not e.get("apiVersion"):
            raise ValueError("apiVersion must not be empty")
        if e.get("fieldsType") != "FieldsV1":
            raise ValueError(f"invalid fieldsType {e.get('fieldsType')!r} in managed fields entry {i}")
        fv1 = e.get("fieldsV1")
        fields = (FieldSet(fv1, canonical=True) if trusted and isinstance(fv1, dict)
                  else FieldSet.from_fields_v1(fv1))
        entry = _Entry(str(e.get("manager") or ""), e["operation"], str(e["apiVersion"]),
                       str(e.get("subresource") or ""), e.get("time"), fields)
        out[entry.ident] = entry
    return out


def _decode_or_empty(entries: Any) -> Managers:
    if not entries:
        return {}
    try:
        return _decode(entries, trusted=True)
    except ValueError:
        return {}


def _is_reset(entries: Any) -> bool:
    if isinstance(entries, list) and len(entries) == 1 and isinstance(entries[0], dict):
        return all(v in (None, "") for v in entries[0].values())
    return entries == []


def _encode(managers: Managers) -> list[dict[str, Any]]:
    order = sorted(managers.values(), key=lambda e: (e.operation, e.time or "", e.manager, e.api_version,
                                                     e.subresource))
    return [e.encode() for e in order]


def _store(meta: dict[str, Any], managers: Managers) -> None:
    if managers:
        meta["managedFields"] = _encode(managers)
    else:
        meta.pop("managedFields", None)


def _cap_updaters(managers: Managers) -> None:
    updaters = [e for e in managers.values() if e.operation == "Update"]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda e: (e.time or "", _ident_json(e.ident)))
    first: dict[str, _Entry] = {}
    count = len(updaters)
    for e in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        if e.api_version not in first:
            first[e.api_version] = e
            continue
        bucket_id: Ident = ("ancient-changes", "Update", e.api_version, "")
        if e.ident == bucket_id:
            continue
        bucket = managers.get(bucket_id)
        if bucket is None:
            head = managers.pop(first[e.api_version].ident)
            bucket = managers[bucket_id] = _Entry("ancient-changes", "Update", e.api_version, "", head.time,
                                                  head.fields)
        bucket.fields = e.fields.union(bucket.fields)
        bucket.time = e.time
        del managers[e.ident]
        count -= 1


# ---------------------------------------------------------------- non-apply writes

def update_managed_fields(old: dict[str, Any] | None, new: dict[str, Any], *, manager: str, api_version: str,
                          node: Node, now: str, subresource: str = "",
                          reset_fields: FieldSet | None = None) -> None:
    """Record a create/update/patch by `manager` in new["metadata"]["managedFields"]."""
    meta = new.get("metadata")
    if not isinstance(meta, dict):
        return
    old_meta = old.get("metadata") if isinstance(old, dict) else None
    old_mf = old_meta.get("managedFields") if isinstance(old_meta, dict) else None
    managers, from_old = _starting(old_mf, meta.get("managedFields"), subresource)
    try:
        changed, removed = compare_objects(zero_object(node) if old is None else old, new, node)
    except FieldPathError:
        _restore(meta, old_mf)
        return
    if reset_fields:
        changed, removed = changed.recursive_difference(reset_fields), removed.recursive_difference(reset_fields)
    dirty = not from_old
    for ident, e in list(managers.items()):
        kept = e.fields.difference(changed).difference(removed)
        if kept is not e.fields:
            dirty = True
            e.fields = kept
            if not kept:
                del managers[ident]
    own = changed.difference(_STRIP)
    if own:
        dirty = True
        ident = (manager or "unknown", "Update", api_version, subresource)
        prev = managers.get(ident)
        managers[ident] = _Entry(ident[0], "Update", api_version, subresource, now,
                                 own if prev is None else own.union(prev.fields))
    if dirty:
        _cap_updaters(managers)
        _store(meta, managers)
    else:
        _restore(meta, old_mf)


def _starting(old_mf: Any, body_mf: Any, subresource: str) -> tuple[Managers, bool]:
    """The entries an update starts from, and whether they are the stored ones."""
    if subresource or body_mf is None or body_mf is old_mf or body_mf == old_mf:
        return _decode_or_empty(old_mf), True
    if _is_reset(body_mf):
        return {}, False
    try:
        managers = _decode(body_mf, trusted=False)
    except ValueError:
        managers = {}
    if managers:
        return managers, False
    return _decode_or_empty(old_mf), True


def _restore(meta: dict[str, Any], old_mf: Any) -> None:
    if old_mf:
        meta["managedFields"] = old_mf
    else:
        meta.pop("managedFields", None)


# ---------------------------------------------------------------- apply: merge and prune

def _merge(lv: Any, rv: Any, node: Node) -> Any:
    """Merge an applied value into a live one (rhs wins for leaves)."""
    if rv is ABSENT:
        return lv
    if lv is ABSENT:
        return rv
    sh = shape(node)
    if (sh in (STRUCT, GRANULAR)) and isinstance(lv, dict) and (rv is None or isinstance(rv, dict)):
        if not rv:
            return lv if lv else rv
        out = {k: _merge(v, rv.get(k, ABSENT), field_node(node, k)) for k, v in lv.items()}
        out.update((k, v) for k, v in rv.items() if k not in lv)
        return out
    if sh == LIST and isinstance(lv, list) and (rv is None or isinstance(rv, list)):
        if not rv:
            return lv if lv else rv
        return _merge_list(lv, rv, node)
    return rv


def _merge_list(ll: list[Any], rl: list[Any], node: Node) -> list[Any]:
    """Merge associative lists keeping live order, placing applied items as upstream does."""
    keys = list_keys(node) or ()
    item = node.items
    assert item is not None
    lpes = [element_key(e, item, keys) for e in ll]
    rpes = [element_key(e, item, keys) for e in rl]
    lmap: dict[str, Any] = {}
    for pe, e in zip(lpes, ll, strict=True):
        lmap[pe] = None if pe in lmap else e  # duplicates are not merged
    rmap = dict(zip(rpes, rl, strict=True))
    shared = [pe for pe in rpes if pe in lmap]
    out: list[Any] = []
    done: set[str] = set()
    li = ri = si = 0
    while li < len(lpes) or ri < len(rpes):
        nxt = shared[si] if si < len(shared) else None
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                done.add(pe)
                out.append(_merge(lmap[pe], rmap[pe], item))
                li, ri, si = li + 1, ri + 1, si + 1
                continue
            if pe in rmap and nxt is not None and nxt != pe:
                li += 1
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in rmap:
                out.append(ll[li])
                li += 1
                continue
            if pe in done:
                li += 1
        if ri < len(rpes):
            pe = rpes[ri]
            done.add(pe)
            out.append(_merge(lmap.get(pe, ABSENT), rmap[pe], item))
            ri += 1
            if pe == nxt:
                si += 1
    return out


def _remove(v: Any, t: dict[str, Any], node: Node) -> Any:
    """`v` without the members of trie `t` (upstream RemoveItems); empty results are None."""
    sh = shape(node)
    if isinstance(v, dict) and (sh in (STRUCT, GRANULAR)):
        out: dict[str, Any] = {}
        for k, child in v.items():
            sub = t.get("f:" + k)
            if sub is not None and (not sub or "." in sub):
                continue
            if sub:
                child = _remove(child, sub, field_node(node, k))
                if child is None:
                    continue
            out[k] = child
        return out or None
    if isinstance(v, list) and sh == LIST:
        keys = list_keys(node) or ()
        item = node.items
        assert item is not None
        items = []
        for e in v:
            sub = t.get(element_key(e, item, keys))
            if sub is not None and (not sub or "." in sub):
                continue
            items.append(_remove(e, sub, item) if sub else e)
        return items or None
    return v


def _remove_items(obj: Any, fs: FieldSet, node: Node) -> Any:
    return _remove(obj, fs.tree, node) or {} if fs else obj


def _prune(merged: Any, node: Node, managed: FieldSet, last: FieldSet | None) -> Any:
    """Remove what the applier owned last time and nobody owns now (upstream prune)."""
    if not last:
        return merged

    def named(fs: FieldSet) -> FieldSet:
        return ensure_named_members(fs, node)

    last_n = named(last)
    merged_n = named(fieldset_of(merged, node))
    pruned = _remove_items(merged, last_n, node)
    pruned = _remove_items(merged, merged_n.difference(named(fieldset_of(pruned, node)).union(named(managed))),
                           node)
    dangling = merged_n.difference(named(fieldset_of(pruned, node))).intersection(last_n)
    return _remove_items(merged, dangling, node)


# ---------------------------------------------------------------- apply

class _Conflicts(Exception):
    def __init__(self, conflicts: dict[Ident, FieldSet]) -> None:
        super().__init__("conflicts")
        self.conflicts = conflicts


def apply(live: dict[str, Any] | None, applied: dict[str, Any], *, manager: str, force: bool, api_version: str,
          node: Node, now: str, subresource: str = "", reset_fields: FieldSet | None = None) -> dict[str, Any]:
    """Server-side apply `applied` onto `live` (None: create); returns the new object."""
    _check_applied(applied, api_version, node)
    live_obj: dict[str, Any] = live if live is not None else {}
    live_meta = live_obj.get("metadata")
    try:
        managers = _decode(live_meta.get("managedFields") or [], trusted=True) if isinstance(live_meta, dict) else {}
    except ValueError as e:
        raise errors.StatusError(500, "", f"failed to decode managed fields: {e}") from None
    config = _typed(applied, node, "patch", strict=True)
    _typed(live_obj, node, "live", strict=False)
    ident: Ident = (manager or "unknown", "Apply", "", subresource)
    args = (live_obj, applied, config, managers, ident, api_version, node, now, reset_fields)
    try:
        result, managers = _apply_once(*args, force=force)
    except _Conflicts as c:
        remaining = c.conflicts
        if manager == "kubectl":
            allowed = _allowed_by_last_applied(live_obj, api_version, node)
            if allowed is not None:
                remaining = {i: fs.difference(allowed) for i, fs in remaining.items()}
                remaining = {i: fs for i, fs in remaining.items() if fs}
        if remaining:
            raise _conflict_error(remaining) from None
        result, managers = _apply_once(*args, force=True)
    if manager == "kubectl":
        _refresh_last_applied(result, applied)
    _store(result.setdefault("metadata", {}), managers)
    return result


def _apply_once(live: dict[str, Any], applied: dict[str, Any], config: FieldSet, managers: Managers,
                ident: Ident, api_version: str, node: Node, now: str, reset: FieldSet | None, *,
                force: bool) -> tuple[dict[str, Any], Managers]:
    managers = {i: _Entry(e.manager, e.operation, e.api_version, e.subresource, e.time, e.fields)
                for i, e in managers.items()}
    if reset:
        config = config.recursive_difference(reset)
    base = {k: v for k, v in live.items() if k != "metadata"}
    if isinstance(live.get("metadata"), dict):
        base["metadata"] = {k: v for k, v in live["metadata"].items() if k != "managedFields"}
    merged = _merge(base, applied, node)
    last = managers.get(ident)
    owned = config
    for i, e in managers.items():
        if i != ident:
            owned = owned.union(e.fields)
    result = _prune(merged, node, owned, last.fields if last else None)
    changed, removed = compare_objects(live, result, node)
    if reset:
        changed, removed = changed.recursive_difference(reset), removed.recursive_difference(reset)
    conflicts = {i: c for i, e in managers.items() if i != ident and (c := e.fields.intersection(changed))}
    if conflicts and not force:
        raise _Conflicts(conflicts)
    for i, e in list(managers.items()):
        if i != ident:
            e.fields = e.fields.difference(changed).difference(removed)
            if not e.fields:
                del managers[i]
    object_changed = result != base
    own = config.difference(_STRIP)
    managers.pop(ident, None)
    if own:
        managers[ident] = _Entry(ident[0], "Apply", api_version, ident[3],
                                 now if object_changed else (last.time if last else None), own)
    fresh = orjson.loads(orjson.dumps(result if object_changed else base))
    return fresh, managers


def _check_applied(applied: Any, api_version: str, node: Node) -> None:
    if not isinstance(applied, dict):
        raise errors.bad_request("error decoding YAML: the apply patch must be an object")
    av, kind = str(applied.get("apiVersion") or ""), str(applied.get("kind") or "")
    group, _, version = av.rpartition("/") if av.count("/") <= 1 else ("", "", "")
    kinds = {g.kind for g in definition(node.ref).gvks if g.group == group and g.version == version} \
        if node.kind == OBJECT else set()
    if av != api_version or (kinds and kind not in kinds):
        raise errors.bad_request(f"invalid object type: {group}/{version}, Kind={kind}")
    meta = applied.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise errors.bad_request("metadata.managedFields must be nil")


def _typed(obj: dict[str, Any], node: Node, what: str, *, strict: bool) -> FieldSet:
    try:
        return fieldset_of(obj, node, strict=strict)
    except FieldPathError as e:
        meta = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
        av = str(obj.get("apiVersion") or "")
        gv = av if "/" in av else "/" + av
        where = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}; {gv}, Kind={obj.get('kind') or ''}"
        raise errors.StatusError(500, "", f"failed to create typed {what} object ({where}): {e}") from None


def _ident_json(ident: Ident) -> str:
    s = '{"manager":' + json_value(ident[0]) + ',"operation":' + json_value(ident[1])
    if ident[2]:
        s += ',"apiVersion":' + json_value(ident[2])
    if ident[3]:
        s += ',"subresource":' + json_value(ident[3])
    return s + "}"


def _print_manager(ident: Ident) -> str:
    s = go_quote(ident[0])
    if ident[3]:
        s += f" with subresource {go_quote(ident[3])}"
    if ident[1] == "Update":
        s += f" using {ident[2]}"
    return s


def _conflict_error(conflicts: dict[Ident, FieldSet]) -> errors.StatusError:
    """409 Conflict worded as k8s.io/apimachinery's NewConflictError."""
    groups = [(i, _print_manager(i), conflicts[i].paths()) for i in sorted(conflicts, key=_ident_json)]
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {who}", "field": p}
              for _, who, paths in groups for p in paths]
    if len(causes) == 1:
        _, who, paths = groups[0]
        message = f"Apply failed with 1 conflict: conflict with {who}: {paths[0]}"
    else:
        lines = []
        for _, who, paths in groups:
            lines.append(f"conflicts with {who}:")
            lines.extend(f"- {p}" for p in paths)
        message = f"Apply failed with {len(causes)} conflicts: " + "\n".join(lines)
    return errors.StatusError(409, "Conflict", message, {"causes": causes})


def _allowed_by_last_applied(live: dict[str, Any], api_version: str, node: Node) -> FieldSet | None:
    """Fields a matching client-side-apply annotation lets "kubectl" take over."""
    meta = live.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    text = annotations.get(LAST_APPLIED) if isinstance(annotations, dict) else None
    if not text or not isinstance(text, str):
        return None
    try:
        last = orjson.loads(text)
        if not isinstance(last, dict) or last.get("apiVersion") != api_version:
            return None
        changed, removed = compare_objects(last, live, node)
        return fieldset_of(last, node).difference(changed).difference(removed)
    except (orjson.JSONDecodeError, FieldPathError):
        return None


def _refresh_last_applied(obj: dict[str, Any], applied: dict[str, Any]) -> None:
    annotations = obj.get("metadata", {}).get("annotations")
    if not isinstance(annotations, dict) or not annotations.get(LAST_APPLIED):
        return
    copy = orjson.loads(orjson.dumps(applied))
    ann = copy.get("metadata", {}).get("annotations")
    if isinstance(ann, dict):
        ann.pop(LAST_APPLIED, None)
    annotations[LAST_APPLIED] = _go_json(copy)
    if sum(len(k) + len(v) for k, v in annotations.items() if isinstance(v, str)) > _MAX_ANNOTATIONS:
        del annotations[LAST_APPLIED]


def _go_json(v: Any) -> str:
    """encoding/json of an unstructured object: sorted keys, HTML characters escaped."""
    s = orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
