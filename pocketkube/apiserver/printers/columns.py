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

Most cells are one field of the object with a default, so a `Column` can carry its own
`cell` (`field("spec.nodeName")`, or a small function for a computed cell) and
`column_printer` turns such columns into a `Printer`: the row is the columns' cells in
order, so a cell cannot drift from its column and no row function is written by hand.
`field` keeps the two Go defaults apart: a plain field's zero value ("", 0, false,
empty) prints the default, a pointer field (`pointer=True`) only when nil.

Every workload with a pod template (deployments, replica sets, daemon sets, stateful
sets, replication controllers, jobs, cron jobs) prints the same frame: NAME, its own
cells, AGE, then the wide CONTAINERS, IMAGES and (mostly) SELECTOR; `template_printer`
builds that frame once. They are written for speed: plain dict access, no copies,
because `row` runs once per listed object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any

from pocketkube.apiserver.printers.descriptions import doc
from pocketkube.apiserver.printers.duration import rfc3339_utc, translate_timestamp_since

Obj = dict[str, Any]
Cell = str | int | float | bool | None
RowFunc = Callable[[Obj, datetime], list[Cell]]
CellFunc = Callable[[Obj, datetime], Cell]

_EMPTY: dict[str, Any] = {}


@dataclass(frozen=True)
class Column:
    """One meta.k8s.io/v1 TableColumnDefinition, plus (optionally) how to compute its cell.

    `cell` is not part of the definition or of equality: two columns that print the
    same header are the same column whatever fills them.
    """

    name: str
    type: str
    format: str = ""
    description: str = ""
    priority: int = 0
    cell: CellFunc | None = dataclass_field(default=None, compare=False, repr=False)

    def definition(self) -> dict[str, Any]:
        """The TableColumnDefinition JSON (every field present, as upstream encodes it)."""
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }

    def with_cell(self, cell: CellFunc) -> Column:
        """The same column filled by another cell (e.g. a NAME that marks the default class)."""
        return replace(self, cell=cell)


@dataclass(frozen=True)
class Printer:
    """Columns plus the function producing one row's cells."""

    columns: tuple[Column, ...]
    row: RowFunc

    def definitions(self) -> list[dict[str, Any]]:
        return [c.definition() for c in self.columns]


def col(
    name: str,
    type_: str,
    description: str,
    priority: int = 0,
    format_: str = "",
    *,
    cell: CellFunc | None = None,
) -> Column:
    """Shorthand for a column (argument order reads like the upstream literals)."""
    return Column(name, type_, format_, description, priority, cell)


def column_printer(*columns: Column) -> Printer:
    """A printer whose row is each column's own `cell`, in column order."""
    cells = _cells(columns)

    def row(obj: Obj, now: datetime) -> list[Cell]:
        return [cell(obj, now) for cell in cells]

    return Printer(columns, row)


def _cells(columns: tuple[Column, ...]) -> tuple[CellFunc, ...]:
    missing = [c.name for c in columns if c.cell is None]
    if missing:
        raise ValueError(f"columns without a cell: {missing}")
    return tuple(c.cell for c in columns if c.cell is not None)


def field(
    path: str, default: Cell = "", convert: Callable[[Any], Cell] | None = str, *, pointer: bool = False
) -> CellFunc:
    """The cell of one field at a dotted path: `default` when empty, else `convert(value)`.

    Empty means falsy (a Go field's zero value prints like an absent one), or with
    `pointer=True` only absent/null (upstream checks the pointer for nil). `convert`
    None prints the served value as it is. Missing or null parents read as {}.
    """
    *parents, key = path.split(".")
    keys = tuple(parents)

    def cell(obj: Obj, now: datetime) -> Cell:
        for k in keys:  # sub() inlined: cells run once per listed object
            v = obj.get(k)
            obj = v if isinstance(v, dict) else _EMPTY
        value = obj.get(key)
        if value is None or (not pointer and not value):
            return default
        return value if convert is None else convert(value)

    return cell


def list_len(value: Any) -> int:
    """The number of entries of a list field (0 for anything else, like `items`)."""
    return len(value) if isinstance(value, list) else 0


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


def _at(obj: Obj, keys: tuple[str, ...]) -> Obj:
    """The dict at a key path below obj ({} when any level is missing)."""
    for key in keys:
        obj = sub(obj, key)
    return obj


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name") or "")


def age(obj: Obj, now: datetime) -> str:
    return translate_timestamp_since(meta(obj).get("creationTimestamp"), now)


def created_at(obj: Obj) -> str:
    return rfc3339_utc(meta(obj).get("creationTimestamp"))


# --- columns every kind repeats ---------------------------------------------------
NAME = Column("Name", "string", "name", doc("meta/v1.ObjectMeta.name"), cell=lambda obj, now: name_of(obj))
AGE = Column("Age", "string", "", doc("meta/v1.ObjectMeta.creationTimestamp"), cell=age)
CREATED_AT = Column(
    "Created At",
    "date",
    "",
    doc("meta/v1.ObjectMeta.creationTimestamp"),
    cell=lambda obj, now: created_at(obj),
)
CONTAINERS_WIDE = Column("Containers", "string", "", "Names of each container in the template.", 1)
IMAGES_WIDE = Column("Images", "string", "", "Images referenced by each container in the template.", 1)


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


POD_TEMPLATE_SPEC = "spec.template.spec"


def int_field(path: str) -> CellFunc:
    """An integer counter field (0 when unset), as most workload status counters print."""
    return field(path, 0, int)


def replica_columns(doc_type: str) -> tuple[Column, ...]:
    """DESIRED, CURRENT, READY of a replica set or replication controller (documented from
    `doc_type` + Spec./Status.); an unset spec.replicas is the defaulted 1."""
    return (
        col(
            "Desired",
            "integer",
            doc(doc_type + "Spec.replicas"),
            cell=field("spec.replicas", 1, int, pointer=True),
        ),
        col("Current", "integer", doc(doc_type + "Status.replicas"), cell=int_field("status.replicas")),
        col(
            "Ready", "integer", doc(doc_type + "Status.readyReplicas"), cell=int_field("status.readyReplicas")
        ),
    )


def template_printer(
    *own: Column, pod_spec: str, selector: CellFunc | None = None, selector_doc: str = ""
) -> Printer:
    """A workload's printer: NAME, its own cell-carrying columns, AGE, the wide CONTAINERS and
    IMAGES of the pod spec at dotted path `pod_spec`, and a wide SELECTOR (described by
    `selector_doc`) when it has a `selector` cell. The two wide cells come from one walk
    of the containers, so they are not column cells."""
    frame = (NAME, *own, AGE, CONTAINERS_WIDE, IMAGES_WIDE)
    columns = frame if selector is None else (*frame, col("Selector", "string", selector_doc, 1))
    cells = _cells(own)
    keys = tuple(pod_spec.split("."))

    def row(obj: Obj, now: datetime) -> list[Cell]:
        own_cells = [cell(obj, now) for cell in cells]
        spec = _at(obj, keys)
        tail: list[Cell] = [] if selector is None else [selector(obj, now)]
        names, images = container_cells(spec)
        return [name_of(obj), *own_cells, age(obj, now), names, images, *tail]

    return Printer(columns, row)


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


DEFAULT_PRINTER = column_printer(NAME, CREATED_AT)
"""The default table (apiserver rest.defaultTableConvertor) for kinds without their own printer."""
