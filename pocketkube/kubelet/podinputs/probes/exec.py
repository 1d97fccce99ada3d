"""exec probes: a command run in the container through the runtime's ExecSync (upstream pkg/probe/exec).

Theory of operation: the probe's command (its $(VAR)s expanded against the container's literal
env values only) runs with ExecSync and timeoutSeconds. Exit code 0 is success, any other exit
code failure; the output of either is stdout followed by stderr, at most 10 KiB. A run that
times out (the runtime answers DEADLINE_EXCEEDED) is failure with output `command "<cmd>" timed
out`; any other runtime error (a binary that does not exist, a container that is gone) is an
error (`rpc error: code = Unknown desc = ...`): the run is not counted, the event says it errored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from pocketkube.kubelet.podinputs.probes import goerrors
from pocketkube.kubelet.podinputs.probes.spec import Outcome, Verdict
from pocketkube.kubelet.runtime.cri_types import CRIError, DeadlineExceeded, ExecSyncResult

MAX_OUTPUT = 10 * 1024
ExecSync = Callable[[str, list[str], int], Awaitable[ExecSyncResult]]


async def probe(exec_sync: ExecSync, container_id: str, command: Sequence[str], timeout: int) -> Outcome:
    cmd = list(command)
    try:
        result = await exec_sync(container_id, cmd, timeout)
    except (DeadlineExceeded, TimeoutError):
        return Outcome(Verdict.FAILURE, f'command "{" ".join(cmd)}" timed out')
    except CRIError as e:
        return Outcome(Verdict.UNKNOWN, "", goerrors.rpc_error(e.code, e.details))
    output = (result.stdout + result.stderr)[:MAX_OUTPUT].decode("utf-8", errors="replace")
    return Outcome(Verdict.SUCCESS if result.exit_code == 0 else Verdict.FAILURE, output)
