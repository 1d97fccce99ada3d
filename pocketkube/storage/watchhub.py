"""Fan-out of committed change batches to watchers, with a window of recent batches for replay.

Theory of operation (used by the memory and SQLite stores; all on the event loop):
- The store calls `publish(batch)` once per commit, in commit order. Every revision produces
  exactly one event, so the published revisions are contiguous: all events with a revision
  > `floor` are in the window (the most recent batches, at most `window` events).
- A watcher is an async iterator with a cursor `last`: the highest revision it has delivered.
  To start (or resume) it "syncs": it checks the compacted and current revision, then in one
  step without awaiting registers with the hub and copies the window's events after `last`.
  If the window no longer reaches back to `last`, it registers first (live batches queue up
  from `hub.last` on) and pages the gap (last, hub.last] in from the store's `replay`.
  Queued events at or below the cursor are dropped, so nothing is lost or delivered twice.
- A watcher whose queue passes `max_backlog` events is detached (its queue dropped) and re-syncs
  from its cursor on its next read, so a slow reader costs bounded memory, not a stalled writer.
- `close()` ends every watcher: each drains what it already holds, then stops iterating.
Watchers own no tasks: waiting is one future per `__anext__`, so cancelling the reader
cancels the wait and leaves nothing behind. Hubs hold watchers weakly, so an iterator that is
dropped without `aclose()` goes away with its queue.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Iterator
from typing import Protocol

from .interface import Compacted, Event, Unavailable

REPLAY_PAGE = 1000


class ReplaySource(Protocol):
    """What a hub needs from its store to serve watchers the window cannot."""

    async def replay(self, prefix: str, after: int, upto: int, limit: int) -> list[Event]:
        """Events under `prefix` with after < revision <= upto, ascending; raises Compacted."""
        ...

    async def check_future(self, revision: int) -> None:
        """Raise FutureRevision if `revision` is above the store's committed revision."""
        ...


class WatchHub:
    def __init__(self, source: ReplaySource, *, last: int, compacted: int,
                 window: int, max_backlog: int) -> None:
        self.source = source
        self.last = last  # newest published revision
        self.floor = last  # every event with revision > floor is in the window
        self.compacted = compacted
        self.closed = False
        self.max_backlog = max_backlog
        self._window_max = window
        self._window: deque[list[Event]] = deque()
        self._window_events = 0
        self._watchers: weakref.WeakSet[HubWatcher] = weakref.WeakSet()

    def watch(self, prefix: str, after_revision: int) -> HubWatcher:
        return HubWatcher(self, prefix, after_revision)

    def publish(self, batch: list[Event]) -> None:
        if not batch:
            return
        self.last = batch[-1].revision
        self._window.append(batch)
        self._window_events += len(batch)
        while self._window_events > self._window_max and len(self._window) > 1:
            dropped = self._window.popleft()
            self._window_events -= len(dropped)
            self.floor = dropped[-1].revision
        for watcher in list(self._watchers):
            watcher.push(batch)

    def forget_through(self, revision: int) -> None:
        """Drop window batches wholly at or below `revision` (after compaction)."""
        while self._window and self._window[0][-1].revision <= revision:
            dropped = self._window.popleft()
            self._window_events -= len(dropped)
            self.floor = dropped[-1].revision

    def window_after(self, revision: int) -> Iterator[list[Event]]:
        for batch in self._window:
            if batch[-1].revision > revision:
                yield batch

    def attach(self, watcher: HubWatcher) -> None:
        self._watchers.add(watcher)

    def detach(self, watcher: HubWatcher) -> None:
        self._watchers.discard(watcher)

    @property
    def watcher_count(self) -> int:
        return len(self._watchers)

    def close(self) -> None:
        self.closed = True
        for watcher in list(self._watchers):
            watcher.wake()
        self._watchers.clear()


class HubWatcher:
    """Async iterator of event batches; see the module docstring for the protocol."""

    def __init__(self, hub: WatchHub, prefix: str, after_revision: int) -> None:
        self._hub = hub
        self._prefix = prefix
        self._last = after_revision
        self._queue: deque[list[Event]] = deque()
        self._backlog = 0
        self._attached = False
        self._gap_upto = after_revision  # > _last while a gap is paged in from the store
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def __aiter__(self) -> HubWatcher:
        return self

    async def __anext__(self) -> list[Event]:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._gap_upto > self._last:
                page = await self._page_gap()
                if page:
                    return page
                continue
            batch = self._pop()
            if batch:
                return batch
            if self._hub.closed:
                self._closed = True
                raise StopAsyncIteration
            if not self._attached:
                await self._sync()
                continue
            await self._wait()

    async def aclose(self) -> None:
        self._closed = True
        self._hub.detach(self)
        self._queue.clear()
        self.wake()

    async def __aenter__(self) -> HubWatcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- fed by the hub -------------------------------------------------------------------
    def push(self, batch: list[Event], *, bounded: bool = True) -> None:
        prefix = self._prefix
        events = [e for e in batch if e.key.startswith(prefix)] if prefix else list(batch)
        if not events:
            return
        self._backlog += len(events)
        if bounded and self._backlog > self._hub.max_backlog:
            self._detach()
        else:
            self._queue.append(events)
        self.wake()

    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- internals ------------------------------------------------------------------------
    def _detach(self) -> None:
        self._hub.detach(self)
        self._attached = False
        self._queue.clear()
        self._backlog = 0

    def _pop(self) -> list[Event] | None:
        while self._queue:
            batch = self._queue.popleft()
            self._backlog -= len(batch)
            if batch[0].revision <= self._last:
                batch = [e for e in batch if e.revision > self._last]
                if not batch:
                    continue
            self._last = batch[-1].revision
            return batch
        return None

    async def _sync(self) -> None:
        hub, after = self._hub, self._last
        if after < hub.compacted:
            raise Compacted(after, hub.compacted)
        if after > hub.last:
            try:
                await hub.source.check_future(after)
            except Unavailable:
                if not hub.closed:
                    raise
        if self._closed or hub.closed:
            return
        hub.attach(self)
        self._attached = True
        if after >= hub.floor:
            for batch in hub.window_after(after):
                self.push(batch, bounded=False)  # the window itself bounds this copy
        else:
            self._gap_upto = hub.last

    async def _page_gap(self) -> list[Event]:
        try:
            page = await self._hub.source.replay(self._prefix, self._last, self._gap_upto, REPLAY_PAGE)
        except Unavailable:
            if self._hub.closed or self._closed:
                self._closed = True
                return []
            raise
        if self._closed:
            return []
        if len(page) < REPLAY_PAGE:
            self._last = self._gap_upto
        else:
            self._last = page[-1].revision
        return page

    async def _wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None
