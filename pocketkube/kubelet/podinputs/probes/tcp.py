"""tcpSocket probes: a TCP connect within timeoutSeconds (upstream pkg/probe/tcp).

Theory of operation: connect to host:port (host defaults to the pod IP) and close at once; a
connection made is success with no output, a failed or timed-out connect is failure with Go's
dial error as output (`dial tcp 10.244.0.5:8080: connect: connection refused`,
`dial tcp 10.244.0.5:8080: i/o timeout`).
"""

from __future__ import annotations

import asyncio
import contextlib

from pocketkube.kubelet.podinputs.probes import goerrors
from pocketkube.kubelet.podinputs.probes.spec import Outcome, Verdict, host_port


async def probe(host: str, port: int, timeout: float) -> Outcome:
    addr = host_port(host, port)
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError as e:
        return Outcome(Verdict.FAILURE, goerrors.dial_error(addr, e))
    except OSError as e:
        return Outcome(Verdict.FAILURE, goerrors.dial_error(addr, e))
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return Outcome(Verdict.SUCCESS, "")
