"""Running a component's coroutine as a process: SIGTERM/SIGINT cancel it cleanly.

Component entry points keep their `amain(args)` free of process concerns so the
same coroutine can run alone (`python -m pocketkube.cmd.scheduler`) or beside
others in one process (pocketkube/cmd/components.py). `run` is what such a
process's `main` does with it: an event loop, the signal handling, and the exit
code (the coroutine's int result; 0 when it returns None, is cancelled by a
signal or interrupted by Ctrl-C).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

from pocketkube.aio.gctuning import tune_gc
from pocketkube.aio.tlsbuffers import shrink_tls_read_buffers

T = TypeVar("T")


async def with_signals(coro: Coroutine[Any, Any, T]) -> T | None:
    """Await `coro`; SIGTERM or SIGINT cancel it (the result is then None)."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await coro
    except asyncio.CancelledError:
        return None
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)


def run(coro: Coroutine[Any, Any, int | None]) -> int:
    """Run `coro` as the process's main coroutine (see the module docstring); the exit code."""
    code: int | None = 0
    tune_gc()
    shrink_tls_read_buffers()
    with contextlib.suppress(KeyboardInterrupt):
        code = asyncio.run(with_signals(coro))
    return code or 0
