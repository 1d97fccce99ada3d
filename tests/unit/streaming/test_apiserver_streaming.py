"""The apiserver side: container resolution, PodLogOptions validation, node endpoint, HTTP/1.1 heads."""

from __future__ import annotations

import pytest

from pocketkube.apiserver import streaming
from pocketkube.apiserver.streamproto import http1
from pocketkube.machinery import errors


def pod(*containers: str, init: tuple[str, ...] = ()) -> dict[str, object]:
    return {"metadata": {"name": "p", "namespace": "d"},
            "spec": {"containers": [{"name": c} for c in containers],
                     "initContainers": [{"name": c} for c in init]}}


def test_resolve_container_messages() -> None:
    assert streaming.resolve_container(pod("a"), "") == "a"
    assert streaming.resolve_container(pod("a", "b", init=("i",)), "i") == "i"
    with pytest.raises(errors.StatusError, match=r"^a container name must be specified for pod p, choose one of: "
                                                 r"\[a b\] or one of the init containers: \[i\]$"):
        streaming.resolve_container(pod("a", "b", init=("i",)), "")
    with pytest.raises(errors.StatusError, match=r"^a container name must be specified for pod p, choose one of: "
                                                 r"\[a b\]$"):
        streaming.resolve_container(pod("a", "b"), "")
    with pytest.raises(errors.StatusError, match=r"^container z is not valid for pod p$") as e:
        streaming.resolve_container(pod("a"), "z")
    assert e.value.code == 400


def test_log_query_validation() -> None:
    streaming.validate_log_query({"tailLines": "0", "limitBytes": "1", "sinceSeconds": "5"})
    with pytest.raises(errors.StatusError) as e:
        streaming.validate_log_query({"tailLines": "-1", "sinceSeconds": "1", "sinceTime": "2026-01-01T00:00:00Z"})
    assert e.value.code == 422
    assert "tailLines: Invalid value: -1: must be greater than or equal to 0" in str(e.value)
    with pytest.raises(errors.StatusError) as e:
        streaming.validate_log_query({"limitBytes": "x"})
    assert e.value.code == 400


def test_node_endpoint_prefers_internal_ip() -> None:
    node = {"status": {"addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}}
    assert streaming.node_endpoint(node) == ("10.0.0.5", 10250)
    assert streaming.node_endpoint({"status": {"addresses": [{"type": "Hostname", "address": "n1"}]}}) is None


def test_http1_heads() -> None:
    head = http1.request_head("GET", "/x?y=1", "h:1", [("Upgrade", "websocket"), ("Host", "ignored")])
    assert head == b"GET /x?y=1 HTTP/1.1\r\nHost: h:1\r\nUpgrade: websocket\r\n\r\n"
    status, reason, headers = http1.parse_head(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nA: b: c")
    assert (status, reason, headers) == (101, "Switching Protocols", [("Upgrade", "SPDY/3.1"), ("A", "b: c")])
    with pytest.raises(http1.UpgradeError):
        http1.parse_head(b"SSH-2.0-OpenSSH")
