"""batch/v1 strategies: Job and CronJob.

Theory of operation: a Job gets a generated selector on create unless
`spec.manualSelector` is true: the template is labelled with the job name and
uid (legacy `job-name`/`controller-uid` and the `batch.kubernetes.io/` forms)
and the selector matches `batch.kubernetes.io/controller-uid`. When defaulting
copied the template labels to an unlabelled Job, upstream's two fields share one
Go map, so the Job's own labels gain the generated ones too; the batch defaulter
shares the dict the same way and `_generate_selector` mutates it in place.
Most of a Job's spec is immutable; while a Job is suspended and has never
started, its template's scheduling directives may change. Status updates follow
upstream's strengthened rules for Job conditions and counters (`batch_status`).
CronJobs validate their schedule like robfig/cron (`batch_cron`).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pocketkube.api import labels
from pocketkube.apiserver.registry import batch_cron, batch_status, govalue, workloads
from pocketkube.apiserver.registry.apps import dns_label_name_warning
from pocketkube.apiserver.registry.batch_validation import validate_job_spec_fields
from pocketkube.apiserver.registry.govalue import immutable, nonnegative
from pocketkube.apiserver.strategy import Strategy
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import meta, names

Obj = dict[str, Any]

JOB_NAME = "batch.kubernetes.io/job-name"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
LEGACY_JOB_NAME = "job-name"
LEGACY_CONTROLLER_UID = "controller-uid"


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _generate_selector(job: Obj) -> None:
    spec = job.setdefault("spec", {})
    template = spec.setdefault("template", {})
    md = template.setdefault("metadata", {})
    if md.get("labels") is None:
        md["labels"] = {}
    tl = md["labels"]
    name, uid = job["metadata"].get("name", ""), job["metadata"].get("uid", "")
    for key, value in ((LEGACY_JOB_NAME, name), (JOB_NAME, name), (LEGACY_CONTROLLER_UID, uid), (CONTROLLER_UID, uid)):
        tl.setdefault(key, value)
    ordered = sorted(tl.items())
    tl.clear()
    tl.update(ordered)  # in place: Job labels may share this dict (see module doc)
    selector = spec.get("selector") or {}
    ml = selector.get("matchLabels") or {}
    ml.setdefault(CONTROLLER_UID, uid)
    selector["matchLabels"] = dict(sorted(ml.items()))
    spec["selector"] = selector


def _has_label(template_meta: Obj, key: str, expected: str) -> list[FieldError]:
    lbls = template_meta.get("labels") or {}
    path = f"spec.template.metadata.labels[{key}]"
    if key not in lbls:
        return [errors.required(path, expected)]
    if lbls[key] != expected:
        return [errors.invalid(path, govalue.string_map(lbls), f"must be '{expected}'")]
    return []


def _generated_selector_errors(job: Obj, prefixed: bool) -> list[FieldError]:
    spec = _spec(job)
    if spec.get("manualSelector") or spec.get("selector") is None:
        return []
    name, uid = job["metadata"].get("name", ""), job["metadata"].get("uid", "")
    errs = [] if uid else [errors.required("metadata.uid")]
    tmeta = (spec.get("template") or {}).get("metadata") or {}
    errs += _has_label(tmeta, LEGACY_CONTROLLER_UID, uid) + _has_label(tmeta, LEGACY_JOB_NAME, name)
    expected = {LEGACY_CONTROLLER_UID: uid, LEGACY_JOB_NAME: name}
    if prefixed:
        errs += _has_label(tmeta, CONTROLLER_UID, uid) + _has_label(tmeta, JOB_NAME, name)
        expected.update({CONTROLLER_UID: uid, JOB_NAME: name})
    sel = workloads.as_selector(spec["selector"])
    if sel is not None and not labels.matches(sel, expected):
        errs.append(errors.invalid("spec.selector", govalue.label_selector(spec["selector"]),
                                   "`selector` not auto-generated"))
    return errs


def validate_job(job: Obj, prefixed: bool = True) -> list[FieldError]:
    spec = _spec(job)
    errs = _generated_selector_errors(job, prefixed)
    errs.extend(validate_job_spec_fields(spec, "spec"))
    selector = spec.get("selector")
    if selector is None:
        errs.append(errors.required("spec.selector"))
    else:
        errs.extend(meta.validate_label_selector(selector, "spec.selector"))
    sel = workloads.as_selector(selector)
    if sel is not None:
        errs.extend(workloads.template_match_errors(sel, spec.get("template"), "spec.template"))
    comp = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and comp is not None and comp > 0:
        name = job["metadata"].get("name", "")
        hostname = f"{name}-{comp - 1}"
        if names.dns1123_label_problems(hostname):
            errs.append(errors.invalid("metadata.name", name,
                                       f"will not able to create pod with invalid DNS label: {hostname}"))
    return errs


_SCHEDULING_KEYS = ("nodeSelector", "tolerations", "schedulingGates")


def _template_for_compare(new_t: Obj, old_t: Obj, mutable_scheduling: bool) -> Obj:
    """The old template with the fields a suspended, never-started Job may change taken from the new one."""
    old_t = copy.deepcopy(old_t)
    if not mutable_scheduling:
        return old_t
    new_spec, old_spec = new_t.get("spec") or {}, old_t.setdefault("spec", {})
    for key in _SCHEDULING_KEYS:
        _copy_key(new_spec, old_spec, key)
    new_aff, old_aff = new_spec.get("affinity"), old_spec.get("affinity")
    if new_aff is None and old_aff is not None:
        rest = {k: val for k, val in old_aff.items() if k != "nodeAffinity"}
        if rest:
            old_spec["affinity"] = rest
        else:
            old_spec.pop("affinity")
    elif new_aff is not None:
        old_aff = dict(old_aff or {})
        old_aff.pop("nodeAffinity", None)
        if "nodeAffinity" in new_aff:
            old_aff["nodeAffinity"] = new_aff["nodeAffinity"]
        old_spec["affinity"] = old_aff
    new_md, old_md = new_t.get("metadata") or {}, old_t.setdefault("metadata", {})
    for key in ("annotations", "labels"):
        _copy_key(new_md, old_md, key)
    return old_t


def _copy_key(src: Obj, dst: Obj, key: str) -> None:
    if key in src:
        dst[key] = copy.deepcopy(src[key])
    else:
        dst.pop(key, None)


def _completions_update(spec: Obj, old_spec: Obj) -> list[FieldError]:
    new_c, old_c = spec.get("completions"), old_spec.get("completions")
    if spec.get("completionMode") != "Indexed":
        return immutable(new_c, old_c, "spec.completions")
    if new_c == old_c or new_c is None:
        return []
    if new_c != spec.get("parallelism"):
        return [errors.invalid("spec.completions", new_c, "can only be modified in tandem with spec.parallelism")]
    return []


def validate_job_update(new: Obj, old: Obj) -> list[FieldError]:
    spec, old_spec = _spec(new), _spec(old)
    old_labels = ((old_spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    errs = validate_job(new, prefixed=JOB_NAME in old_labels and CONTROLLER_UID in old_labels)
    errs.extend(_completions_update(spec, old_spec))
    errs.extend(immutable(spec.get("selector"), old_spec.get("selector"), "spec.selector",
                          govalue.label_selector(spec.get("selector"))))
    suspended = bool(old_spec.get("suspend")) and not (old.get("status") or {}).get("startTime")
    new_t, old_t = spec.get("template") or {}, old_spec.get("template") or {}
    errs.extend(immutable(new_t, _template_for_compare(new_t, old_t, suspended), "spec.template",
                          govalue.go_struct("core.PodTemplateSpec", new_t)))
    for key, type_name in (("completionMode", ""), ("podFailurePolicy", "batch.PodFailurePolicy"),
                           ("backoffLimitPerIndex", ""), ("managedBy", ""), ("successPolicy", "batch.SuccessPolicy")):
        shown = govalue.go_struct(type_name, spec.get(key)) if type_name else None
        errs.extend(immutable(spec.get(key), old_spec.get(key), f"spec.{key}", shown))
    return errs


class JobStrategy(Strategy):
    selectable_fields = ("status.successful",)

    def prepare_for_create(self, obj: Obj) -> None:
        if not _spec(obj).get("manualSelector"):
            _generate_selector(obj)
        super().prepare_for_create(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_job(obj)

    def warnings(self, obj: Obj, old: Obj | None = None) -> list[str]:
        return dns_label_name_warning(obj) if old is None else []

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_job_update(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return batch_status.validate_job_status_update(new, old)

    def field_value(self, obj: Obj, field_name: str) -> str | None:
        if field_name == "status.successful":
            return str((obj.get("status") or {}).get("succeeded", 0))
        return super().field_value(obj, field_name)


# --- CronJob ------------------------------------------------------------------------


def _schedule_errors(schedule: str, allow_tz: bool, time_zone: str | None) -> list[FieldError]:
    errs: list[FieldError] = []
    try:
        batch_cron.parse(schedule)
    except batch_cron.CronError as e:
        errs.append(errors.invalid("spec.schedule", schedule, str(e)))
    if allow_tz and "TZ" in schedule and time_zone is not None:
        errs.append(errors.invalid("spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
    elif not allow_tz and "TZ" in schedule:
        errs.append(errors.invalid("spec.schedule", schedule,
                                   "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    return errs


def _time_zone_errors(tz: str) -> list[FieldError]:
    path = "spec.timeZone"
    if tz == "":
        return [errors.invalid(path, tz, "timeZone must be nil or non-empty string")]
    for part in tz.split("/"):
        if part in (".", "..") or part.startswith("-") or not re.fullmatch(r"[A-Za-z.\-_0-9+]{1,14}", part):
            return [errors.invalid(path, tz, f"unknown time zone {tz}")]
    if tz.lower() == "local":
        return [errors.invalid(path, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")]
    err = batch_cron.load_location_error(tz)
    return [errors.invalid(path, tz, err)] if err else []


def validate_cron_job_spec(obj: Obj, old: Obj | None) -> list[FieldError]:
    spec, old_spec = _spec(obj), _spec(old) if old is not None else None
    errs: list[FieldError] = []
    schedule = spec.get("schedule", "")
    if not schedule:
        errs.append(errors.required("spec.schedule"))
    else:
        allow_tz = old_spec is not None and "TZ" in old_spec.get("schedule", "")
        errs.extend(_schedule_errors(schedule, allow_tz, spec.get("timeZone")))
    if spec.get("startingDeadlineSeconds") is not None:
        errs.extend(nonnegative(spec["startingDeadlineSeconds"], "spec.startingDeadlineSeconds"))
    tz = spec.get("timeZone")
    if tz is not None and (old_spec is None or old_spec.get("timeZone") != tz):
        errs.extend(_time_zone_errors(tz))
    policy = spec.get("concurrencyPolicy", "")
    if policy == "":
        errs.append(errors.required("spec.concurrencyPolicy"))
    elif policy not in ("Allow", "Forbid", "Replace"):
        errs.append(errors.not_supported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"]))
    jspec = (spec.get("jobTemplate") or {}).get("spec") or {}
    errs.extend(validate_job_spec_fields(jspec, "spec.jobTemplate.spec"))
    if jspec.get("selector") is not None:
        errs.append(errors.invalid("spec.jobTemplate.spec.selector", govalue.label_selector(jspec["selector"]),
                                   "`selector` will be auto-generated"))
    if jspec.get("manualSelector"):
        errs.append(errors.not_supported("spec.jobTemplate.spec.manualSelector", True, ["nil", "false"]))
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        if spec.get(key) is not None:
            errs.extend(nonnegative(spec[key], f"spec.{key}"))
    return errs


class CronJobStrategy(Strategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        errs = validate_cron_job_spec(obj, None)
        name = obj["metadata"].get("name", "")
        if len(name) > 52:
            errs.append(errors.invalid("metadata.name", name, "must be no more than 52 characters"))
        return errs

    def warnings(self, obj: Obj, old: Obj | None = None) -> list[str]:
        return dns_label_name_warning(obj) if old is None else []

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_cron_job_spec(new, old)


STRATEGIES: dict[str, Strategy] = {
    "CronJob": CronJobStrategy(),
    "Job": JobStrategy(),
}
