from __future__ import annotations

from pocketkube.kubelet import admission


def c(cpu: str = "", memory: str = "", sidecar: bool = False) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    out: dict = {"name": "x", "resources": {"requests": requests}}
    if sidecar:
        out["restartPolicy"] = "Always"
    return out


def test_pod_requests_like_upstream() -> None:
    spec = {"containers": [c("100m", "64Mi"), c("200m")], "initContainers": [c("1"), c("50m", sidecar=True),
                                                                            c("500m")],
            "overhead": {"cpu": "10m"}}
    # regular 300m + sidecar 50m = 350m; init peaks: 1000m, then 50m + 500m = 550m -> 1000m; + 10m overhead
    assert admission.pod_requests(spec) == {"cpu": 1010, "memory": 64 * 2**20}
    assert admission.pod_requests({"containers": [{"name": "x"}]}) == {}


def test_admit_checks_pod_count_first_then_resources() -> None:
    alloc = {"cpu": "2", "memory": "1Gi", "pods": "2"}
    running = [{"spec": {"containers": [c("1500m")]}}]
    assert admission.admit({"spec": {"containers": [c("500m")]}}, alloc, running) is None
    r = admission.admit({"spec": {"containers": [c("600m")]}}, alloc, running)
    assert r == admission.Rejection("OutOfcpu", "Node didn't have enough resource: cpu, requested: 600, used: 1500, "
                                                "capacity: 2000")
    r = admission.admit({"spec": {"containers": [c(memory="2Gi")]}}, alloc, [])
    assert r is not None and r.reason == "OutOfmemory" and "capacity: 1073741824" in r.message
    r = admission.admit({"spec": {"containers": [c()]}}, alloc, running * 2)
    assert r is not None and r.reason == "OutOfpods" and r.message.endswith("requested: 1, used: 2, capacity: 2")
    status = admission.rejected_status({"phase": "Pending", "qosClass": "Burstable"}, r, "t0")
    assert status == {"phase": "Failed", "qosClass": "Burstable", "reason": "OutOfpods", "startTime": "t0",
                      "message": "Pod was rejected: " + r.message}
