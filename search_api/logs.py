"""Structured JSON logs that cannot carry personal data by accident.

Why an allowlist of field names instead of a blocklist of personal ones: a blocklist fails open
(the next developer adds ``surname=`` or ``payload=`` and nobody notices), an allowlist fails
closed (``log_event`` raises at once, in tests). Values must be plain scalars so a whole request
body cannot ride along inside an allowed key, and the event name must be an identifier such as
``check.completed``, so free text cannot hide there either.

Why records not made by ``log_event`` are rendered without their arguments: code elsewhere
(or a library logging under ``mochinushi.*``) may write ``logger.info("no match for %s", name)``.
The formatter prints only the message *template*, never the ``%`` arguments, and for exceptions
only the exception type and stack locations, never the exception message, which often quotes
the offending input.

Why our own logger and not the root: configuring the root logger would reformat (and possibly
break) the output of uvicorn, pytest and any embedding application. Handlers are installed on
the ``mochinushi`` logger only and it does not propagate, so lines are not printed twice.

Client identifiers (IP addresses) are personal data too; log ``keyed_hash(secret, address)``
instead — stable for correlating one client's requests, useless for recovering the address.

Why one line per request: at hundreds of checks a second, a second line per check (the access
line, then the check's outcome under the same request id) cost a measurable share of the API's
CPU and told nothing the first could not. So the HTTP middleware opens a ``RequestLog`` and
writes it once, when the response is done; code handling the request names the line's event
and adds its fields with ``log_request_event``. Outside a request that call logs a line of its
own, so nothing is lost when the same code runs elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Final, TextIO

__all__ = [
    "ALLOWED_FIELDS",
    "LOGGER_NAME",
    "REQUEST_EVENT",
    "DisallowedLogField",
    "JsonFormatter",
    "RequestLog",
    "configure_logging",
    "keyed_hash",
    "log_event",
    "log_request_event",
    "request_log",
]

LOGGER_NAME: Final = "mochinushi"

ALLOWED_FIELDS: Final[frozenset[str]] = frozenset(
    {
        # request handling
        "request_id",
        "route",
        "method",
        "status",
        "duration_ms",
        "outcome",
        "candidates",
        "client_hash",
        "retry_after_seconds",
        "error_kind",
        "failed_shards",
        # reference tokens and their audit trail
        "token_id",
        "staff_key_id",
        "key_id",
        "result",
        # indexing runs
        "records",
        "read",
        "indexed",
        "quarantined",
        "index",
        "alias",
        "previous_index",
        # service lifecycle
        "host",
        "port",
        "version",
        "dev_mode",
        "rate_limit",
    }
)
"""Field names that never hold personal data. Adding one is a reviewed code change on purpose.

``staff_key_id`` is a label or ``keyed_hash`` of a staff key, never the key itself."""

_RESERVED_KEYS: Final = frozenset({"ts", "level", "logger", "event"})
_EVENT_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*", re.ASCII)
_MAX_EVENT_CHARS: Final = 80
_FIELDS_ATTR: Final = "mochinushi_fields"
_HASH_HEX_CHARS: Final = 16

REQUEST_EVENT: Final = "http.request"
"""The event of a request's line when nothing handling it named another."""

LogValue = str | int | float | bool | None


class DisallowedLogField(ValueError):
    """A log field outside the allowlist, or a value that is not a plain scalar."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``event`` and allowed fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            # The template only: interpolated arguments might be personal data.
            "event": str(record.msg),
        }
        fields = getattr(record, _FIELDS_ATTR, None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _exc, tb = record.exc_info
            line["exc_type"] = exc_type.__name__
            # Where it happened, without the message (which may quote the input).
            line["exc_frames"] = [
                f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}:{frame.name}"
                for frame in traceback.extract_tb(tb)
            ]
        return json.dumps(line, ensure_ascii=False, default=str)


class _JsonHandler(logging.StreamHandler[TextIO]):
    """Marker subclass so ``configure_logging`` can replace exactly the handler it installed."""


def configure_logging(
    level: int | str = logging.INFO, stream: TextIO | None = None
) -> logging.Logger:
    """Send the ``mochinushi`` logger's records to ``stream`` (default stderr) as JSON lines.

    Idempotent: calling it again replaces the handler it installed earlier rather than adding a
    second one. Other handlers on the logger, and the root logger, are left alone.
    """
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if isinstance(handler, _JsonHandler):
            logger.removeHandler(handler)
            handler.close()
    handler = _JsonHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    logger.propagate = False
    return logger


def log_event(
    logger: logging.Logger, event: str, /, *, level: int = logging.INFO, **fields: LogValue
) -> None:
    """Log ``event`` with allowlisted, scalar ``fields``; raise ``DisallowedLogField`` otherwise.

    Raising (rather than silently dropping the field) makes a mistake fail in tests instead of
    quietly losing information or, worse, being "fixed" by widening a filter.
    """
    _check_event(event, level, fields)
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={_FIELDS_ATTR: dict(fields)})


def _check_event(event: str, level: int, fields: dict[str, LogValue]) -> None:
    if isinstance(level, bool) or not isinstance(level, int):
        raise TypeError("log level must be an int such as logging.INFO")
    if len(event) > _MAX_EVENT_CHARS or not _EVENT_PATTERN.fullmatch(event):
        raise DisallowedLogField("log event must be an identifier like 'check.completed'")
    for key, value in fields.items():
        if key not in ALLOWED_FIELDS or key in _RESERVED_KEYS:
            # The field name is code, not data, so naming it is safe; the value is not shown.
            raise DisallowedLogField(f"log field {key!r} is not in the allowlist")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise DisallowedLogField(f"log field {key!r} must be a plain scalar")
        if isinstance(value, float) and not math.isfinite(value):
            raise DisallowedLogField(f"log field {key!r} must be a finite number")


class RequestLog:
    """The one line a request is logged with: an event, its level and its fields so far."""

    __slots__ = ("event", "fields", "level")

    def __init__(self) -> None:
        self.event: str = REQUEST_EVENT
        self.level: int = logging.INFO
        self.fields: dict[str, LogValue] = {}

    def write(self, logger: logging.Logger, /, **fields: LogValue) -> None:
        """Log the line, with ``fields`` (the request's own: route, status, …) taking precedence."""
        log_event(logger, self.event, level=self.level, **{**self.fields, **fields})


_current_request: ContextVar[RequestLog | None] = ContextVar("request_log", default=None)


@contextmanager
def request_log() -> Iterator[RequestLog]:
    """Make a fresh ``RequestLog`` the one ``log_request_event`` adds to, for this block."""
    line = RequestLog()
    token = _current_request.set(line)
    try:
        yield line
    finally:
        _current_request.reset(token)


def log_request_event(
    logger: logging.Logger, event: str, /, *, level: int = logging.INFO, **fields: LogValue
) -> None:
    """Name the current request's line ``event`` and add ``fields`` to it, checked as
    ``log_event`` checks them; log a line of its own outside a request, or when the request's
    line already carries another event (neither is ever dropped)."""
    line = _current_request.get()
    if line is None or line.event != REQUEST_EVENT:
        log_event(logger, event, level=level, **fields)
        return
    _check_event(event, level, fields)
    line.event = event
    line.level = max(line.level, level)
    line.fields.update(fields)


def keyed_hash(secret: bytes, value: str) -> str:
    """HMAC-SHA256 of ``value`` under ``secret``, first 16 hex characters (64 bits).

    Keyed, because a plain hash of an IPv4 address is reversed by trying all 2**32 of them.
    64 bits is plenty to tell clients apart in logs and keeps lines short.
    """
    if not secret:
        raise ValueError("keyed_hash needs a non-empty secret")
    digest = hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:_HASH_HEX_CHARS]
