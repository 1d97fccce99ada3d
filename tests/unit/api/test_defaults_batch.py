"""batch/v1 defaulting (SetDefaults_Job / SetDefaults_CronJob, v1.32 gates)."""

from __future__ import annotations

import copy
from typing import Any

from pocketkube.api import structural

BATCH = "io.k8s.api.batch.v1."
POD = {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}


def defaulted(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    structural.decode(obj, BATCH + kind)
    structural.apply_defaults(obj, BATCH + kind)
    return obj


def test_job_defaults() -> None:
    spec = defaulted({"metadata": {"name": "j"}, "spec": {"template": POD}}, "Job")["spec"]
    assert {k: v for k, v in spec.items() if k != "template"} == {
        "completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed", "manualSelector": False,
    }


def test_job_parallelism_only_leaves_completions_unset() -> None:
    spec = defaulted({"spec": {"parallelism": 3, "template": POD}}, "Job")["spec"]
    assert "completions" not in spec and spec["parallelism"] == 3
    spec = defaulted({"spec": {"completions": 5, "template": POD}}, "Job")["spec"]
    assert spec["completions"] == 5 and spec["parallelism"] == 1


def test_job_backoff_limit_per_index_and_failure_policy() -> None:
    spec = defaulted({"spec": {"backoffLimitPerIndex": 1, "completionMode": "Indexed", "completions": 2,
                               "podFailurePolicy": {"rules": [{"action": "Ignore",
                                                               "onPodConditions": [{"type": "DisruptionTarget"}]}]},
                               "template": POD}}, "Job")["spec"]
    assert spec["backoffLimit"] == 2**31 - 1
    assert spec["podReplacementPolicy"] == "Failed"
    assert spec["podFailurePolicy"]["rules"][0]["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]


def test_job_takes_template_labels_sharing_the_map() -> None:
    job = defaulted({"spec": {"template": {"metadata": {"labels": {"app": "x"}}, **POD}}}, "Job")
    assert job["metadata"]["labels"] == {"app": "x"}
    assert job["metadata"]["labels"] is job["spec"]["template"]["metadata"]["labels"]
    own = defaulted({"metadata": {"labels": {"mine": "1"}},
                     "spec": {"template": {"metadata": {"labels": {"app": "x"}}, **POD}}}, "Job")
    assert own["metadata"]["labels"] == {"mine": "1"}


def test_cron_job_defaults_do_not_default_the_job_template_spec() -> None:
    cj = defaulted({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": POD}}}}, "CronJob")
    spec = cj["spec"]
    assert {k: v for k, v in spec.items() if k not in ("jobTemplate", "schedule")} == {
        "concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
    assert set(spec["jobTemplate"]["spec"]) == {"template"}
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"  # pod defaults do apply
