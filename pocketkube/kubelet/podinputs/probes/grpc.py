"""grpc probes: grpc.health.v1.Health/Check on the pod IP (upstream pkg/probe/grpc).

Theory of operation: the health protocol is two one-field messages, encoded by hand here (no
generated code): HealthCheckRequest{service = 1 (string)} and HealthCheckResponse{status = 1
(enum: UNKNOWN, SERVING, NOT_SERVING, SERVICE_UNKNOWN)}. A plaintext channel to
JoinHostPort(pod IP, port) must become ready within timeoutSeconds (`timeout: failed to connect
service "10.244.0.5:9000" within 1s: context deadline exceeded`), then Check is called within
what is left of it. SERVING is success ("service is serving"); any other status is failure
(`service unhealthy (responded with "NOT_SERVING")`); an RPC error is failure: Unimplemented
`error: this server does not implement the grpc health protocol (grpc.health.v1.Health): <msg>`,
DeadlineExceeded `timeout: health rpc did not complete within 1s`, others `error: health rpc
probe failed: rpc error: code = ... desc = ...`.
"""

from __future__ import annotations

import asyncio
import time

import grpc
import grpc.aio

from pocketkube.kubelet.podinputs.probes import goerrors
from pocketkube.kubelet.podinputs.probes.spec import Outcome, Verdict, host_port
from pocketkube.kubelet.timefmt import go_duration

CHECK = "/grpc.health.v1.Health/Check"
STATUSES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
USER_AGENT = "kube-probe/1.32"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def encode_request(service: str) -> bytes:
    raw = service.encode()
    return b"\x0a" + _varint(len(raw)) + raw if raw else b""


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def decode_status(data: bytes) -> int:
    """HealthCheckResponse.status (0 when absent); other fields are skipped."""
    i, status = 0, 0
    while i < len(data):
        key, i = _read_varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
            if field == 1:
                status = value
        elif wire == 2:
            length, i = _read_varint(data, i)
            i += length
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            break
    return status


async def probe(host: str, service: str, port: int, timeout: float) -> Outcome:
    addr = host_port(host, port)
    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(addr, options=[("grpc.primary_user_agent", USER_AGENT)]) as channel:
        try:
            async with asyncio.timeout(timeout):
                await channel.channel_ready()
        except TimeoutError:
            return Outcome(Verdict.FAILURE, f'timeout: failed to connect service "{addr}" within '
                                            f"{go_duration(timeout)}: context deadline exceeded")
        check = channel.unary_unary(CHECK, request_serializer=None, response_deserializer=None)
        try:
            answer = await check(encode_request(service), timeout=max(deadline - time.monotonic(), 0.001))
        except grpc.aio.AioRpcError as e:
            return Outcome(Verdict.FAILURE, _rpc_failure(e, timeout))
    status = decode_status(bytes(answer))
    if status != 1:
        return Outcome(Verdict.FAILURE, f'service unhealthy (responded with "{STATUSES.get(status, status)}")')
    return Outcome(Verdict.SUCCESS, "service is serving")


def _rpc_failure(e: grpc.aio.AioRpcError, timeout: float) -> str:
    code = e.code()
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return ("error: this server does not implement the grpc health protocol (grpc.health.v1.Health): "
                f"{e.details()}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"timeout: health rpc did not complete within {go_duration(timeout)}"
    return f"error: health rpc probe failed: {goerrors.rpc_error(code.name, e.details() or '')}"
