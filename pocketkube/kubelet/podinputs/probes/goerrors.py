"""Network and RPC errors spelled as the Go kubelet prints them in probe events (pure).

Theory of operation: probe event messages embed Go error strings, and users grep for them:
`dial tcp 10.244.0.5:80: connect: connection refused`, `dial tcp 10.244.0.5:80: i/o timeout`,
`Get "http://10.244.0.5:80/": <cause>`, `context deadline exceeded (Client.Timeout exceeded while
awaiting headers)`, `rpc error: code = Unknown desc = <details>`. These helpers turn Python's
exceptions and gRPC status codes into those strings: errno texts are glibc's with a lower-case
first letter (Go's syscall.Errno strings), gRPC code names are Go's codes.Code names.
"""

from __future__ import annotations

import errno
import os

CLIENT_TIMEOUT_HEADERS = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
CLIENT_TIMEOUT_BODY = "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
_GRPC_CODES = {
    "OK": "OK", "CANCELLED": "Canceled", "UNKNOWN": "Unknown", "INVALID_ARGUMENT": "InvalidArgument",
    "DEADLINE_EXCEEDED": "DeadlineExceeded", "NOT_FOUND": "NotFound", "ALREADY_EXISTS": "AlreadyExists",
    "PERMISSION_DENIED": "PermissionDenied", "RESOURCE_EXHAUSTED": "ResourceExhausted",
    "FAILED_PRECONDITION": "FailedPrecondition", "ABORTED": "Aborted", "OUT_OF_RANGE": "OutOfRange",
    "UNIMPLEMENTED": "Unimplemented", "INTERNAL": "Internal", "UNAVAILABLE": "Unavailable",
    "DATA_LOSS": "DataLoss", "UNAUTHENTICATED": "Unauthenticated",
}


def errno_text(err: int | None) -> str:
    text = os.strerror(err or errno.EIO)
    return text[:1].lower() + text[1:]


def dial_error(addr: str, exc: BaseException) -> str:
    """The error of a failed TCP connect to `addr` (host:port)."""
    if isinstance(exc, TimeoutError):
        return f"dial tcp {addr}: i/o timeout"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"dial tcp {addr}: connect: {errno_text(exc.errno)}"
    return f"dial tcp {addr}: {exc}"


def read_error(local: str, remote: str, exc: BaseException) -> str:
    """An error reading an established connection (`read tcp a->b: read: connection reset by peer`)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"read tcp {local}->{remote}: read: {errno_text(exc.errno)}"
    return "EOF"


def url_error(method: str, url: str, cause: str) -> str:
    """url.Error: `Get "http://host:port/path": cause`."""
    return f'{method} "{url}": {cause}'


def grpc_code(name: str) -> str:
    return _GRPC_CODES.get(name, name.title().replace("_", ""))


def rpc_error(code_name: str, details: str) -> str:
    """status.Error's text: `rpc error: code = Unknown desc = ...`."""
    return f"rpc error: code = {grpc_code(code_name)} desc = {details}"
