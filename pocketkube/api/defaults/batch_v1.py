"""batch/v1 defaults (upstream pkg/apis/batch/v1/defaults.go, v1.32 feature gates).

Theory of operation: SetDefaults_Job runs on Job objects only (a CronJob's
jobTemplate.spec is not defaulted this way, as upstream): completions and
parallelism 1 when both unset, parallelism 1, backoffLimit 6 (MaxInt32 with
backoffLimitPerIndex), completionMode NonIndexed, suspend false,
podReplacementPolicy TerminatingOrFailed (Failed with a podFailurePolicy),
manualSelector false. A Job without labels takes its template's labels; the
dict is shared, not copied, because upstream shares the Go map and the Job
strategy relies on that (see registry/batch). CronJobs get Allow, suspend
false, history limits 3 and 1. Pod-condition patterns default status True.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.defaults import defaults_for

Obj = dict[str, Any]

MAX_INT32 = 2**31 - 1


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    return spec


@defaults_for("io.k8s.api.batch.v1.Job")
def job(obj: Obj) -> None:
    spec = _spec(obj)
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    metadata = obj.setdefault("metadata", {})
    if template_labels is not None and not metadata.get("labels"):
        metadata["labels"] = template_labels
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed"
    spec.setdefault("manualSelector", False)


@defaults_for("io.k8s.api.batch.v1.CronJob")
def cron_job(obj: Obj) -> None:
    spec = _spec(obj)
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)


@defaults_for("io.k8s.api.batch.v1.PodFailurePolicyOnPodConditionsPattern")
def pod_conditions_pattern(obj: Obj) -> None:
    if not obj.get("status"):
        obj["status"] = "True"
