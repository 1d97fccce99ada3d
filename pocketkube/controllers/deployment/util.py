"""Pure helpers of the Deployment controller (upstream deployment/util and parts of controller_utils).

Theory of operation: everything here is a function of API objects (JSON
dicts) and returns new values without I/O and without changing its inputs
(`set_*` functions change the copy they are given and say whether they did).
- Naming: a Deployment's ReplicaSet for a template is `<deployment>-<hash>`;
  the hash is FNV-32a over a canonical rendering of the template plus the
  collision count (4 little-endian bytes and 4 zero bytes, as upstream), whose
  decimal value is spelled in the "safe" alphabet bcdfghjklmnpqrstvwxz2456789
  one character per digit. Upstream hashes Go's spew dump of the typed struct,
  which a JSON tree cannot reproduce byte for byte, so the names have the
  upstream shape but other values.
- Fenceposts: maxSurge and maxUnavailable resolve against spec.replicas,
  percentages rounding up for surge and down for unavailable; when both come
  to 0, unavailable becomes 1 so a rollout can always move.
- New/old ReplicaSets: the new one has the Deployment's template (ignoring
  the pod-template-hash label, and nil == empty as Go's semantic equality);
  the oldest wins if several do. All others are old.
- Revisions live in the deployment.kubernetes.io/revision annotation; the
  desired-replicas and max-replicas annotations record the Deployment size a
  ReplicaSet was last scaled for, which separates scaling from rolling out and
  drives proportional scaling.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import orjson

from pocketkube.client.indexer import deep_copy

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ANNOTATIONS_TO_SKIP = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
                                 ROLLBACK_TO})
MAX_REV_HISTORY_CHARS = 2000
ROLLING_UPDATE, RECREATE = "RollingUpdate", "Recreate"
MAX_INT32 = 2**31 - 1
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# ---------------------------------------------------------------------------------- hashing
def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """rand.SafeEncodeString: every byte mapped into an alphabet without vowels or look-alikes."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in s.encode())


def compute_hash(template: Obj, collision_count: int | None) -> str:
    """The pod-template-hash of a template (controller.ComputeHash, over canonical JSON)."""
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + b"\0\0\0\0"
    return safe_encode(str(fnv32a(data)))


# ---------------------------------------------------------------------------------- spec accessors
def replicas(obj: Obj | None) -> int:
    """spec.replicas (default 1, as the apiserver defaults it)."""
    if obj is None:
        return 0
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_int(obj: Obj | None, field: str) -> int:
    return int(((obj or {}).get("status") or {}).get(field) or 0)


def strategy_type(d: Obj) -> str:
    return str(((d.get("spec") or {}).get("strategy") or {}).get("type") or ROLLING_UPDATE)


def is_rolling_update(d: Obj) -> bool:
    return strategy_type(d) == ROLLING_UPDATE


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}")
    try:
        percent = int(value[:-1])
    except ValueError as e:
        raise ValueError(f"invalid value {value!r}: {e}") from e
    scaled = percent * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def resolve_fenceposts(max_surge: int | str | None, max_unavailable: int | str | None,
                       desired: int) -> tuple[int, int]:
    """(surge, unavailable): surge rounds up, unavailable down; both 0 means unavailable 1."""
    surge = scaled_value(0 if max_surge is None else max_surge, desired, True)
    unavailable = scaled_value(0 if max_unavailable is None else max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling_params(d: Obj) -> tuple[int | str | None, int | str | None]:
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate")
    if ru is None:
        return "25%", "25%"
    return ru.get("maxSurge"), ru.get("maxUnavailable")


def max_surge(d: Obj) -> int:
    if not is_rolling_update(d):
        return 0
    return resolve_fenceposts(*_rolling_params(d), replicas(d))[0]


def max_unavailable(d: Obj) -> int:
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    return min(resolve_fenceposts(*_rolling_params(d), replicas(d))[1], replicas(d))


def has_progress_deadline(d: Obj) -> bool:
    pds = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return pds is not None and int(pds) != MAX_INT32


def has_revision_history_limit(d: Obj) -> bool:
    limit = (d.get("spec") or {}).get("revisionHistoryLimit")
    return limit is not None and int(limit) != MAX_INT32


# ---------------------------------------------------------------------------------- templates
def _semantic(value: Any) -> Any:
    """Go semantic equality treats nil and empty maps/slices alike; drop them (and nulls) recursively."""
    if isinstance(value, dict):
        out = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def equal_ignore_hash(t1: Obj, t2: Obj) -> bool:
    def strip(t: Obj) -> Any:
        t = deep_copy(t or {})
        labels = (t.get("metadata") or {}).get("labels")
        if isinstance(labels, dict):
            labels.pop(HASH_LABEL, None)
        return _semantic(t)
    return bool(strip(t1) == strip(t2))


def template_of(obj: Obj) -> Obj:
    found: Obj = (obj.get("spec") or {}).get("template") or {}
    return found


# ---------------------------------------------------------------------------------- ordering
def _created(rs: Obj) -> tuple[str, str]:
    m = rs["metadata"]
    return str(m.get("creationTimestamp") or ""), str(m.get("name") or "")


def by_creation(rss: list[Obj]) -> list[Obj]:
    """Oldest first, ties by name (ReplicaSetsByCreationTimestamp)."""
    return sorted(rss, key=_created)


def by_size_older(rss: list[Obj]) -> list[Obj]:
    """Largest first; equal sizes oldest first."""
    return sorted(by_creation(rss), key=lambda rs: -replicas(rs))


def by_size_newer(rss: list[Obj]) -> list[Obj]:
    """Largest first; equal sizes newest first."""
    return sorted(list(reversed(by_creation(rss))), key=lambda rs: -replicas(rs))


def revision(obj: Obj) -> int:
    """The revision annotation (0 if absent); ValueError if it is not a number."""
    value = (obj["metadata"].get("annotations") or {}).get(REVISION)
    return 0 if value is None else int(value)


def by_revision(rss: list[Obj]) -> list[Obj]:
    """Lowest revision first; unparsable or equal revisions by creation (ReplicaSetsByRevision)."""
    def cmp(a: Obj, b: Obj) -> int:
        try:
            ra, rb = revision(a), revision(b)
        except ValueError:
            ra = rb = 0
        if ra == rb:
            return -1 if _created(a) < _created(b) else (1 if _created(a) > _created(b) else 0)
        return -1 if ra < rb else 1
    return sorted(rss, key=functools.cmp_to_key(cmp))


def max_revision(rss: list[Obj]) -> int:
    best = 0
    for rs in rss:
        try:
            best = max(best, revision(rs))
        except ValueError:
            continue
    return best


def last_revision(rss: list[Obj]) -> int:
    """The second highest revision (the one before the current)."""
    top = second = 0
    for rs in rss:
        try:
            v = revision(rs)
        except ValueError:
            continue
        if v >= top:
            top, second = v, top
        elif v > second:
            second = v
    return second


# ---------------------------------------------------------------------------------- ReplicaSet sets
def filter_active(rss: list[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def find_new_replica_set(d: Obj, rss: list[Obj]) -> Obj | None:
    for rs in by_creation(rss):
        if equal_ignore_hash(template_of(rs), template_of(d)):
            return rs
    return None


def find_old_replica_sets(d: Obj, rss: list[Obj]) -> list[Obj]:
    new = find_new_replica_set(d, rss)
    new_uid = new["metadata"]["uid"] if new is not None else None
    return [rs for rs in rss if rs["metadata"]["uid"] != new_uid]


def total(rss: list[Obj | None], field: str = "") -> int:
    """Sum of spec.replicas (no field) or of a status field over the ReplicaSets."""
    return sum((status_int(rs, field) if field else replicas(rs)) for rs in rss if rs is not None)


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """The only active ReplicaSet, or the newest when none is active; None with several active."""
    if new_rs is None and not old_rss:
        return None
    old_sorted = list(reversed(by_creation(old_rss)))
    active = filter_active([*old_sorted, new_rs])
    if not active:
        return new_rs if new_rs is not None else old_sorted[0]
    return active[0] if len(active) == 1 else None


# ---------------------------------------------------------------------------------- annotations
def _annotations(obj: Obj) -> dict[str, str]:
    """The object's annotations, created if missing (a copy being prepared for a write)."""
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta.get("annotations"), dict):
        meta["annotations"] = {}
    ann: dict[str, str] = meta["annotations"]
    return ann


def _int_annotation(rs: Obj, key: str) -> int | None:
    value = (rs["metadata"].get("annotations") or {}).get(key)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def desired_replicas_annotation(rs: Obj) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS)


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    ann = _annotations(rs)
    changed = ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(maximum)
    ann[DESIRED_REPLICAS], ann[MAX_REPLICAS] = str(desired), str(maximum)
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, maximum: int) -> bool:
    ann = rs["metadata"].get("annotations") or {}
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(maximum)


def copy_annotations_to_rs(d: Obj, rs: Obj) -> bool:
    ann = _annotations(rs)
    changed = False
    for k, v in (d["metadata"].get("annotations") or {}).items():
        if k in ANNOTATIONS_TO_SKIP or ann.get(k) == v:
            continue
        ann[k] = v
        changed = True
    return changed


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """Copy the Deployment's annotations, raise the revision (keeping revision-history), size annotations."""
    changed = copy_annotations_to_rs(d, rs)
    ann = _annotations(rs)
    old = ann.get(REVISION)
    try:
        old_int = int(old) if old else 0
    except ValueError:
        return False
    if old_int < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if old:
            _append_revision_history(ann, old)
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def _append_revision_history(ann: dict[str, str], old: str) -> None:
    history = ann.get(REVISION_HISTORY, "")
    if not history:
        ann[REVISION_HISTORY] = old
        return
    parts = history.split(",")
    length, start = len(history) + len(old) + 1, 0
    while length > MAX_REV_HISTORY_CHARS and start < len(parts):
        length -= len(parts[start]) + 1
        start += 1
    if length <= MAX_REV_HISTORY_CHARS:
        ann[REVISION_HISTORY] = ",".join([*parts[start:], old])


def set_deployment_revision(d: Obj, rev: str) -> bool:
    ann = _annotations(d)
    if ann.get(REVISION) == rev:
        return False
    ann[REVISION] = rev
    return True


# ---------------------------------------------------------------------------------- sizing
def go_round(x: float) -> int:
    """math.Round: halves away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def replica_set_fraction(rs: Obj, d: Obj) -> int:
    if replicas(d) == 0:
        return -replicas(rs)
    deployment_replicas = replicas(d) + max_surge(d)
    annotated = _int_annotation(rs, MAX_REPLICAS)
    if annotated is None:
        annotated = status_int(d, "replicas")
    if annotated == 0:
        return 0
    return go_round(replicas(rs) * deployment_replicas / annotated) - replicas(rs)


def proportion(rs: Obj | None, d: Obj, to_add: int, added: int) -> int:
    """How many replicas this ReplicaSet gets of `to_add` (GetProportion)."""
    if rs is None or replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction, allowed = replica_set_fraction(rs, d), to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def new_rs_new_replicas(d: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """The size the new ReplicaSet may grow to now (NewRSNewReplicas)."""
    kind = strategy_type(d)
    if kind == RECREATE:
        return replicas(d)
    if kind != ROLLING_UPDATE:
        raise ValueError(f"deployment type {kind} isn't supported")
    max_total = replicas(d) + scaled_value(_rolling_params(d)[0], replicas(d), True)
    current = total(all_rss)
    if current >= max_total:
        return replicas(new_rs)
    return replicas(new_rs) + min(max_total - current, replicas(d) - replicas(new_rs))


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    desired = desired_replicas_annotation(rs)
    return desired is not None and replicas(rs) == replicas(d) == desired and \
        status_int(rs, "availableReplicas") == replicas(d)


def new_rs_template(d: Obj, pod_hash: str) -> tuple[Obj, Obj]:
    """(template, selector) of a new ReplicaSet: the Deployment's with the hash label added."""
    template = deep_copy(template_of(d))
    template.setdefault("metadata", {})
    template["metadata"]["labels"] = {**(template["metadata"].get("labels") or {}), HASH_LABEL: pod_hash}
    selector = deep_copy((d.get("spec") or {}).get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
    return template, selector

