"""Running a probe once and judging it, with upstream's retries and events (pkg/kubelet/prober/prober.go).

Theory of operation: `Prober.probe(kind, pod, container, container_id, pod_ip)` runs the
container's probe of that kind with its handler (http.py, tcp.py, exec.py, grpc.py). A run that
*errored* (no handler, a port that cannot be resolved, a runtime error on exec) is retried up to
3 times at once. Then:
- errored: Warning `Unhealthy` "<Kind> probe errored and resulted in <unknown> state: <error>",
  result failure, and `errored=True` (the worker does not count it);
- warning (a redirect the client did not follow): Warning `ProbeWarning` "<Kind> probe warning:
  <output>", result success;
- failure: Warning `Unhealthy` "<Kind> probe failed: <output>", result failure;
- unknown without an error: failure, no event; success: success, no event.
Events go to the EventSink with the container's fieldPath (spec.containers{name}).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketkube.kubelet.podinputs.eventsink import WARNING, EventSink, container_field_path, discard
from pocketkube.kubelet.podinputs.expansion import expand_command_static
from pocketkube.kubelet.podinputs.probes import exec as exec_probe
from pocketkube.kubelet.podinputs.probes import grpc as grpc_probe
from pocketkube.kubelet.podinputs.probes import http as http_probe
from pocketkube.kubelet.podinputs.probes import tcp as tcp_probe
from pocketkube.kubelet.podinputs.probes.spec import (
    Outcome,
    PortError,
    ProbeKind,
    ProbeTiming,
    Result,
    Verdict,
    resolve_port,
)

Obj = dict[str, Any]
MAX_RETRIES = 3


def pod_ref(pod: Obj) -> str:
    """format.Pod: name_namespace(uid)."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name')}_{meta.get('namespace')}({meta.get('uid')})"


class Prober:
    def __init__(self, exec_sync: exec_probe.ExecSync | None = None, events: EventSink = discard) -> None:
        self.exec_sync = exec_sync
        self.events = events

    async def run_once(self, probe: Mapping[str, Any], pod: Obj, container: Obj, container_id: str,
                       pod_ip: str) -> Outcome:
        timeout = ProbeTiming.of(probe).timeout
        try:
            if probe.get("exec") is not None:
                if self.exec_sync is None:
                    return Outcome(Verdict.UNKNOWN, "", "exec probes need a container runtime")
                command = expand_command_static(probe["exec"].get("command") or [], container)
                return await exec_probe.probe(self.exec_sync, container_id, command, timeout)
            if probe.get("httpGet") is not None:
                action = probe["httpGet"]
                if not (action.get("host") or pod_ip):
                    return Outcome(Verdict.UNKNOWN, "", "the pod has no IP yet")
                url = http_probe.probe_url(action, container, pod_ip)
                return await http_probe.probe(url, http_probe.request_headers(action), timeout)
            if probe.get("tcpSocket") is not None:
                action = probe["tcpSocket"]
                port = resolve_port(action.get("port"), container)
                host = str(action.get("host") or pod_ip)
                if not host:
                    return Outcome(Verdict.UNKNOWN, "", "the pod has no IP yet")
                return await tcp_probe.probe(host, port, timeout)
            if probe.get("grpc") is not None:
                action = probe["grpc"]
                if not pod_ip:
                    return Outcome(Verdict.UNKNOWN, "", "the pod has no IP yet")
                return await grpc_probe.probe(pod_ip, str(action.get("service") or ""), int(action.get("port") or 0),
                                              timeout)
        except PortError as e:
            return Outcome(Verdict.UNKNOWN, "", str(e))
        return Outcome(Verdict.UNKNOWN, "", f"missing probe handler for {pod_ref(pod)}:{container.get('name')}")

    async def probe(self, kind: ProbeKind, pod: Obj, container: Obj, container_id: str,
                    pod_ip: str) -> tuple[Result, bool]:
        """(result, errored) of one probe round of `kind` for the container."""
        spec = container.get(kind.field)
        if spec is None:
            return Result.SUCCESS, False
        outcome = Outcome(Verdict.UNKNOWN)
        for _ in range(MAX_RETRIES):
            outcome = await self.run_once(spec, pod, container, container_id, pod_ip)
            if outcome.error is None:
                break
        path = container_field_path(pod, str(container.get("name") or ""))
        if outcome.error is not None:
            self.events(pod, WARNING, "Unhealthy", f"{kind.value} probe errored and resulted in "
                                                   f"{outcome.verdict.value} state: {outcome.error}", path)
            return Result.FAILURE, True
        if outcome.verdict is Verdict.SUCCESS:
            return Result.SUCCESS, False
        if outcome.verdict is Verdict.WARNING:
            self.events(pod, WARNING, "ProbeWarning", f"{kind.value} probe warning: {outcome.output}", path)
            return Result.SUCCESS, False
        if outcome.verdict is Verdict.FAILURE:
            self.events(pod, WARNING, "Unhealthy", f"{kind.value} probe failed: {outcome.output}", path)
        return Result.FAILURE, False
