"""Job status-update validation (upstream ValidateJobUpdateStatus with JobManagedBy on).

Theory of operation: since Jobs may be driven by external controllers
(spec.managedBy), v1.32 checks that status transitions are coherent: terminal
conditions stay, counters do not go down, a finished Job has a start time, no
active pods and no uncounted pods, Complete comes with a completion time. As
upstream, most rules only fire when the fields they look at changed in this
update, so a status that was already off does not block unrelated writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pocketkube.apiserver.registry import govalue
from pocketkube.apiserver.registry.batch_validation import indexes_format
from pocketkube.apiserver.registry.govalue import nonnegative
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError

Obj = dict[str, Any]


def condition_true(job: Obj, ctype: str) -> bool:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype and c.get("status") == "True":
            return True
    return False


def finished(job: Obj) -> bool:
    return condition_true(job, "Complete") or condition_true(job, "Failed")


def go_time(value: Any) -> Any:
    """A metav1.Time prints through time.Time.String()."""
    if not isinstance(value, str):
        return value
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return govalue.GoValue(t.strftime("%Y-%m-%d %H:%M:%S +0000 UTC"))


def _conditions_error(detail: str) -> FieldError:
    return errors.FieldError(errors.INVALID, "status.conditions", detail=detail)


def _counts(st: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("active", "succeeded", "failed"):
        errs.extend(nonnegative(st.get(key, 0), f"status.{key}"))
    for key in ("ready", "terminating"):
        if st.get(key) is not None:
            errs.extend(nonnegative(st[key], f"status.{key}"))
    seen: set[str] = set()
    uncounted = st.get("uncountedTerminatedPods") or {}
    for kind in ("succeeded", "failed"):
        for i, uid in enumerate(uncounted.get(kind) or []):
            p = f"status.uncountedTerminatedPods.{kind}[{i}]"
            if uid == "":
                errs.append(errors.invalid(p, uid, "must not be empty"))
            elif uid in seen:
                errs.append(errors.duplicate(p, uid))
            seen.add(uid)
    return errs


def _changed(new: Obj, old: Obj, key: str) -> bool:
    return (new.get("status") or {}).get(key) != (old.get("status") or {}).get(key)


def _terminal_rules(new: Obj, old: Obj) -> list[FieldError]:
    st = new.get("status") or {}
    errs: list[FieldError] = []
    complete, failed = condition_true(new, "Complete"), condition_true(new, "Failed")
    complete_changed = complete != condition_true(old, "Complete")
    failed_changed = failed != condition_true(old, "Failed")
    target_changed = condition_true(new, "FailureTarget") != condition_true(old, "FailureTarget")
    ct_changed = _changed(new, old, "completionTime")
    if (complete_changed or failed_changed) and complete and failed:
        errs.append(_conditions_error("cannot set Complete=True and Failed=true conditions"))
    if (complete_changed or target_changed) and complete and condition_true(new, "FailureTarget"):
        errs.append(_conditions_error("cannot set Complete=True and FailureTarget=true conditions"))
    if (complete_changed or ct_changed) and st.get("completionTime") and not complete:
        errs.append(errors.invalid("status.completionTime", go_time(st["completionTime"]),
                                   "cannot set completionTime when there is no Complete=True condition"))
    if (complete_changed or ct_changed) and complete and not st.get("completionTime"):
        errs.append(errors.required("status.completionTime", "completionTime is required for Complete jobs"))
    start, end = st.get("startTime"), st.get("completionTime")
    if (_changed(new, old, "startTime") or ct_changed) and start and end and end < start:
        errs.append(errors.invalid("status.completionTime", go_time(end), "completionTime cannot be set before startTime"))
    return errs


def _finished_rules(new: Obj, old: Obj) -> list[FieldError]:
    st = new.get("status") or {}
    errs: list[FieldError] = []
    is_finished = finished(new)
    fin_changed = is_finished != finished(old)
    if (fin_changed or _changed(new, old, "active")) and st.get("active", 0) > 0 and is_finished:
        errs.append(errors.invalid("status.active", st["active"], "active>0 is invalid for finished job"))
    if (fin_changed or _changed(new, old, "startTime")) and not st.get("startTime") and is_finished:
        errs.append(errors.required("status.startTime", "startTime is required for finished job"))
    uncounted = st.get("uncountedTerminatedPods") or {}
    if ((fin_changed or _changed(new, old, "uncountedTerminatedPods")) and is_finished
            and (uncounted.get("failed") or uncounted.get("succeeded"))):
        errs.append(errors.invalid("status.uncountedTerminatedPods",
                                   govalue.go_struct("batch.UncountedTerminatedPods", uncounted),
                                   "uncountedTerminatedPods needs to be empty for finished job"))
    return errs


def _index_rules(new: Obj, old: Obj) -> list[FieldError]:
    spec, st = new.get("spec") or {}, new.get("status") or {}
    errs: list[FieldError] = []
    indexed = spec.get("completionMode") == "Indexed"
    completions = spec.get("completions")
    completed = st.get("completedIndexes", "")
    if _changed(new, old, "completedIndexes"):
        if completions is not None:
            _, err = indexes_format(completed, completions)
            if err:
                errs.append(errors.invalid("status.completedIndexes", completed, f"error parsing completedIndexes: {err}"))
        if completed and not indexed:
            errs.append(errors.invalid("status.completedIndexes", completed,
                                       "cannot set non-empty completedIndexes when non-indexed completion mode"))
    failed_idx = st.get("failedIndexes")
    if _changed(new, old, "failedIndexes") and failed_idx is not None:
        if completions is not None and spec.get("backoffLimitPerIndex") is not None:
            _, err = indexes_format(failed_idx, completions)
            if err:
                errs.append(errors.invalid("status.failedIndexes", failed_idx, f"error parsing failedIndexes: {err}"))
        if spec.get("backoffLimitPerIndex") is None:
            errs.append(errors.invalid("status.failedIndexes", failed_idx,
                                       "cannot set non-null failedIndexes when backoffLimitPerIndex is null"))
    return errs


def _transition_rules(new: Obj, old: Obj) -> list[FieldError]:
    st, ost = new.get("status") or {}, old.get("status") or {}
    spec = new.get("spec") or {}
    errs: list[FieldError] = []
    for ctype in ("Failed", "Complete", "FailureTarget"):
        if condition_true(old, ctype) and not condition_true(new, ctype):
            errs.append(_conditions_error(f"cannot disable the terminal {ctype}=True condition"))
    if st.get("failed", 0) < ost.get("failed", 0):
        errs.append(errors.invalid("status.failed", st.get("failed", 0), "cannot decrease the failed counter"))
    elastic = spec.get("completionMode") == "Indexed" and spec.get("completions") == spec.get("parallelism")
    if not elastic and st.get("succeeded", 0) < ost.get("succeeded", 0):
        errs.append(errors.invalid("status.succeeded", st.get("succeeded", 0), "cannot decrease the succeeded counter"))
    ct, oct_ = st.get("completionTime"), ost.get("completionTime")
    if ct and oct_ and ct != oct_:
        errs.append(errors.invalid("status.completionTime", go_time(ct), "completionTime cannot be mutated"))
    if ost.get("startTime") and ost.get("startTime") != st.get("startTime") and not spec.get("suspend"):
        errs.append(errors.required("status.startTime", "startTime cannot be removed for unsuspended job"))
    met, old_met = condition_true(new, "SuccessCriteriaMet"), condition_true(old, "SuccessCriteriaMet")
    if old_met and not met:
        errs.append(_conditions_error("cannot disable the SuccessCriteriaMet=True condition"))
    if condition_true(old, "Complete") and not old_met and met:
        errs.append(_conditions_error("cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions"))
    return errs


def _success_criteria_rules(new: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    met = condition_true(new, "SuccessCriteriaMet")
    if met and condition_true(new, "Failed"):
        errs.append(_conditions_error("cannot set SuccessCriteriaMet=True and Failed=true conditions"))
    if met and condition_true(new, "FailureTarget"):
        errs.append(_conditions_error("cannot set SuccessCriteriaMet=True and FailureTarget=true conditions"))
    if (new.get("spec") or {}).get("successPolicy") is not None and not met and condition_true(new, "Complete"):
        errs.append(_conditions_error("cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True"))
    return errs


def validate_job_status_update(new: Obj, old: Obj) -> list[FieldError]:
    st = new.get("status") or {}
    errs = _counts(st)
    errs.extend(_terminal_rules(new, old))
    errs.extend(_finished_rules(new, old))
    errs.extend(_index_rules(new, old))
    errs.extend(_success_criteria_rules(new))
    errs.extend(_transition_rules(new, old))
    return errs
