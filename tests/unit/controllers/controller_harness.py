"""What the controller tests share: running informers and controllers for a test, and polling (virtual) time.

`running(factory, *coros)` runs the factory's informers and the given coroutines
(a controller's `run()`, its recorder's `run()`...) as tasks for the duration of
the block and cancels them after it. `until(cond)` polls `cond` every `poll`
seconds until it holds (failing after `timeout`) and returns how long that took;
under virtualtime those are virtual seconds, so the poll period is part of a
test's precision and each test module keeps its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from pocketkube.controllers.base import InformerFactory


@contextlib.asynccontextmanager
async def running(factory: InformerFactory, *coros: Coroutine[Any, Any, Any]) -> AsyncIterator[None]:
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(factory.run()), *(tg.create_task(c) for c in coros)]
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()


async def until(cond: Callable[[], bool], timeout: float, poll: float) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(poll)
    return loop.time() - start
