"""Printers for batch/v1: jobs and cronjobs.

Theory of operation (upstream v1.32, which already has the job STATUS column):
STATUS is the first of Complete, Failed (True conditions), Terminating (deletion
timestamp), Suspended, FailureTarget (True conditions), else Running. COMPLETIONS is
`succeeded/completions`, or `succeeded/1 of P` when completions is unset and
parallelism > 1. DURATION is completionTime - startTime, or now - startTime while
running, or empty before the job started. A cron job's SUSPEND is printed as the
strings True/False/<unset> (upstream printBoolPtr) under a boolean column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pocketkube.apiserver.printers.columns import (
    AGE,
    CONTAINERS_WIDE,
    IMAGES_WIDE,
    NAME,
    Cell,
    Obj,
    Printer,
    age,
    bool_ptr,
    col,
    container_cells,
    format_label_selector,
    items,
    meta,
    name_of,
    sub,
)
from pocketkube.apiserver.printers.descriptions import doc
from pocketkube.apiserver.printers.duration import human_duration, parse_timestamp, translate_timestamp_since

_SELECTOR_WIDE = col("Selector", "string", doc("batch/v1.JobSpec.selector"), 1)


def _has_condition(conditions: list[Any], ctype: str) -> bool:
    """hasJobCondition: the first condition of that type decides."""
    for c in conditions:
        if c.get("type") == ctype:
            return bool(c.get("status") == "True")
    return False


def job_status(job: Obj) -> str:
    conditions = items(sub(job, "status"), "conditions")
    if _has_condition(conditions, "Complete"):
        return "Complete"
    if _has_condition(conditions, "Failed"):
        return "Failed"
    if meta(job).get("deletionTimestamp"):
        return "Terminating"
    if _has_condition(conditions, "Suspended"):
        return "Suspended"
    if _has_condition(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _completions(spec: Obj, succeeded: int) -> str:
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = spec.get("parallelism") or 0
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def _duration(status: Obj, now: datetime) -> str:
    start = parse_timestamp(status["startTime"]) if status.get("startTime") else None
    if start is None:
        return ""
    done = parse_timestamp(status["completionTime"]) if status.get("completionTime") else None
    end = done if done is not None else now
    return human_duration((end - start).total_seconds())


def _job_row(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = sub(obj, "spec"), sub(obj, "status")
    names, images = container_cells(sub(sub(spec, "template"), "spec"))
    return [
        name_of(obj),
        job_status(obj),
        _completions(spec, int(status.get("succeeded") or 0)),
        _duration(status, now),
        age(obj, now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


JOB = Printer(
    (
        NAME,
        col("Status", "string", "Status of the job."),
        col("Completions", "string", doc("batch/v1.JobStatus.succeeded")),
        col("Duration", "string", "Time required to complete the job."),
        AGE,
        CONTAINERS_WIDE,
        IMAGES_WIDE,
        _SELECTOR_WIDE,
    ),
    _job_row,
)


def _cronjob_row(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = sub(obj, "spec"), sub(obj, "status")
    job_spec = sub(sub(spec, "jobTemplate"), "spec")
    names, images = container_cells(sub(sub(job_spec, "template"), "spec"))
    last = status.get("lastScheduleTime")
    return [
        name_of(obj),
        str(spec.get("schedule") or ""),
        spec.get("timeZone") if spec.get("timeZone") is not None else "<none>",
        bool_ptr(spec.get("suspend")),
        len(items(status, "active")),
        translate_timestamp_since(last, now) if last else "<none>",
        age(obj, now),
        names,
        images,
        format_label_selector(job_spec.get("selector")),
    ]


_CJ = "batch/v1beta1.CronJob"
CRONJOB = Printer(
    (
        NAME,
        col("Schedule", "string", doc(_CJ + "Spec.schedule")),
        col("Timezone", "string", doc(_CJ + "Spec.timeZone")),
        col("Suspend", "boolean", doc(_CJ + "Spec.suspend")),
        col("Active", "integer", doc(_CJ + "Status.active")),
        col("Last Schedule", "string", doc(_CJ + "Status.lastScheduleTime")),
        AGE,
        CONTAINERS_WIDE,
        IMAGES_WIDE,
        _SELECTOR_WIDE,
    ),
    _cronjob_row,
)
