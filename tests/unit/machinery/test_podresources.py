"""machinery/podresources.py: a pod's effective request, as the scheduler and the node agent count it."""

from __future__ import annotations

from typing import Any

from pocketkube.machinery import podresources as pr


def c(name: str, sidecar: bool = False, **requests: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "resources": {"requests": dict(requests)}}
    if sidecar:
        out["restartPolicy"] = "Always"
    return out


def test_quantities_in_upstream_units() -> None:
    assert pr.quantity_value("cpu", "1500m") == 1500
    assert pr.quantity_value("cpu", 2) == 2000
    assert pr.quantity_value("memory", "1Ki") == 1024
    assert pr.quantity_value("memory", "nonsense") == 0
    assert pr.amounts({"cpu": "1m", "example.com/gpu": "2"}) == {"cpu": 1, "example.com/gpu": 2}


def test_init_containers_sidecars_and_overhead() -> None:
    spec = {"containers": [c("a", cpu="100m"), c("b", memory="1Mi")],
            "initContainers": [c("i1", cpu="500m"), c("side", True, cpu="200m"), c("i2", cpu="400m")],
            "overhead": {"cpu": "10m"}}
    # regular 100m + sidecar 200m = 300m; init max(500m, 200m, 400m + 200m) = 600m; + 10m overhead
    assert pr.pod_requests(spec) == {"cpu": 610, "memory": 2**20}


def test_non_zero_defaults_per_container() -> None:
    spec = {"containers": [c("a"), c("b", cpu="0")]}
    assert pr.pod_requests(spec) == {"cpu": 0}
    assert pr.pod_requests(spec, non_zero=True) == {"cpu": pr.DEFAULT_MILLI_CPU_REQUEST,
                                                    "memory": 2 * pr.DEFAULT_MEMORY_REQUEST}
