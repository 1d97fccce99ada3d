"""discovery.k8s.io/v1 defaults (upstream pkg/apis/discovery/v1/defaults.go).

Theory of operation: an EndpointPort's name defaults to "" (so it is always
present on the wire) and its protocol to TCP. An endpoint's conditions struct
is always serialized, so an absent one reads `{}`.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.defaults import defaults_for

Obj = dict[str, Any]


@defaults_for("io.k8s.api.discovery.v1.EndpointPort")
def endpoint_port(obj: Obj) -> None:
    if obj.get("name") is None:
        obj["name"] = ""
    if obj.get("protocol") is None:
        obj["protocol"] = "TCP"


@defaults_for("io.k8s.api.discovery.v1.Endpoint")
def endpoint(obj: Obj) -> None:
    if obj.get("conditions") is None:
        obj["conditions"] = {}
