"""Kubernetes API errors as Python exceptions that render to `Status` objects.

Theory of operation: every failure a client can see is a `StatusError` carrying
the HTTP code, the machine-readable `reason`, the human message and the
`details` (name, group, kind, causes) exactly as kube-apiserver builds them in
apimachinery's `api/errors`. The constructors below reproduce upstream wording,
because kubectl prints `Status.message` verbatim and tests compare it.

Field-level validation problems are `FieldError`s; a list of them becomes one
422 `Invalid` error whose causes carry each field path.

    StatusError
      code/reason pairs: 400 BadRequest, 401 Unauthorized, 403 Forbidden,
      404 NotFound, 405 MethodNotAllowed, 406 NotAcceptable, 409 AlreadyExists,
      409 Conflict, 410 Expired/Gone, 413 RequestEntityTooLarge,
      415 UnsupportedMediaType, 422 Invalid, 429 TooManyRequests,
      500 InternalError, 504 Timeout
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Field error types (field.ErrorType) and the words they print as.
REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
DUPLICATE = "FieldValueDuplicate"
NOT_FOUND = "FieldValueNotFound"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
TYPE_INVALID = "FieldValueTypeInvalid"
INTERNAL = "InternalError"

_TYPE_WORDS = {
    REQUIRED: "Required value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    FORBIDDEN: "Forbidden",
    DUPLICATE: "Duplicate value",
    NOT_FOUND: "Not found",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    TYPE_INVALID: "Invalid value",
    INTERNAL: "Internal error",
}

_NO_VALUE = object()


def _go_value(value: Any) -> str:
    """Render a bad value the way Go's %v / %q do in field errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[]string{" + ", ".join(_go_value(v) for v in value) + "}"
    return str(value)


@dataclass(frozen=True)
class FieldError:
    """One validation problem at a field path (field.Error)."""

    type: str
    field: str
    value: Any = _NO_VALUE
    detail: str = ""

    def body(self) -> str:
        words = _TYPE_WORDS.get(self.type, self.type)
        if self.type in (REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL) or self.value is _NO_VALUE:
            s = words
        else:
            s = f"{words}: {_go_value(self.value)}"
        if self.detail:
            s += f": {self.detail}"
        return s

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, path, detail=detail)


def invalid(path: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(INVALID, path, value, detail)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, path, detail=detail)


def not_supported(path: str, value: Any, supported: list[str] | tuple[str, ...]) -> FieldError:
    detail = "supported values: " + ", ".join(f'"{s}"' for s in supported) if supported else ""
    return FieldError(NOT_SUPPORTED, path, value, detail)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(DUPLICATE, path, value)


def not_found(path: str, value: Any) -> FieldError:
    return FieldError(NOT_FOUND, path, value)


def too_long(path: str, max_len: int) -> FieldError:
    return FieldError(TOO_LONG, path, detail=f"may not be more than {max_len} bytes")


def too_many(path: str, actual: int, max_items: int) -> FieldError:
    return FieldError(TOO_MANY, path, actual, f"must have at most {max_items} items")


class StatusError(Exception):
    """An error that the API answers with a `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        s: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            s["details"] = self.details
        s["code"] = self.code
        return s


def _details(name: str, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    if kind:
        d["kind"] = kind
    d.update(extra)
    return d


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found_error(resource: str, group: str, name: str) -> StatusError:
    msg = f'{_qualified(resource, group)} "{name}" not found' if name else f"{_qualified(resource, group)} not found"
    return StatusError(404, "NotFound", msg, _details(name, group, resource))


def already_exists(resource: str, group: str, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f'{_qualified(resource, group)} "{name}" already exists',
                       _details(name, group, resource))


def conflict(resource: str, group: str, name: str, why: str) -> StatusError:
    return StatusError(409, "Conflict",
                       f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
                       _details(name, group, resource))


MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def invalid_error(kind: str, group: str, name: str, errs: list[FieldError]) -> StatusError:
    qualified_kind = f"{kind}.{group}" if group else kind
    if len(errs) == 1:
        agg = str(errs[0])
    else:
        agg = "[" + ", ".join(str(e) for e in errs) + "]"
    causes = [{"reason": e.type, "message": e.body(), "field": e.field} for e in errs]
    return StatusError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {agg}',
                       _details(name, group, kind, causes=causes))


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def unauthorized(message: str = "Unauthorized") -> StatusError:
    return StatusError(401, "Unauthorized", message)


def forbidden_error(resource: str, group: str, name: str, why: str) -> StatusError:
    q = _qualified(resource, group)
    msg = f'{q} "{name}" is forbidden: {why}' if name else f"{q} is forbidden: {why}"
    return StatusError(403, "Forbidden", msg, _details(name, group, resource))


def method_not_supported(resource: str, group: str, action: str) -> StatusError:
    return StatusError(405, "MethodNotAllowed",
                       f'{action} is not supported on resources of kind "{_qualified(resource, group)}"',
                       _details("", group, resource))


def not_acceptable(message: str) -> StatusError:
    return StatusError(406, "NotAcceptable", message)


def expired(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def gone(message: str) -> StatusError:
    return StatusError(410, "Gone", message)


def too_large(message: str) -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: {message}")


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType",
                       'the body of the request was in an unknown format - accepted media types include: '
                       'application/json, application/yaml, application/vnd.kubernetes.protobuf')


def unsupported_patch_type(content_type: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType",
                       'the body of the request was in an unknown format - accepted media types include: '
                       'application/json-patch+json, application/merge-patch+json, '
                       'application/apply-patch+yaml, application/strategic-merge-patch+json')


def internal_error(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}",
                       {"causes": [{"message": message}]})


def timeout(message: str) -> StatusError:
    return StatusError(504, "Timeout", message)


def too_many_requests(message: str) -> StatusError:
    return StatusError(429, "TooManyRequests", message)
