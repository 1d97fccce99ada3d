"""One seam watch on etcd: a bidirectional Watch stream read as an async iterator of batches.

Theory of operation: the stream is opened on the first `__anext__`. Before it, a point Range
at revision `after` makes etcd apply the seam's exact rule (Compacted when after < compacted,
FutureRevision when after > current); etcd's own watch would accept one revision more and any
future one. The stream then asks for start_revision = after + 1 (etcd's start is inclusive)
with prev_kv, so delete events carry the key's last value. Each WatchResponse with events is
one batch (etcd never splits a revision without `fragment`); events at or below the cursor are
dropped. A response with `canceled` ends the watch: Compacted if it names a compact revision
(the watcher fell behind a compaction), Unavailable otherwise, as does a stream that breaks.
`aclose()` (or the store's close) cancels the gRPC call; a reader blocked in `__anext__` then
sees the iteration end. No tasks are created here: grpc.aio's write/read API is used directly.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import grpc

from .etcdpb import etcd_min_pb2 as pb
from .interface import Compacted, Event, Unavailable

if TYPE_CHECKING:
    from .etcd import EtcdStore


class EtcdWatch:
    def __init__(self, store: EtcdStore, prefix: str, after_revision: int) -> None:
        self._store = store
        self._prefix = prefix
        self._after = after_revision
        self._last = after_revision
        self._call: Any = None
        self._closed = False

    def __aiter__(self) -> EtcdWatch:
        return self

    async def __anext__(self) -> list[Event]:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._call is None:
                await self._start()
                continue
            resp = await self._read()
            if resp is None:
                raise StopAsyncIteration
            self._check_canceled(resp)
            batch = [e for e in map(self._store.event, resp.events) if e.revision > self._last]
            if batch:
                self._last = batch[-1].revision
                return batch

    async def aclose(self) -> None:
        self.shut()
        if self._call is not None:
            with contextlib.suppress(Exception):
                await self._call.code()  # returns once gRPC has finished the cancelled call

    async def __aenter__(self) -> EtcdWatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.shut()

    def shut(self) -> None:
        """End the watch now (a blocked reader sees the iteration end)."""
        self._closed = True
        if self._call is not None:
            self._call.cancel()

    # -- internals ------------------------------------------------------------------------
    async def _start(self) -> None:
        store = self._store
        if self._after > 0:  # exact Compacted / FutureRevision semantics before the stream exists
            await store.call(store._range, pb.RangeRequest(key=store.range_key(self._prefix), keys_only=True,
                                                           revision=self._after), self._after)
        if self._closed:
            return
        create = pb.WatchCreateRequest(key=store.range_key(self._prefix), range_end=store.prefix_end(self._prefix),
                                       start_revision=self._after + 1, prev_kv=True)
        self._call = store.watch_stub()
        try:
            await self._call.write(pb.WatchRequest(create_request=create))
        except asyncio.CancelledError:
            self._cancel_if_task_cancelled()
            raise
        except grpc.aio.AioRpcError as exc:
            raise await self._error(exc) from None

    async def _read(self) -> Any:
        """The next response, or None when the watch was shut."""
        try:
            resp = await self._call.read()
        except asyncio.CancelledError:
            if self._closed and not _task_cancelling():
                return None  # shut() cancelled the call under us
            self._cancel_if_task_cancelled()
            raise
        except grpc.aio.AioRpcError as exc:
            if self._closed or (exc.code() == grpc.StatusCode.CANCELLED and self._store.closed):
                return None
            raise await self._error(exc) from None
        if resp is grpc.aio.EOF:
            if self._closed or self._store.closed:
                return None
            raise Unavailable("etcd closed the watch stream")
        return resp

    def _check_canceled(self, resp: Any) -> None:
        if not resp.canceled:
            return
        self.shut()
        if resp.compact_revision:
            raise Compacted(self._last, int(resp.compact_revision))
        raise Unavailable(f"etcd canceled the watch: {resp.cancel_reason or 'no reason given'}")

    def _cancel_if_task_cancelled(self) -> None:
        if _task_cancelling():
            self.shut()

    async def _error(self, exc: grpc.aio.AioRpcError) -> Exception:
        self.shut()
        return await self._store.map_error(exc, self._last)


def _task_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
