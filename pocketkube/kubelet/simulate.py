"""What a simulated container "does", read from the pod's annotations (pure).

Theory of operation: a simulated node runs no processes, so each container's
behaviour is data: how long its start takes (what users see as
ContainerCreating), whether and when it exits on its own and with which code,
how long it takes to stop after SIGTERM, and how init containers end. Defaults
come from the agent's `Timing`; a pod overrides them with annotations (all
under `pocketkube.io/`):

  simulate-start-delay     "500ms"  image pull + create + start of each container
  simulate-exit-after      "5s"     regular containers exit after running this long
  simulate-exit-code       "0"      ... with this code (0 -> Completed, else Error)
  simulate-init-duration   "500ms"  how long each init container runs
  simulate-init-exit-code  "0"      ... and its exit code
  simulate-stop-after      "200ms"  time to exit after SIGTERM; beyond the grace
                                    period the container is SIGKILLed (137, Error)
  simulate-stop-exit-code  "0"      exit code when it stops within the grace period
  simulate-ready           "false"  containers never become ready (a failing readiness
                                    probe; see containerstatus.py for simulated probes)

With restartPolicy Never/OnFailure, exit-after gives Jobs-style completion
(Succeeded/Failed); with Always, a non-zero exit code gives a crash loop
(restart counts, CrashLoopBackOff). Sidecars (init containers with
restartPolicy Always) run until stopped. Durations use Go syntax ("1m30s",
"250ms") or plain seconds ("2.5"); unparsable values fall back to defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

PREFIX = "pocketkube.io/simulate-"
START_DELAY = PREFIX + "start-delay"
EXIT_AFTER = PREFIX + "exit-after"
EXIT_CODE = PREFIX + "exit-code"
INIT_DURATION = PREFIX + "init-duration"
INIT_EXIT_CODE = PREFIX + "init-exit-code"
STOP_AFTER = PREFIX + "stop-after"
STOP_EXIT_CODE = PREFIX + "stop-exit-code"
SIGKILL_EXIT_CODE = 137

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)")


@dataclass(frozen=True, slots=True)
class Timing:
    """Default durations (seconds) of a simulated node's lifecycle steps."""

    sandbox: float = 0.0
    start: float = 0.5
    init: float = 0.5
    stop: float = 0.2


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How one pod's simulated containers behave."""

    sandbox_delay: float = 0.0
    start_delay: float = 0.5
    exit_after: float | None = None
    exit_code: int = 0
    init_duration: float = 0.5
    init_exit_code: int = 0
    stop_after: float = 0.2
    stop_exit_code: int = 0


def parse_duration(text: str) -> float | None:
    """Seconds of a Go duration ("1m30s", "250ms") or a plain number; None if invalid or negative."""
    value = text.strip()
    if not value:
        return None
    try:
        seconds = float(value)
        return seconds if seconds >= 0 else None
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _PART.finditer(value):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return total if pos == len(value) else None


def _duration(annotations: Mapping[str, str], key: str, default: float) -> float:
    raw = annotations.get(key)
    parsed = parse_duration(raw) if isinstance(raw, str) else None
    return default if parsed is None else parsed


def _code(annotations: Mapping[str, str], key: str, default: int) -> int:
    raw = annotations.get(key)
    try:
        return int(str(raw).strip()) if raw is not None else default
    except ValueError:
        return default


def behaviour(annotations: Mapping[str, str] | None, timing: Timing = Timing()) -> Behaviour:
    a = annotations or {}
    exit_raw = a.get(EXIT_AFTER)
    exit_after = parse_duration(exit_raw) if isinstance(exit_raw, str) else None
    return Behaviour(
        sandbox_delay=timing.sandbox,
        start_delay=_duration(a, START_DELAY, timing.start),
        exit_after=exit_after,
        exit_code=_code(a, EXIT_CODE, 0),
        init_duration=_duration(a, INIT_DURATION, timing.init),
        init_exit_code=_code(a, INIT_EXIT_CODE, 0),
        stop_after=_duration(a, STOP_AFTER, timing.stop),
        stop_exit_code=_code(a, STOP_EXIT_CODE, 0),
    )


def exit_reason(code: int) -> str:
    """The terminated reason a CRI runtime reports for an exit code."""
    return "Completed" if code == 0 else "Error"
