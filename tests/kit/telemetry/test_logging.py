"""JSON log lines: fields, trace and request ids, exceptions, extras, idempotence, uvicorn."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import sys
import types
from typing import Any

import pytest
from opentelemetry import trace

from kit.telemetry.logging import configure_logging

pytestmark = pytest.mark.usefixtures("restore_logging")


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def configured(request_id: str | None = None, level: str = "INFO") -> io.StringIO:
    stream = io.StringIO()
    configure_logging("payment", level, stream=stream, request_id=lambda: request_id)
    return stream


def test_a_record_is_one_json_object_with_the_fixed_fields() -> None:
    stream = configured()

    logging.getLogger("payment.service").info("captured %s", "payment-1")

    [entry] = lines(stream)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "payment.service"
    assert entry["message"] == "captured payment-1"
    assert entry["service"] == "payment"
    moment = dt.datetime.fromisoformat(entry["time"])
    assert moment.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - moment) < dt.timedelta(minutes=1)
    assert "trace_id" not in entry
    assert "request_id" not in entry


@pytest.mark.usefixtures("spans")
def test_inside_a_span_the_trace_and_span_ids_are_logged() -> None:
    stream = configured()

    with trace.get_tracer("test").start_as_current_span("work") as span:
        logging.getLogger("test").warning("inside")
    context = span.get_span_context()

    [entry] = lines(stream)
    assert entry["trace_id"] == f"{context.trace_id:032x}"
    assert entry["span_id"] == f"{context.span_id:016x}"


def test_the_request_id_is_logged_when_set() -> None:
    stream = configured(request_id="req-42")

    logging.getLogger("test").info("handled")

    assert lines(stream)[0]["request_id"] == "req-42"


def test_by_default_the_request_id_comes_from_kit_http(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("kit.http.request_id")
    module.current_request_id = lambda: "req-from-kit-http"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kit.http.request_id", module)
    stream = io.StringIO()
    configure_logging("payment", stream=stream)

    logging.getLogger("test").info("handled")

    assert lines(stream)[0]["request_id"] == "req-from-kit-http"


def test_without_kit_http_request_ids_logging_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kit.http.request_id", None)
    stream = io.StringIO()
    configure_logging("payment", stream=stream)

    logging.getLogger("test").info("no request here")

    [entry] = lines(stream)
    assert entry["message"] == "no request here"
    assert "request_id" not in entry


def test_an_exception_is_logged_with_its_type_and_traceback() -> None:
    stream = configured()

    try:
        raise KeyError("missing")
    except KeyError:
        logging.getLogger("test").exception("lookup failed")

    [entry] = lines(stream)
    assert entry["message"] == "lookup failed"
    assert entry["level"] == "ERROR"
    assert entry["exc_type"] == "KeyError"
    assert "Traceback" in entry["exc"]
    assert "raise KeyError" in entry["exc"]


def test_extra_fields_are_included_but_cannot_forge_the_fixed_ones() -> None:
    stream = configured()

    logging.getLogger("test").info(
        "paid", extra={"payment_id": "p-1", "amount": 1250, "service": "forged", "when": dt.date(2024, 5, 1)}
    )

    [entry] = lines(stream)
    assert entry["payment_id"] == "p-1"
    assert entry["amount"] == 1250
    assert entry["when"] == "2024-05-01"
    assert entry["service"] == "payment"


def test_configuring_twice_does_not_duplicate_lines() -> None:
    configured()
    stream = configured()

    logging.getLogger("test").info("once")

    assert len(lines(stream)) == 1


def test_records_below_the_level_are_dropped() -> None:
    stream = configured(level="warning")

    logging.getLogger("test").info("chatter")
    logging.getLogger("test").warning("worth it")

    assert [entry["message"] for entry in lines(stream)] == ["worth it"]


def test_uvicorn_logs_go_through_the_json_handler_but_its_access_log_does_not() -> None:
    logging.getLogger("uvicorn.error").addHandler(logging.StreamHandler(io.StringIO()))
    stream = configured()

    logging.getLogger("uvicorn.error").info("Application startup complete.", extra={"color_message": "\x1b[1m"})
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET / HTTP/1.1" 200')

    [entry] = lines(stream)
    assert entry["logger"] == "uvicorn.error"
    assert "color_message" not in entry
    assert logging.getLogger("uvicorn.error").handlers == []
