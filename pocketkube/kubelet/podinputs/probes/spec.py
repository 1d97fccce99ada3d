"""Probe vocabulary: kinds, results, timing and the handler's target (pure).

Theory of operation: a container may have a liveness, readiness and startup probe; each has one
handler (exec, httpGet, tcpSocket, grpc) and timing with the API's defaults (initialDelaySeconds
0, periodSeconds 10, timeoutSeconds 1, successThreshold 1, failureThreshold 3). Two result
vocabularies exist, as upstream:
- `Outcome` is what one run of a handler says (pkg/probe: success, warning, failure, unknown,
  with its output text), or that it *errored* (`error` set: the run could not be made, e.g. a
  named port that does not exist);
- `Result` is what the results manager publishes (success, failure, unknown): warnings count
  as success; errored runs are not counted at all by the worker.
`resolve_port` finds a named port among the container's ports (falling back to a number written
as a string, as upstream), `kill_message` is the text a failed liveness/startup probe restarts a
container with.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


class ProbeKind(enum.Enum):
    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"

    @property
    def field(self) -> str:
        return {"Liveness": "livenessProbe", "Readiness": "readinessProbe", "Startup": "startupProbe"}[self.value]

    @property
    def initial(self) -> Result:
        """The value a new container starts with: not ready, alive, not known to be started."""
        return {"Liveness": Result.SUCCESS, "Readiness": Result.FAILURE, "Startup": Result.UNKNOWN}[self.value]


class Result(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


class Verdict(enum.Enum):
    """pkg/probe.Result."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    output: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ProbeTiming:
    initial_delay: int = 0
    period: int = 10
    timeout: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def of(cls, probe: Mapping[str, Any]) -> ProbeTiming:
        def pick(key: str, default: int) -> int:
            """SetDefaults_Probe: an unset or zero value is the default."""
            return int(probe.get(key) or 0) or default

        return cls(initial_delay=int(probe.get("initialDelaySeconds") or 0), period=pick("periodSeconds", 10),
                   timeout=pick("timeoutSeconds", 1), success_threshold=pick("successThreshold", 1),
                   failure_threshold=pick("failureThreshold", 3))


class PortError(ValueError):
    pass


def _atoi(text: str) -> int:
    """strconv.Atoi with its error text."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        raise PortError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


def resolve_port(port: Any, container: Mapping[str, Any]) -> int:
    """ResolveContainerPort: an int, a named container port, or a number in a string; 1..65535."""
    if isinstance(port, bool) or port is None:
        raise PortError(f"intOrString had no kind: {port!r}")
    if isinstance(port, int):
        value = port
    else:
        named = [p for p in container.get("ports") or [] if p.get("name") == str(port)]
        value = int(named[0].get("containerPort") or 0) if named else _atoi(str(port))
    if 0 < value < 65536:
        return value
    raise PortError(f"invalid port number: {value}")


def handler_of(probe: Mapping[str, Any]) -> str | None:
    return next((h for h in HANDLERS if probe.get(h) is not None), None)


def kill_message(kind: ProbeKind, container: str, will_restart: bool) -> str:
    """The Killing event text of a container whose liveness/startup probe failed (kuberuntime)."""
    text = f"Container {container} failed {kind.value.lower()} probe"
    return text + ", will be restarted" if will_restart else text


def host_port(host: str, port: int) -> str:
    """net.JoinHostPort."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
