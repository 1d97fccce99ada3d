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
    POD_TEMPLATE_SPEC,
    Cell,
    Obj,
    bool_ptr,
    col,
    condition_true,
    field,
    format_label_selector,
    items,
    list_len,
    meta,
    sub,
    template_printer,
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


def _completions(obj: Obj, now: datetime) -> Cell:
    spec = sub(obj, "spec")
    succeeded = int(sub(obj, "status").get("succeeded") or 0)
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = spec.get("parallelism") or 0
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def _duration(obj: Obj, now: datetime) -> Cell:
    status = sub(obj, "status")
    start = parse_timestamp(status["startTime"]) if status.get("startTime") else None
    if start is None:
        return ""
    done = parse_timestamp(status["completionTime"]) if status.get("completionTime") else None
    end = done if done is not None else now
    return human_duration((end - start).total_seconds())


JOB = template_printer(
    col("Status", "string", "Status of the job.", cell=lambda obj, now: job_status(obj)),
    col("Completions", "string", doc("batch/v1.JobStatus.succeeded"), cell=_completions),
    col("Duration", "string", "Time required to complete the job.", cell=_duration),
    pod_spec=POD_TEMPLATE_SPEC,
    selector=field("spec.selector", "<none>", format_label_selector),
    selector_doc=_SELECTOR_DOC,
)


def _last_schedule(obj: Obj, now: datetime) -> Cell:
    last = sub(obj, "status").get("lastScheduleTime")
    return translate_timestamp_since(last, now) if last else "<none>"


_CJ = "batch/v1beta1.CronJob"
_JOB_SPEC = "spec.jobTemplate.spec"
CRONJOB = template_printer(
    col("Schedule", "string", doc(_CJ + "Spec.schedule"), cell=field("spec.schedule")),
    col(
        "Timezone",
        "string",
        doc(_CJ + "Spec.timeZone"),
        cell=field("spec.timeZone", "<none>", None, pointer=True),
    ),
    col(
        "Suspend",
        "boolean",
        doc(_CJ + "Spec.suspend"),
        cell=field("spec.suspend", "<unset>", bool_ptr, pointer=True),
    ),
    col("Active", "integer", doc(_CJ + "Status.active"), cell=field("status.active", 0, list_len)),
    col("Last Schedule", "string", doc(_CJ + "Status.lastScheduleTime"), cell=_last_schedule),
    pod_spec=_JOB_SPEC + ".template.spec",
    selector=field(_JOB_SPEC + ".selector", "<none>", format_label_selector),
    selector_doc=_SELECTOR_DOC,
)
