"""Structured logs: one JSON object per line on stdout, with the trace and request ids of the moment.

Every record carries ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and ``service``;
inside a span also ``trace_id`` and ``span_id``, inside a request ``request_id``, for an exception
``exc_type`` and ``exc`` (the traceback), and every field passed with ``extra={...}``.

Run uvicorn with ``log_config=None, access_log=False`` so that it keeps the handlers set here: its
own logging configuration would replace them, and request logging is ours, not its access log.
httpx's per-request INFO lines are dropped too: they carry full URLs, query strings included.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

from opentelemetry import trace

RequestIdGetter = Callable[[], str | None]

#: Attributes every LogRecord has; anything else on a record came in through ``extra``.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    # uvicorn passes an ANSI-coloured copy of some messages; the plain one is enough.
    "color_message",
}

#: uvicorn's loggers, sent through the root handler instead of their own.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")
_UVICORN_ACCESS_LOGGER = "uvicorn.access"
#: Loggers that record every outgoing request with its full URL, query strings (and what they may
#: carry) included; the client spans of the traces hold the same with less risk.
_REQUEST_URL_LOGGERS = ("httpx",)


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON."""

    def __init__(self, service_name: str, request_id: RequestIdGetter | None = None) -> None:
        super().__init__()
        self.service_name = service_name
        self.request_id = request_id

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service_name,
        }
        entry |= _trace_fields()
        request_id = self.request_id() if self.request_id is not None else None
        if request_id is not None:
            entry["request_id"] = request_id
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = _qualified_name(record.exc_info[0])
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                entry.setdefault(key, value)  # an `extra` cannot forge the fields above
        return json.dumps(entry, default=str, ensure_ascii=False)


class _JsonHandler(logging.StreamHandler[TextIO]):
    """The handler :func:`configure_logging` installs; its type tells a repeated call what to replace."""


def configure_logging(
    service_name: str,
    level: str = "INFO",
    *,
    stream: TextIO | None = None,
    request_id: RequestIdGetter | None = None,
) -> None:
    """Send every log record, uvicorn's included, as JSON lines to `stream` (stdout by default).

    Idempotent: a repeated call replaces the handler it installed before rather than adding one.
    `request_id` returns the id of the current request; by default it is
    ``kit.http.request_id.current_request_id`` when that module exists.
    """
    handler = _JsonHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(JsonFormatter(service_name, request_id or _default_request_id_getter()))
    root = logging.getLogger()
    for existing in [h for h in root.handlers if isinstance(h, _JsonHandler)]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _UVICORN_LOGGERS:
        _propagate_to_root(logging.getLogger(name))
    access = logging.getLogger(_UVICORN_ACCESS_LOGGER)
    _propagate_to_root(access)
    access.setLevel(logging.WARNING)
    for name in _REQUEST_URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _propagate_to_root(logger: logging.Logger) -> None:
    logger.handlers.clear()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def _default_request_id_getter() -> RequestIdGetter | None:
    # Imported at call time: kit.http may not offer request ids, and kit.http may import telemetry.
    try:
        module = importlib.import_module("kit.http.request_id")
    except ImportError:
        return None
    getter: RequestIdGetter | None = getattr(module, "current_request_id", None)
    return getter


def _trace_fields() -> dict[str, str]:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
    }


def _utc_iso(timestamp: float) -> str:
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _qualified_name(exc_type: type[BaseException]) -> str:
    if exc_type.__module__ == "builtins":
        return exc_type.__qualname__
    return f"{exc_type.__module__}.{exc_type.__qualname__}"
