"""Leveled, structured logs for every component (klog-style text, or JSON lines).

Theory of operation: each process configures the root logger once from its
`--log-level` (debug|info|warning|error, or a klog-style verbosity number: 0-3
info, 4+ debug) and `--log-format` (text|json). Text lines look like klog's
header (`I1122 01:38:33.361123   19412 bootstrap.py:90] message key=value`);
JSON lines carry ts, level, logger, caller and msg plus any `extra={"kv": {...}}`
fields. Output goes to stderr, which the supervisor sends to the profile's
logs/<component>.log.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

_LETTER = {logging.DEBUG: "I", logging.INFO: "I", logging.WARNING: "W", logging.ERROR: "E", logging.CRITICAL: "F"}


def parse_level(value: str) -> int:
    named = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "warn": logging.WARNING,
             "error": logging.ERROR}
    if value.lower() in named:
        return named[value.lower()]
    try:
        return logging.DEBUG if int(value) >= 4 else logging.INFO
    except ValueError:
        return logging.INFO


def _kv(record: logging.LogRecord) -> dict[str, object]:
    kv = getattr(record, "kv", None)
    return kv if isinstance(kv, dict) else {}


class KlogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC)
        head = (f"{_LETTER.get(record.levelno, 'I')}{ts:%m%d %H:%M:%S}.{ts.microsecond:06d} "
                f"{os.getpid():>7} {record.filename}:{record.lineno}]")
        msg = record.getMessage()
        extra = " ".join(f"{k}={json.dumps(v) if isinstance(v, str) and ' ' in v else v}"
                         for k, v in _kv(record).items())
        line = f"{head} {msg}" + (f" {extra}" if extra else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "level": record.levelname.lower(), "logger": record.name,
            "caller": f"{record.filename}:{record.lineno}", "msg": record.getMessage(), **_kv(record)}
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out)


def configure(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KlogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(parse_level(level))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
