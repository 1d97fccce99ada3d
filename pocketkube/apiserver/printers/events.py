"""The event printer, for core/v1 Events and events.k8s.io/v1 Events.

Theory of operation (upstream printEvent, v1.32, wide): LAST SEEN is the age of
lastTimestamp, else of FIRST SEEN (firstTimestamp, else eventTime); a `series`
overrides LAST SEEN with series.lastObservedTime and COUNT with series.count; a zero
COUNT prints 1. OBJECT is `lower(kind)/name`; SOURCE is `component, host` falling back
to reportingController / reportingInstance.

Upstream serves events.k8s.io through the internal core Event type, so the same table
results; `_as_core` maps the events.k8s.io/v1 field names (regarding, note,
deprecatedSource, deprecatedFirstTimestamp, ...) onto the core ones before printing.
"""

from __future__ import annotations

from datetime import datetime

from pocketkube.apiserver.printers.columns import Cell, Obj, Printer, col, meta, sub
from pocketkube.apiserver.printers.descriptions import doc
from pocketkube.apiserver.printers.duration import translate_timestamp_since

_COLUMNS = (
    col("Last Seen", "string", doc("core/v1.Event.lastTimestamp")),
    col("Type", "string", doc("core/v1.Event.type")),
    col("Reason", "string", doc("core/v1.Event.reason")),
    col("Object", "string", doc("core/v1.Event.involvedObject")),
    col("Subobject", "string", doc("core/v1.ObjectReference.fieldPath"), 1),
    col("Source", "string", doc("core/v1.Event.source"), 1),
    col("Message", "string", doc("core/v1.Event.message")),
    col("First Seen", "string", doc("core/v1.Event.firstTimestamp"), 1),
    col("Count", "string", doc("core/v1.Event.count"), 1),
    col("Name", "string", doc("meta/v1.ObjectMeta.name"), 1, "name"),
)


def _source(event: Obj) -> str:
    src = sub(event, "source")
    component = src.get("component") or event.get("reportingController") or ""
    instance = src.get("host") or event.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else component


def _target(involved: Obj) -> str:
    kind = str(involved.get("kind") or "").lower()
    name = involved.get("name")
    return f"{kind}/{name}" if name else kind


def _event_cells(event: Obj, now: datetime) -> list[Cell]:
    """Cells of a core/v1-shaped event."""
    first_ts = event.get("firstTimestamp")
    first = translate_timestamp_since(first_ts if first_ts else event.get("eventTime"), now)
    last_ts = event.get("lastTimestamp")
    last = translate_timestamp_since(last_ts, now) if last_ts else first
    count = int(event.get("count") or 0)
    series = event.get("series")
    if series:
        last = translate_timestamp_since(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1
    involved = sub(event, "involvedObject")
    return [
        last,
        str(event.get("type") or ""),
        str(event.get("reason") or ""),
        _target(involved),
        str(involved.get("fieldPath") or ""),
        _source(event),
        str(event.get("message") or "").strip(),
        first,
        count,
        meta(event).get("name", ""),
    ]


def _as_core(ev: Obj) -> Obj:
    """An events.k8s.io/v1 Event viewed with core/v1 Event field names."""
    return {
        "metadata": ev.get("metadata"),
        "involvedObject": ev.get("regarding"),
        "message": ev.get("note"),
        "source": ev.get("deprecatedSource"),
        "reportingController": ev.get("reportingController"),
        "reportingInstance": ev.get("reportingInstance"),
        "firstTimestamp": ev.get("deprecatedFirstTimestamp"),
        "lastTimestamp": ev.get("deprecatedLastTimestamp"),
        "count": ev.get("deprecatedCount"),
        "eventTime": ev.get("eventTime"),
        "series": ev.get("series"),
        "type": ev.get("type"),
        "reason": ev.get("reason"),
    }


def _events_v1_row(ev: Obj, now: datetime) -> list[Cell]:
    return _event_cells(_as_core(ev), now)


EVENT = Printer(_COLUMNS, _event_cells)
EVENTS_V1 = Printer(_COLUMNS, _events_v1_row)
