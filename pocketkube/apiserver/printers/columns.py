"""Table building blocks shared by every printer: columns, printers and common cells.

Theory of operation: a `Printer` is the pair upstream registers with `TableHandler`: a
fixed tuple of `Column`s (meta.k8s.io/v1 TableColumnDefinition) and a `row` function
turning one object (a JSON dict as the API serves it) into its cells at time `now`.
The apiserver always prints "wide", so priority-1 cells are always present and kubectl
hides them unless `-o wide`.

The helpers here reproduce the small upstream formatting functions that many kinds
share: `labels.FormatLabels` (sorted `k=v`, `<none>`), `metav1.FormatLabelSelector`
and the selector's `String()`, the CONTAINERS/IMAGES layout, listWithMoreString, the
load-balancer ingress addresses and the "first condition of a type decides" test.
Every workload with a pod template (deployments, replica sets, daemon sets, stateful
sets, replication controllers, jobs, cron jobs) prints the same frame: NAME, its own
cells, AGE, then the wide CONTAINERS, IMAGES and (mostly) SELECTOR;
`template_columns`/`template_row` build that frame once. They are written for
speed: plain dict access, no copies, because `row` runs once per listed object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pocketkube.apiserver.printers.descriptions import doc
from pocketkube.apiserver.printers.duration import rfc3339_utc, translate_timestamp_since

Obj = dict[str, Any]
Cell = str | int | float | bool | None
RowFunc = Callable[[Obj, datetime], list[Cell]]

_EMPTY: dict[str, Any] = {}


@dataclass(frozen=True)
class Column:
    """One meta.k8s.io/v1 TableColumnDefinition."""

    name: str
    type: str
    format: str = ""
    description: str = ""
    priority: int = 0

    def definition(self) -> dict[str, Any]:
        """The TableColumnDefinition JSON (every field present, as upstream encodes it)."""
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


@dataclass(frozen=True)
class Printer:
    """Columns plus the function producing one row's cells."""

    columns: tuple[Column, ...]
    row: RowFunc

    def definitions(self) -> list[dict[str, Any]]:
        return [c.definition() for c in self.columns]


# --- columns every kind repeats ---------------------------------------------------
NAME = Column("Name", "string", "name", doc("meta/v1.ObjectMeta.name"))
AGE = Column("Age", "string", "", doc("meta/v1.ObjectMeta.creationTimestamp"))
CREATED_AT = Column("Created At", "date", "", doc("meta/v1.ObjectMeta.creationTimestamp"))
CONTAINERS_WIDE = Column("Containers", "string", "", "Names of each container in the template.", 1)
IMAGES_WIDE = Column("Images", "string", "", "Images referenced by each container in the template.", 1)


def col(name: str, type_: str, description: str, priority: int = 0, format_: str = "") -> Column:
    """Shorthand for a column (argument order reads like the upstream literals)."""
    return Column(name, type_, format_, description, priority)


# --- cell helpers ---------------------------------------------------------------
def meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else _EMPTY


def sub(obj: Obj | None, key: str) -> Obj:
    """obj[key] as a dict ({} when absent or null): a nil-safe field walk."""
    if not obj:
        return _EMPTY
    v = obj.get(key)
    return v if isinstance(v, dict) else _EMPTY


def items(obj: Obj | None, key: str) -> list[Any]:
    """obj[key] as a list ([] when absent or null)."""
    if not obj:
        return []
    v = obj.get(key)
    return v if isinstance(v, list) else []


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name") or "")


def age(obj: Obj, now: datetime) -> str:
    return translate_timestamp_since(meta(obj).get("creationTimestamp"), now)


def created_at(obj: Obj) -> str:
    return rfc3339_utc(meta(obj).get("creationTimestamp"))


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: sorted `k=v` joined by commas, or `<none>`."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


_SELECTOR_OPS = {"In": " in ", "NotIn": " notin ", "Exists": "", "DoesNotExist": ""}


def selector_string(selector: Any) -> str | None:
    """LabelSelectorAsSelector(sel).String(); None when the selector is invalid."""
    if not selector:
        return ""
    reqs: list[tuple[str, str]] = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        if op not in _SELECTOR_OPS:
            return None
        if op == "Exists":
            reqs.append((key, key))
        elif op == "DoesNotExist":
            reqs.append((key, "!" + key))
        else:
            values = expr.get("values") or []
            if not values:
                return None
            joined = ",".join(sorted(values)) if len(values) > 1 else values[0]
            reqs.append((key, f"{key}{_SELECTOR_OPS[op]}({joined})"))
    reqs.sort(key=lambda r: r[0])
    return ",".join(r[1] for r in reqs)


def format_label_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector: the selector string, `<none>` if empty, `<error>` if invalid."""
    s = selector_string(selector)
    if s is None:
        return "<error>"
    return s or "<none>"


def container_cells(pod_spec: Obj) -> tuple[str, str]:
    """layoutContainerCells: container names and images, comma-joined in order."""
    containers = items(pod_spec, "containers")
    names = ",".join(str(c.get("name", "")) for c in containers)
    images = ",".join(str(c.get("image", "")) for c in containers)
    return names, images


def template_spec(obj: Obj) -> Obj:
    """spec.template.spec of a workload ({} if any level is missing)."""
    return sub(sub(sub(obj, "spec"), "template"), "spec")


def template_columns(*own: Column, selector_doc: str | None = None) -> tuple[Column, ...]:
    """A workload's columns: NAME, its own, AGE, wide CONTAINERS and IMAGES, and a wide SELECTOR
    (described by `selector_doc`) unless None."""
    selector = () if selector_doc is None else (col("Selector", "string", selector_doc, 1),)
    return (NAME, *own, AGE, CONTAINERS_WIDE, IMAGES_WIDE, *selector)


def template_row(obj: Obj, now: datetime, own: list[Cell], pod_spec: Obj, *selector: str) -> list[Cell]:
    """The cells matching `template_columns`: the selector cell, if any, comes last."""
    names, images = container_cells(pod_spec)
    return [name_of(obj), *own, age(obj, now), names, images, *selector]


def list_with_more(values: list[str], limit: int = 3) -> str:
    """listWithMoreString over all values: first `limit`, ` + N more...`, `<unset>` if none."""
    joined = ",".join(values[:limit])
    if len(values) > limit:
        return f"{joined} + {len(values) - limit} more..."
    return joined or "<unset>"


def load_balancer_ingress(status: Obj) -> list[str]:
    """status.loadBalancer.ingress as sorted, unique ip-or-hostname strings."""
    found = set()
    for ing in items(sub(status, "loadBalancer"), "ingress"):
        value = ing.get("ip") or ing.get("hostname")
        if value:
            found.add(value)
    return sorted(found)


def condition_true(conditions: list[Any], ctype: str) -> bool:
    """The first condition of that type decides whether it is True (hasJobCondition and the like)."""
    for c in conditions:
        if c.get("type") == ctype:
            return bool(c.get("status") == "True")
    return False


def int_or_string(value: Any) -> str:
    """intstr.IntOrString.String()."""
    return str(value)


def quantity(value: Any) -> str:
    """resource.Quantity.String() of a served (already canonical) quantity; "0" when unset."""
    if value is None or value == "":
        return "0"
    return str(value)


def quantity_ptr(value: Any) -> str:
    """(*resource.Quantity).String(): `<nil>` for a nil pointer."""
    if value is None:
        return "<nil>"
    return str(value)


def bool_ptr(value: Any) -> str:
    """printBoolPtr: `True`/`False`, or `<unset>` for nil."""
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def default_row(obj: Obj, now: datetime) -> list[Cell]:
    """The default table's cells (apiserver rest.defaultTableConvertor)."""
    return [name_of(obj), created_at(obj)]


DEFAULT_PRINTER = Printer((NAME, CREATED_AT), default_row)
