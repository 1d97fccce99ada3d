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

from pocketkube.apiserver.printers.columns import (
    Cell,
    Obj,
    Printer,
    bool_ptr,
    col,
    condition_true,
    format_label_selector,
    items,
    meta,
    sub,
    template_columns,
    template_row,
)
from pocketkube.apiserver.printers.descriptions import doc
from pocketkube.apiserver.printers.duration import human_duration, parse_timestamp, translate_timestamp_since

_SELECTOR_DOC = doc("batch/v1.JobSpec.selector")


def job_status(job: Obj) -> str:
    conditions = items(sub(job, "status"), "conditions")
    if condition_true(conditions, "Complete"):
        return "Complete"
    if condition_true(conditions, "Failed"):
        return "Failed"
    if meta(job).get("deletionTimestamp"):
        return "Terminating"
    if condition_true(conditions, "Suspended"):
        return "Suspended"
    if condition_true(conditions, "FailureTarget"):
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
    own: list[Cell] = [job_status(obj), _completions(spec, int(status.get("succeeded") or 0)), _duration(status, now)]
    return template_row(obj, now, own, sub(sub(spec, "template"), "spec"), format_label_selector(spec.get("selector")))


JOB = Printer(
    template_columns(
        col("Status", "string", "Status of the job."),
        col("Completions", "string", doc("batch/v1.JobStatus.succeeded")),
        col("Duration", "string", "Time required to complete the job."),
        selector_doc=_SELECTOR_DOC,
    ),
    _job_row,
)


def _cronjob_row(obj: Obj, now: datetime) -> list[Cell]:
    spec, status = sub(obj, "spec"), sub(obj, "status")
    job_spec = sub(sub(spec, "jobTemplate"), "spec")
    last = status.get("lastScheduleTime")
    own: list[Cell] = [
        str(spec.get("schedule") or ""),
        spec.get("timeZone") if spec.get("timeZone") is not None else "<none>",
        bool_ptr(spec.get("suspend")),
        len(items(status, "active")),
        translate_timestamp_since(last, now) if last else "<none>",
    ]
    return template_row(obj, now, own, sub(sub(job_spec, "template"), "spec"),
                        format_label_selector(job_spec.get("selector")))


_CJ = "batch/v1beta1.CronJob"
CRONJOB = Printer(
    template_columns(
        col("Schedule", "string", doc(_CJ + "Spec.schedule")),
        col("Timezone", "string", doc(_CJ + "Spec.timeZone")),
        col("Suspend", "boolean", doc(_CJ + "Spec.suspend")),
        col("Active", "integer", doc(_CJ + "Status.active")),
        col("Last Schedule", "string", doc(_CJ + "Status.lastScheduleTime")),
        selector_doc=_SELECTOR_DOC,
    ),
    _cronjob_row,
)
