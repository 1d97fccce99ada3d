"""batch/v1 JobSpec validation (upstream pkg/apis/batch/validation) over JSON trees.

Theory of operation: `validate_job_spec_fields` is upstream's validateJobSpec,
shared by Jobs and CronJob job templates: counters, completion modes, pod
failure and success policies, the pod template and the restart policy rule
(OnFailure or Never). Job-only rules (generated selector, selector/template
match, update immutability) and CronJob rules are in `batch`.
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.registry import govalue, workloads
from pocketkube.apiserver.registry.govalue import nonnegative
from pocketkube.apiserver.registry.netchecks import domain_prefixed_path
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import names

Obj = dict[str, Any]

MAX_PARALLELISM_INDEXED = 100000
MAX_FAILED_INDEXES = 100_000
COMPLETIONS_SOFT_LIMIT = 100_000
PARALLELISM_LIMIT_HIGH = 10_000
MAX_FAILED_INDEXES_HIGH = 10_000
POLICY_ACTIONS = ["Count", "FailIndex", "FailJob", "Ignore"]
CONDITION_STATUSES = ["False", "True", "Unknown"]


def _counters(spec: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
                "backoffLimitPerIndex"):
        if spec.get(key) is not None:
            errs.extend(nonnegative(spec[key], f"{path}.{key}"))
    if spec.get("maxFailedIndexes") is not None:
        errs.extend(nonnegative(spec["maxFailedIndexes"], f"{path}.maxFailedIndexes"))
        if spec.get("backoffLimitPerIndex") is None:
            errs.append(errors.required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    return errs


def _indexed_rules(spec: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    comp, par, mfi = spec.get("completions"), spec.get("parallelism"), spec.get("maxFailedIndexes")
    if comp is None:
        errs.append(errors.required(f"{path}.completions", "when completion mode is Indexed"))
    if par is not None and par > MAX_PARALLELISM_INDEXED:
        errs.append(errors.invalid(f"{path}.parallelism", par,
                                   f"must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"))
    if comp is not None and mfi is not None and mfi > comp:
        errs.append(errors.invalid(f"{path}.maxFailedIndexes", mfi, "must be less than or equal to completions"))
    if mfi is not None and mfi > MAX_FAILED_INDEXES:
        errs.append(errors.invalid(f"{path}.maxFailedIndexes", mfi, f"must be less than or equal to {MAX_FAILED_INDEXES}"))
    if comp is not None and comp > COMPLETIONS_SOFT_LIMIT and spec.get("backoffLimitPerIndex") is not None:
        tail = f"when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
        if mfi is None:
            errs.append(errors.required(f"{path}.maxFailedIndexes",
                                        f"must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"))
        if par is not None and par > PARALLELISM_LIMIT_HIGH:
            errs.append(errors.invalid(f"{path}.parallelism", par, f"must be less than or equal to {PARALLELISM_LIMIT_HIGH} {tail}"))
        if mfi is not None and mfi > MAX_FAILED_INDEXES_HIGH:
            errs.append(errors.invalid(f"{path}.maxFailedIndexes", mfi,
                                       f"must be less than or equal to {MAX_FAILED_INDEXES_HIGH} {tail}"))
    return errs


def _completion_mode(spec: Obj, path: str) -> list[FieldError]:
    mode = spec.get("completionMode")
    errs: list[FieldError] = []
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.append(errors.not_supported(f"{path}.completionMode", mode, ["NonIndexed", "Indexed"]))
        if mode == "Indexed":
            errs.extend(_indexed_rules(spec, path))
    if mode in (None, "NonIndexed"):
        for key in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(key) is not None:
                errs.append(errors.invalid(f"{path}.{key}", spec[key], "requires indexed completion mode"))
    return errs


def _on_exit_codes(req: Obj, path: str, containers: set[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    op = req.get("operator", "")
    if op == "":
        errs.append(errors.required(f"{path}.operator", 'valid values: ["In" "NotIn"]'))
    elif op not in ("In", "NotIn"):
        errs.append(errors.not_supported(f"{path}.operator", op, ["In", "NotIn"]))
    cname = req.get("containerName")
    if cname is not None and cname not in containers:
        errs.append(errors.invalid(f"{path}.containerName", cname,
                                   "must be one of the container or initContainer names in the pod template"))
    values = req.get("values") or []
    if not values:
        errs.append(errors.invalid(f"{path}.values", govalue.GoValue("[]int32(nil)"), "at least one value is required"))
    elif len(values) > 255:
        errs.append(errors.too_many(f"{path}.values", len(values), 255))
    seen: set[int] = set()
    for j, val in enumerate(values):
        if op == "In" and val == 0:
            errs.append(errors.invalid(f"{path}.values[{j}]", val, "must not be 0 for the In operator"))
        if val in seen:
            errs.append(errors.duplicate(f"{path}.values[{j}]", val))
        seen.add(val)
    if any(values[j - 1] > values[j] for j in range(1, len(values))):
        shown = govalue.GoValue("[]int32{" + ", ".join(str(x) for x in values) + "}")
        errs.append(errors.invalid(f"{path}.values", shown, "must be ordered"))
    return errs


def _on_pod_conditions(patterns: list[Obj], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if len(patterns) > 20:
        errs.append(errors.too_many(path, len(patterns), 20))
    for j, pat in enumerate(patterns):
        t = pat.get("type", "")
        errs.extend(errors.invalid(f"{path}[{j}].type", t, m) for m in names.qualified_name_problems(t))
        st = pat.get("status", "")
        if st == "":
            errs.append(errors.required(f"{path}[{j}].status", 'valid values: ["False" "True" "Unknown"]'))
        elif st not in CONDITION_STATUSES:
            errs.append(errors.not_supported(f"{path}[{j}].status", st, CONDITION_STATUSES))
    return errs


def _pod_failure_rule(spec: Obj, rule: Obj, path: str, containers: set[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    action = rule.get("action", "")
    if action == "":
        errs.append(errors.required(f"{path}.action", 'valid values: ["Count" "FailIndex" "FailJob" "Ignore"]'))
    elif action == "FailIndex":
        if spec.get("backoffLimitPerIndex") is None:
            errs.append(errors.invalid(f"{path}.action", action, "requires the backoffLimitPerIndex to be set"))
    elif action not in POLICY_ACTIONS:
        errs.append(errors.not_supported(f"{path}.action", action, POLICY_ACTIONS))
    on_exit, on_cond = rule.get("onExitCodes"), rule.get("onPodConditions") or []
    if on_exit is not None:
        errs.extend(_on_exit_codes(on_exit, f"{path}.onExitCodes", containers))
    if on_cond:
        errs.extend(_on_pod_conditions(on_cond, f"{path}.onPodConditions"))
    if on_exit is not None and on_cond:
        errs.append(errors.FieldError(errors.INVALID, path,
                                      detail="specifying both OnExitCodes and OnPodConditions is not supported"))
    if on_exit is None and not on_cond:
        errs.append(errors.FieldError(errors.INVALID, path,
                                      detail="specifying one of OnExitCodes and OnPodConditions is required"))
    return errs


def _pod_failure_policy(spec: Obj, path: str) -> list[FieldError]:
    rules = (spec.get("podFailurePolicy") or {}).get("rules") or []
    errs: list[FieldError] = []
    if len(rules) > 20:
        errs.append(errors.too_many(f"{path}.rules", len(rules), 20))
    pod = (spec.get("template") or {}).get("spec") or {}
    containers = {c.get("name", "") for c in (pod.get("containers") or []) + (pod.get("initContainers") or [])}
    for i, rule in enumerate(rules):
        errs.extend(_pod_failure_rule(spec, rule, f"{path}.rules[{i}]", containers))
    return errs


def indexes_format(text: str, completions: int) -> tuple[int, str]:
    """validateIndexesFormat: (number of indexes, error text or "")."""
    if not text:
        return 0, ""
    last: int | None = None
    total = 0
    for interval in text.split(","):
        limits = interval.split("-")
        if len(limits) > 2:
            return 0, (f'the fragment "{interval}" violates the requirement that an index interval can have at most '
                       "two parts separated by '-'")
        first: int | None = None
        for lim in limits:
            try:
                n = int(lim)
            except ValueError:
                return 0, f'cannot convert string to integer for index: "{lim}"'
            if n >= completions:
                return 0, f'too large index: "{lim}"'
            if last is not None and last >= n:
                return 0, f"non-increasing order, previous: {last}, current: {n}"
            total += 1 if first is None else n - first
            first = n if first is None else first
            last = n
    return total, ""


def _success_policy(spec: Obj, path: str) -> list[FieldError]:
    rules = (spec.get("successPolicy") or {}).get("rules") or []
    errs: list[FieldError] = []
    if not rules:
        errs.append(errors.required(f"{path}.rules", "at least one rules must be specified when the successPolicy is specified"))
    if len(rules) > 20:
        errs.append(errors.too_many(f"{path}.rules", len(rules), 20))
    completions = spec.get("completions") or 0
    for i, rule in enumerate(rules):
        rp = f"{path}.rules[{i}]"
        count, idx = rule.get("succeededCount"), rule.get("succeededIndexes")
        if count is None and idx is None:
            errs.append(errors.required(rp, "at least one of succeededCount or succeededIndexes must be specified"))
        total = 0
        if idx is not None:
            if len(idx) > 64 * 1024:
                errs.append(errors.too_long(f"{rp}.succeededIndexes", 64 * 1024))
            total, err = indexes_format(idx, completions)
            if err:
                errs.append(errors.invalid(f"{rp}.succeededIndexes", idx, f"error parsing succeededIndexes: {err}"))
        if count is not None:
            errs.extend(nonnegative(count, f"{rp}.succeededCount"))
            if count > completions:
                errs.append(errors.invalid(f"{rp}.succeededCount", count,
                                           f"must be less than or equal to {completions} (the number of specified completions)"))
            if idx is not None and count > total:
                errs.append(errors.invalid(f"{rp}.succeededCount", count, f"must be less than or equal to {total} "
                                           "(the number of indexes in the specified succeededIndexes field)"))
    return errs


def _replacement_policy(spec: Obj, path: str) -> list[FieldError]:
    prp = spec.get("podReplacementPolicy")
    if prp is None:
        return []
    if spec.get("podFailurePolicy") is not None:
        return [] if prp == "Failed" else [errors.not_supported(path, prp, ["Failed"])]
    if prp not in ("Failed", "TerminatingOrFailed"):
        return [errors.not_supported(path, prp, ["Failed", "TerminatingOrFailed"])]
    return []


def _restart_policy(spec: Obj, path: str) -> list[FieldError]:
    rp = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy", "")
    p = f"{path}.template.spec.restartPolicy"
    if rp in ("Always", ""):
        return [errors.required(p, 'valid values: "OnFailure", "Never"')]
    if rp not in ("OnFailure", "Never"):
        return [errors.not_supported(p, rp, ["OnFailure", "Never"])]
    if spec.get("podFailurePolicy") is not None and rp != "Never":
        return [errors.invalid(p, rp, 'only "Never" is supported when podFailurePolicy is specified')]
    return []


def validate_job_spec_fields(spec: Obj, path: str) -> list[FieldError]:
    """Upstream validateJobSpec."""
    errs = _counters(spec, path)
    if spec.get("managedBy") is not None:
        errs.extend(domain_prefixed_path(spec["managedBy"], f"{path}.managedBy"))
        if len(spec["managedBy"]) > 63:
            errs.append(errors.too_long(f"{path}.managedBy", 63))
    errs.extend(_completion_mode(spec, path))
    if spec.get("podFailurePolicy") is not None:
        errs.extend(_pod_failure_policy(spec, f"{path}.podFailurePolicy"))
    if spec.get("successPolicy") is not None:
        if spec.get("completionMode", "NonIndexed") != "Indexed":
            errs.append(errors.invalid(f"{path}.successPolicy", govalue.go_struct("batch.SuccessPolicy", spec["successPolicy"]),
                                       "requires indexed completion mode"))
        else:
            errs.extend(_success_policy(spec, f"{path}.successPolicy"))
    errs.extend(_replacement_policy(spec, f"{path}.podReplacementPolicy"))
    errs.extend(workloads.pod_template_errors(spec.get("template") or {}, f"{path}.template"))
    errs.extend(_restart_policy(spec, path))
    return errs
