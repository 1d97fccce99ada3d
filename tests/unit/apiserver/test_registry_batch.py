"""batch/v1 strategies: Job selector generation, immutability, status rules; CronJob schedules."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pocketkube.api import structural
from pocketkube.apiserver.registry import batch, batch_cron
from pocketkube.apiserver.strategy import Strategy
from pocketkube.machinery import errors

BATCH = "io.k8s.api.batch.v1."
JOB = batch.STRATEGIES["Job"]
CRON = batch.STRATEGIES["CronJob"]
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "protobuf" / "expected"
UID = "8d2b0a49-5bd5-4d4c-a3b7-000000000001"
POD = {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}


def job(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default", "uid": UID},
            "spec": {"template": copy.deepcopy(POD), **spec}}


def created(obj: dict[str, Any], strategy: Strategy) -> dict[str, Any]:
    structural.decode(obj, BATCH + obj["kind"])
    structural.apply_defaults(obj, BATCH + obj["kind"])
    strategy.prepare_for_create(obj)
    return obj


def messages(errs: list[errors.FieldError]) -> list[str]:
    return [str(e) for e in errs]


def test_kubectl_create_job_body_is_accepted_with_generated_selector() -> None:
    body = json.loads((FIXTURES / "job.json").read_text())
    body["metadata"].update(namespace="default", uid=UID)
    j = created(body, JOB)
    assert JOB.validate(j) == []
    assert j["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}}
    assert j["spec"]["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": UID, "batch.kubernetes.io/job-name": "j1",
        "controller-uid": UID, "job-name": "j1"}
    assert "labels" not in j["metadata"]
    assert j["status"] == {} and j["metadata"]["generation"] == 1


def test_job_labels_copied_from_template_gain_generated_labels() -> None:
    j = job()
    j["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    created(j, JOB)
    assert j["metadata"]["labels"] == {"app": "pi", "batch.kubernetes.io/controller-uid": UID,
                                       "batch.kubernetes.io/job-name": "pi", "controller-uid": UID, "job-name": "pi"}
    assert JOB.validate(j) == []


def test_manual_selector_must_match_template() -> None:
    j = created(job(manualSelector=True, selector={"matchLabels": {"app": "x"}}), JOB)
    assert messages(JOB.validate(j)) == [
        "spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`"]


def test_wrong_generated_label_is_reported() -> None:
    j = job()
    j["spec"]["template"]["metadata"] = {"labels": {"job-name": "other"}}
    created(j, JOB)
    assert messages(JOB.validate(j))[0] == (
        'spec.template.metadata.labels[job-name]: Invalid value: map[string]string{"batch.kubernetes.io/controller-uid":'
        f'"{UID}", "batch.kubernetes.io/job-name":"pi", "controller-uid":"{UID}", "job-name":"other"}}: must be \'pi\'')


@pytest.mark.parametrize(("policy", "expected"), [
    ("Always", 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'),
    (None, 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'),
])
def test_job_restart_policy(policy: str | None, expected: str) -> None:
    j = job()
    if policy is None:
        del j["spec"]["template"]["spec"]["restartPolicy"]
    else:
        j["spec"]["template"]["spec"]["restartPolicy"] = policy
    assert expected in messages(JOB.validate(created(j, JOB)))


@pytest.mark.parametrize(("spec", "expected"), [
    ({"parallelism": -1}, ["spec.parallelism: Invalid value: -1: must be greater than or equal to 0"]),
    ({"completions": -2}, ["spec.completions: Invalid value: -2: must be greater than or equal to 0"]),
    ({"completionMode": "Sometimes"},
     ['spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"']),
    ({"backoffLimitPerIndex": 1},
     ["spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"]),
    ({"podReplacementPolicy": "Never"},
     ['spec.podReplacementPolicy: Unsupported value: "Never": supported values: "Failed", "TerminatingOrFailed"']),
    ({"managedBy": "nope"},
     ['spec.managedBy: Invalid value: "nope": must be a domain-prefixed path (such as "acme.io/foo")']),
])
def test_job_spec_errors(spec: dict[str, Any], expected: list[str]) -> None:
    assert messages(JOB.validate(created(job(**spec), JOB))) == expected


def test_job_update_immutability() -> None:
    old = created(job(), JOB)
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:2"
    new["spec"]["completions"] = 3
    JOB.prepare_for_update(new, old)
    errs = messages(JOB.validate_update(new, old))
    assert errs[0] == "spec.completions: Invalid value: 3: field is immutable"
    assert errs[1].startswith("spec.template: Invalid value: core.PodTemplateSpec{") and errs[1].endswith(
        ": field is immutable")
    assert new["metadata"]["generation"] == 2


def test_suspended_job_may_change_scheduling_directives() -> None:
    old = created(job(suspend=True), JOB)
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    new["spec"]["template"]["metadata"]["annotations"] = {"a": "b"}
    new["spec"]["suspend"] = False
    assert JOB.validate_update(new, old) == []
    started = copy.deepcopy(old)
    started["status"] = {"startTime": "2025-01-01T00:00:00Z"}
    assert messages(JOB.validate_update(new, started))[0].startswith("spec.template: Invalid value")


def test_elastic_indexed_job_completions() -> None:
    old = created(job(completionMode="Indexed", completions=3, parallelism=3), JOB)
    ok = copy.deepcopy(old)
    ok["spec"].update(completions=5, parallelism=5)
    assert JOB.validate_update(ok, old) == []
    bad = copy.deepcopy(old)
    bad["spec"]["completions"] = 5
    assert messages(JOB.validate_update(bad, old)) == [
        "spec.completions: Invalid value: 5: can only be modified in tandem with spec.parallelism"]


def test_job_status_rules() -> None:
    old = created(job(), JOB)
    old["status"] = {"failed": 2, "startTime": "2025-01-01T00:00:00Z"}
    new = copy.deepcopy(old)
    new["spec"]["parallelism"] = 7
    new["status"] = {"failed": 1, "startTime": "2025-01-01T00:00:00Z",
                     "conditions": [{"type": "Complete", "status": "True"}]}
    JOB.prepare_for_status_update(new, old)
    assert new["spec"]["parallelism"] == 1
    assert messages(JOB.validate_status_update(new, old)) == [
        "status.completionTime: Required value: completionTime is required for Complete jobs",
        "status.failed: Invalid value: 1: cannot decrease the failed counter",
    ]


def test_job_field_selector_and_name_warning() -> None:
    j = created(job(), JOB)
    assert JOB.field_value(j, "status.successful") == "0"
    j["metadata"]["name"] = "Pi"
    assert JOB.warnings(j)[0].startswith("metadata.name: this is used in Pod names and hostnames")


# --- CronJob --------------------------------------------------------------------------


def cron(schedule: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj", "namespace": "default"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": copy.deepcopy(POD)}}, **spec}}


def test_kubectl_create_cronjob_body_is_accepted() -> None:
    body = json.loads((FIXTURES / "cronjob.json").read_text())
    body["metadata"]["namespace"] = "default"
    cj = created(body, CRON)
    assert CRON.validate(cj) == [] and cj["metadata"]["generation"] == 1


@pytest.mark.parametrize(("schedule", "detail"), [
    ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
    ("61 * * * *", "end of range (61) above maximum (59): 61"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("5-3 * * * *", "beginning of range (5) beyond end of range (3): 5-3"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("@bogus", "unrecognized descriptor: @bogus"),
    ("@every 5x", 'failed to parse duration @every 5x: time: unknown unit "x" in duration "5x"'),
])
def test_bad_schedules(schedule: str, detail: str) -> None:
    assert messages(CRON.validate(created(cron(schedule), CRON))) == [
        f"spec.schedule: Invalid value: {json.dumps(schedule)}: {detail}"]


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 0 * * MON-FRI", "@hourly", "@every 1h30m", "0 3 1 jan,jul *",
                                      "? * * * *", "5/15 * * * *"])
def test_good_schedules(schedule: str) -> None:
    assert CRON.validate(created(cron(schedule), CRON)) == []


def test_schedule_bits() -> None:
    sched = batch_cron.parse("*/15 9-17 * * mon-fri")
    assert sched.fields[0] == sum(1 << m for m in (0, 15, 30, 45))
    assert sched.fields[1] == sum(1 << h for h in range(9, 18))
    assert sched.fields[4] == sum(1 << d for d in range(1, 6))


def test_time_zones() -> None:
    assert messages(CRON.validate(created(cron("TZ=UTC 0 * * * *"), CRON))) == [
        'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead']
    assert CRON.validate(created(cron("0 * * * *", timeZone="Etc/UTC"), CRON)) == []
    assert messages(CRON.validate(created(cron("0 * * * *", timeZone="Mars/Olympus"), CRON))) == [
        'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']
    assert messages(CRON.validate(created(cron("0 * * * *", timeZone="Local"), CRON))) == [
        'spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in '
        "https://www.iana.org/time-zones"]


def test_cron_job_template_and_name_rules() -> None:
    cj = cron("* * * * *", concurrencyPolicy="Sometimes")
    cj["metadata"]["name"] = "c" * 53
    cj["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    assert messages(CRON.validate(created(cj, CRON))) == [
        'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
        'spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated",
        f'metadata.name: Invalid value: "{"c" * 53}": must be no more than 52 characters',
    ]


def test_cron_job_update_generation_and_status() -> None:
    old = created(cron("* * * * *"), CRON)
    new = copy.deepcopy(old)
    new["spec"]["suspend"] = True
    CRON.prepare_for_update(new, old)
    assert CRON.validate_update(new, old) == [] and new["metadata"]["generation"] == 2
