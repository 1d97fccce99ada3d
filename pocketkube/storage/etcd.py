"""Store on an etcd 3.4+ cluster over gRPC (grpc.aio with our own stubs; storage-notes §1.5).

Theory of operation: every seam operation is one etcd RPC on one shared channel.
- get = Range(key[, revision]); list = Range(start, prefix_end, limit, revision): the continue
  key is folded into the start, later pages pass the first page's revision; count = count_only.
- create = Txn(CREATE(key) == 0 → Put). update = Txn(MOD(key) == expected → Put keeping the
  lease | else Range(key)), so a failed compare returns the current value for the conflict.
  delete = the same Txn with DeleteRange(prev_kv); without an expected revision a plain
  DeleteRange(prev_kv). The response header's revision is the new revision.
- watch = one bidirectional Watch stream per watcher from start_revision = after + 1 with
  prev_kv (delete events carry the last value); see etcd_watch.py.
- An optional key prefix (`?prefix=/pocketkube`) is added to every key on the way out and
  removed on the way in, so several clusters can share one etcd.
etcd's errors map onto the seam's: "required revision has been compacted" → Compacted,
"future revision" → FutureRevision, UNAVAILABLE / DEADLINE_EXCEEDED → Unavailable. etcd does not
report its compacted revision directly; `compacted_revision()` finds it by bisection (a Range
at revision r fails exactly when r < compacted). etcd keys are bytes; seam keys are str (UTF-8).
"""

from __future__ import annotations

import ipaddress
import weakref
from typing import Any

import grpc

from .etcd_watch import EtcdWatch
from .etcdpb import etcd_min_pb2 as pb
from .interface import (
    Compacted,
    Event,
    EventType,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    RevisionMismatch,
    StorageError,
    Unavailable,
)
from .keyrange import prefix_end_bytes, range_start

MAX_MESSAGE = 256 << 20
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]
_COMPACTED = "required revision has been compacted"
_FUTURE = "required revision is a future revision"
_EQUAL, _CREATE, _MOD = pb.Compare.EQUAL, pb.Compare.CREATE, pb.Compare.MOD


def parse_endpoints(netloc: str) -> list[str]:
    """host:port[,host:port...] → a list; raises ValueError on anything else."""
    endpoints = []
    for part in netloc.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"etcd endpoint must be host:port, not {part!r}")
        endpoints.append(f"{host}:{int(port)}")
    return endpoints


def grpc_target(endpoints: list[str]) -> str:
    """One gRPC target for the endpoints (pick_first tries them in order)."""
    if len(endpoints) == 1:
        return endpoints[0]
    hosts = [e.rpartition(":")[0].strip("[]") for e in endpoints]
    try:
        versions = {ipaddress.ip_address(h).version for h in hosts}
    except ValueError:
        raise ValueError("several etcd endpoints must all be IP addresses") from None
    if len(versions) != 1:
        raise ValueError("several etcd endpoints must all be IPv4 or all IPv6")
    return f"ipv{versions.pop()}:" + ",".join(endpoints)


class EtcdStore:
    """Use `await EtcdStore.open([...])`; see the module docstring."""

    def __init__(self, endpoints: list[str], *, key_prefix: str, timeout: float) -> None:
        self.endpoints = endpoints
        self._prefix = key_prefix.encode()
        self._timeout = timeout
        self._channel = grpc.aio.insecure_channel(grpc_target(endpoints), options=_CHANNEL_OPTIONS)
        self._closed = False
        self._compacted_hint = 0
        self._watches: weakref.WeakSet[EtcdWatch] = weakref.WeakSet()
        ch = self._channel
        self._range = _unary(ch, "KV/Range", pb.RangeRequest, pb.RangeResponse)
        self._txn = _unary(ch, "KV/Txn", pb.TxnRequest, pb.TxnResponse)
        self._delete_range = _unary(ch, "KV/DeleteRange", pb.DeleteRangeRequest, pb.DeleteRangeResponse)
        self._compact = _unary(ch, "KV/Compact", pb.CompactionRequest, pb.CompactionResponse)
        self.watch_stub = ch.stream_stream(
            "/etcdserverpb.Watch/Watch",
            request_serializer=pb.WatchRequest.SerializeToString,
            response_deserializer=pb.WatchResponse.FromString,
        )

    @classmethod
    async def open(cls, endpoints: list[str], *, key_prefix: str = "", dial_timeout: float = 5.0,
                   timeout: float = 30.0) -> EtcdStore:
        store = cls(endpoints, key_prefix=key_prefix, timeout=timeout)
        try:
            await store._range(pb.RangeRequest(key=store._prefix + b"\0", keys_only=True),
                               timeout=dial_timeout)
        except grpc.aio.AioRpcError as exc:
            await store._channel.close()
            raise Unavailable(f"etcd at {','.join(endpoints)} is unreachable: "
                              f"{exc.code().name}: {exc.details()}") from None
        return store

    # -- reads ----------------------------------------------------------------------------
    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        resp = await self.call(self._range, pb.RangeRequest(key=self.wire(key), revision=revision), revision)
        return self.kv(resp.kvs[0]) if resp.kvs else None

    async def list(self, prefix: str, *, start_after: str = "", limit: int = 0,
                   revision: int = 0) -> ListResult:
        start, end = self.range_key(range_start(prefix, start_after)), self.prefix_end(prefix)
        if end != b"\0" and start >= end:
            return ListResult([], revision or await self.current_revision(), False)
        req = pb.RangeRequest(key=start, range_end=end, limit=limit, revision=revision)
        resp = await self.call(self._range, req, revision)
        return ListResult([self.kv(kv) for kv in resp.kvs], revision or resp.header.revision, resp.more)

    async def count(self, prefix: str) -> int:
        req = pb.RangeRequest(key=self.range_key(prefix), range_end=self.prefix_end(prefix), count_only=True)
        return int((await self.call(self._range, req)).count)

    async def current_revision(self) -> int:
        resp = await self.call(self._range, pb.RangeRequest(key=self._prefix + b"\0", keys_only=True))
        return int(resp.header.revision)

    async def compacted_revision(self) -> int:
        """The lowest readable revision, found by bisection (etcd cannot tell 'never' from 1)."""
        lo, hi = max(self._compacted_hint, 1), await self.current_revision()
        if not await self._readable_at(lo):
            while hi - lo > 1:  # lo is unreadable, hi (the current revision) readable
                mid = (lo + hi) // 2
                if await self._readable_at(mid):
                    hi = mid
                else:
                    lo = mid
            lo = hi
        self._compacted_hint = lo if lo > 1 else 0
        return self._compacted_hint

    # -- writes ---------------------------------------------------------------------------
    async def create(self, key: str, value: bytes, *, lease: int = 0) -> int:
        k = self.wire(key)
        txn = pb.TxnRequest(
            compare=[pb.Compare(result=_EQUAL, target=_CREATE, key=k, create_revision=0)],
            success=[pb.RequestOp(request_put=pb.PutRequest(key=k, value=value, lease=lease))],
        )
        resp = await self.call(self._txn, txn)
        if not resp.succeeded:
            raise KeyExists(key)
        return int(resp.header.revision)

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        k = self.wire(key)
        if expected_revision <= 0:  # MOD == 0 would match an absent key; nothing live has it
            raise self._conflict(key, await self.get(key))
        put = pb.PutRequest(key=k, value=value, ignore_lease=True)
        resp = await self.call(self._txn, self._guarded(k, expected_revision, pb.RequestOp(request_put=put)))
        if not resp.succeeded:
            raise self._conflict(key, self._failure_kv(resp))
        return int(resp.header.revision)

    async def delete(self, key: str, *, expected_revision: int = 0) -> tuple[int, KeyValue]:
        k = self.wire(key)
        request = pb.DeleteRangeRequest(key=k, prev_kv=True)
        if not expected_revision:
            resp = await self.call(self._delete_range, request)
            if not resp.deleted:
                raise KeyNotFound(key)
            return int(resp.header.revision), self.kv(resp.prev_kvs[0])
        op = pb.RequestOp(request_delete_range=request)
        txn = await self.call(self._txn, self._guarded(k, expected_revision, op))
        if not txn.succeeded:
            raise self._conflict(key, self._failure_kv(txn))
        deleted = txn.responses[0].response_delete_range
        return int(txn.header.revision), self.kv(deleted.prev_kvs[0])

    async def compact(self, revision: int) -> None:
        try:
            await self.call(self._compact, pb.CompactionRequest(revision=revision, physical=True), revision)
        except Compacted:
            return  # already compacted at or past `revision`
        self._compacted_hint = max(self._compacted_hint, revision)

    def watch(self, prefix: str, *, after_revision: int) -> EtcdWatch:
        self._check_open()
        watch = EtcdWatch(self, prefix, after_revision)
        self._watches.add(watch)
        return watch

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for watch in list(self._watches):
            watch.shut()
        await self._channel.close()

    # -- helpers shared with etcd_watch ----------------------------------------------------
    def wire(self, key: str) -> bytes:
        return self._prefix + key.encode()

    def range_key(self, start: str) -> bytes:
        """The first key of a range: etcd refuses an empty key, and b"\0" sorts first anyway."""
        return self.wire(start) or b"\0"

    def prefix_end(self, prefix: str) -> bytes:
        return prefix_end_bytes(self.wire(prefix))

    def kv(self, kv: Any) -> KeyValue:
        return KeyValue(kv.key[len(self._prefix):].decode(), kv.value, kv.create_revision,
                        kv.mod_revision, kv.lease)

    def event(self, ev: Any) -> Event:
        kv, key = ev.kv, ev.kv.key[len(self._prefix):].decode()
        prev = ev.prev_kv if ev.HasField("prev_kv") else None
        if ev.type == pb.Event.DELETE:
            last = prev.value if prev is not None else b""
            create = prev.create_revision if prev is not None else 0
            return Event("delete", key, last, kv.mod_revision, create, last if prev is not None else None)
        kind: EventType = "create" if kv.create_revision == kv.mod_revision else "update"
        return Event(kind, key, kv.value, kv.mod_revision, kv.create_revision,
                     prev.value if prev is not None else None)

    @property
    def closed(self) -> bool:
        return self._closed

    async def call(self, stub: Any, request: Any, revision: int = 0) -> Any:
        """One unary RPC with the seam's error mapping (`revision` is what the request asked for)."""
        self._check_open()
        try:
            return await stub(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise await self.map_error(exc, revision) from None

    async def map_error(self, exc: grpc.aio.AioRpcError, revision: int) -> StorageError:
        details, code = exc.details() or "", exc.code()
        if _COMPACTED in details:
            return Compacted(revision, await self.compacted_revision())
        if _FUTURE in details:
            return FutureRevision(revision, await self.current_revision())
        if self._closed or code == grpc.StatusCode.CANCELLED:
            return Unavailable(f"etcd store is closed ({code.name}: {details})")
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return Unavailable(f"etcd at {','.join(self.endpoints)}: {code.name}: {details}")
        return StorageError(f"etcd: {code.name}: {details}")

    # -- internals ------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("etcd store is closed")

    def _guarded(self, k: bytes, expected: int, op: Any) -> Any:
        return pb.TxnRequest(
            compare=[pb.Compare(result=_EQUAL, target=_MOD, key=k, mod_revision=expected)],
            success=[op],
            failure=[pb.RequestOp(request_range=pb.RangeRequest(key=k))],
        )

    def _failure_kv(self, resp: Any) -> KeyValue | None:
        kvs = resp.responses[0].response_range.kvs
        return self.kv(kvs[0]) if kvs else None

    @staticmethod
    def _conflict(key: str, current: KeyValue | None) -> StorageError:
        return KeyNotFound(key) if current is None else RevisionMismatch(key, current)

    async def _readable_at(self, revision: int) -> bool:
        self._check_open()
        req = pb.RangeRequest(key=self._prefix + b"\0", revision=revision, keys_only=True)
        try:
            await self._range(req, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if _COMPACTED in (exc.details() or ""):
                return False
            raise await self.map_error(exc, revision) from None
        return True


def _unary(channel: Any, method: str, request: Any, response: Any) -> Any:
    return channel.unary_unary(f"/etcdserverpb.{method}", request_serializer=request.SerializeToString,
                               response_deserializer=response.FromString)
