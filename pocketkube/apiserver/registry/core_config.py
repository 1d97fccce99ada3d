"""ConfigMaps, Secrets and ServiceAccounts (core/v1): validation and strategies (upstream v1.32).

Theory of operation: keys must be config keys (`[-._a-zA-Z0-9]+`, at most 253
characters, not `.`/`..`), the payload at most 1 MiB (Secret and binaryData
values count decoded bytes), typed Secrets carry their required keys, and an
object marked `immutable: true` keeps its data and its `immutable` flag; a
Secret's type never changes. None of these kinds has a status or a generation.
Secret `stringData` is folded into `data` by the core/v1 defaulter before
these rules run, as upstream's conversion does.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pocketkube.apiserver.registry import core_checks as chk
from pocketkube.apiserver.registry.core_checks import Errs
from pocketkube.apiserver.strategy import NoStatusStrategy, Obj
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError

MAX_SIZE = 1024 * 1024
_IMMUTABLE = "field is immutable when `immutable` is set"
_REDACTED = "<secret contents redacted>"


def _decoded_len(value: Any) -> int:
    try:
        return len(base64.b64decode(value or "", validate=True))
    except (binascii.Error, ValueError):
        return len(value or "")


def _decoded(value: Any) -> bytes:
    try:
        return base64.b64decode(value or "", validate=True)
    except (binascii.Error, ValueError):
        return b""


def validate_config_map(cm: Obj) -> Errs:
    errs: Errs = []
    data, binary = cm.get("data") or {}, cm.get("binaryData") or {}
    total = 0
    for key, value in data.items():
        errs += [errors.invalid(f"data[{key}]", key, m) for m in chk.config_map_key_problems(key)]
        if key in binary:
            errs.append(errors.invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
        total += len((value or "").encode())
    for key, value in binary.items():
        errs += [errors.invalid(f"binaryData[{key}]", key, m) for m in chk.config_map_key_problems(key)]
        total += _decoded_len(value)
    if total > MAX_SIZE:
        errs.append(errors.too_long("", MAX_SIZE))
    return errs


def _immutable_errors(new: Obj, old: Obj, keys: tuple[str, ...]) -> Errs:
    if not old.get("immutable"):
        return []
    errs: Errs = []
    if not new.get("immutable"):
        errs.append(errors.forbidden("immutable", _IMMUTABLE))
    for key in keys:
        if (new.get(key) or {}) != (old.get(key) or {}):
            errs.append(errors.forbidden(key, _IMMUTABLE))
    return errs


class ConfigMapStrategy(NoStatusStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_config_map(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return _immutable_errors(new, old, ("data", "binaryData")) + validate_config_map(new)


def _go_json_error(raw: bytes) -> str:
    """The message Go's json.Unmarshal into map[string]interface{} would give, or ""."""
    text = raw.decode(errors="replace")
    if not text.strip():
        return "unexpected end of JSON input"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        if e.pos >= len(text):
            return "unexpected end of JSON input"
        return f"invalid character '{text[e.pos]}' looking for beginning of value"
    if not isinstance(value, dict):
        kind = {list: "array", str: "string", bool: "bool", int: "number", float: "number"}.get(type(value), "null")
        return "" if value is None else f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
    return ""


def validate_secret(secret: Obj) -> Errs:
    data = secret.get("data") or {}
    errs: Errs = []
    total = 0
    for key, value in data.items():
        errs += [errors.invalid(f"data[{key}]", key, m) for m in chk.config_map_key_problems(key)]
        total += _decoded_len(value)
    if total > MAX_SIZE:
        errs.append(errors.too_long("data", MAX_SIZE))
    return errs + _typed_secret(secret, data)


def _typed_secret(secret: Obj, data: Obj) -> Errs:
    kind = secret.get("type") or ""
    if kind == "kubernetes.io/service-account-token":
        annotations = (secret.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            return [errors.required("metadata.annotations[kubernetes.io/service-account.name]")]
    elif kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if kind == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            return [errors.required(f"data[{key}]")]
        problem = _go_json_error(_decoded(data[key]))
        if problem:
            return [errors.invalid(f"data[{key}]", _REDACTED, problem)]
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            return [errors.required("data[username]"), errors.required("data[password]")]
    elif kind == "kubernetes.io/ssh-auth":
        if not _decoded(data.get("ssh-privatekey")):
            return [errors.required("data[ssh-privatekey]")]
    elif kind == "kubernetes.io/tls":
        return [errors.required(f"data[{k}]") for k in ("tls.crt", "tls.key") if k not in data]
    return []


class SecretStrategy(NoStatusStrategy):
    selectable_fields = ("type",)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_secret(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = chk.check_immutable(new.get("type") or "", old.get("type") or "", "type")
        return errs + _immutable_errors(new, old, ("data",)) + validate_secret(new)


class ServiceAccountStrategy(NoStatusStrategy):
    return_deleted_object = True

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        secrets = obj.get("secrets")
        if isinstance(secrets, list):
            obj["secrets"] = [{"name": s.get("name")} if s.get("name") else {} for s in secrets]

    def warnings(self, obj: Obj, old: Obj | None = None) -> list[str]:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if annotations.get("kubernetes.io/enforce-mountable-secrets") == "true":
            return ["metadata.annotations[kubernetes.io/enforce-mountable-secrets]: deprecated in v1.32+; "
                    "prefer separate namespaces to isolate access to mounted secrets"]
        return []
