"""Trace context from a request through the outbox row and Kafka headers into a consumer."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from kit.telemetry.tracing import (
    configure_tracing,
    current_traceparent,
    instrument_app,
    instrument_sqlalchemy,
    start_consumer_span,
    start_producer_span,
    traceparent_of,
)

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")

tracer = trace.get_tracer("tests")


def only(spans: InMemorySpanExporter, name: str) -> ReadableSpan:
    [span] = [span for span in spans.get_finished_spans() if span.name == name]
    return span


def test_configuring_again_returns_the_one_global_provider() -> None:
    first = configure_tracing("payment")
    second = configure_tracing("mailbox")

    assert isinstance(first, TracerProvider)
    assert second is first
    assert trace.get_tracer_provider() is first


def test_there_is_no_traceparent_outside_a_span() -> None:
    assert current_traceparent() is None


def test_the_traceparent_names_the_current_span(spans: InMemorySpanExporter) -> None:
    with tracer.start_as_current_span("request") as span:
        traceparent = current_traceparent()

    assert traceparent is not None
    assert TRACEPARENT.match(traceparent)
    context = span.get_span_context()
    assert traceparent == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert context.trace_flags.sampled


def test_a_trace_continues_from_the_request_through_the_outbox_and_kafka_to_the_consumer(
    spans: InMemorySpanExporter,
) -> None:
    with tracer.start_as_current_span("POST /payments"):
        stored = current_traceparent()  # what the outbox row keeps

    # The relay runs in a loop of its own: its ambient span must not become the parent.
    with (
        tracer.start_as_current_span("relay round"),
        start_producer_span("payment.transaction", stored, {"messaging.message.id": "evt-1"}) as producer,
    ):
        headers = [("ce_id", b"evt-1"), ("traceparent", traceparent_of(producer).encode())]

    with start_consumer_span(
        "payment.transaction", headers, {"messaging.consumer.group.name": "mailbox"}
    ) as consumer_span:
        assert current_traceparent() == traceparent_of(consumer_span)

    request = only(spans, "POST /payments")
    sent = only(spans, "send payment.transaction")
    processed = only(spans, "process payment.transaction")
    trace_id = request.context.trace_id
    assert sent.context.trace_id == trace_id
    assert sent.parent is not None
    assert sent.parent.span_id == request.context.span_id
    assert sent.kind is SpanKind.PRODUCER
    assert processed.context.trace_id == trace_id
    assert processed.parent is not None
    assert processed.parent.span_id == sent.context.span_id
    assert processed.kind is SpanKind.CONSUMER
    assert sent.attributes == {
        "messaging.system": "kafka",
        "messaging.destination.name": "payment.transaction",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.message.id": "evt-1",
    }
    assert processed.attributes is not None
    assert processed.attributes["messaging.operation.type"] == "process"
    assert processed.attributes["messaging.consumer.group.name"] == "mailbox"


def test_the_traceparent_of_a_span_names_that_span(spans: InMemorySpanExporter) -> None:
    with start_producer_span("payment.transaction", None, {}) as producer:
        assert traceparent_of(producer) == current_traceparent()


@pytest.mark.parametrize("stored", [None, "", "not-a-traceparent"])
def test_a_producer_span_without_a_valid_stored_traceparent_starts_a_new_trace(
    spans: InMemorySpanExporter, stored: str | None
) -> None:
    with (
        tracer.start_as_current_span("relay round") as relay,
        start_producer_span("payment.transaction", stored, {}),
    ):
        pass

    sent = only(spans, "send payment.transaction")
    assert sent.parent is None
    assert sent.context.trace_id != relay.get_span_context().trace_id


def test_a_consumer_span_continues_from_a_header_mapping(spans: InMemorySpanExporter) -> None:
    with tracer.start_as_current_span("origin") as origin:
        headers = {"traceparent": traceparent_of(origin).encode()}
    with start_consumer_span("routing.submission", headers, {}):
        pass

    processed = only(spans, "process routing.submission")
    assert processed.context.trace_id == origin.get_span_context().trace_id


def test_a_consumer_span_accepts_the_cloudevents_traceparent_header(spans: InMemorySpanExporter) -> None:
    with tracer.start_as_current_span("origin") as origin:
        headers = [("ce_traceparent", traceparent_of(origin).encode())]
    with start_consumer_span("routing.submission", headers, {}):
        pass

    processed = only(spans, "process routing.submission")
    assert processed.parent is not None
    assert processed.parent.span_id == origin.get_span_context().span_id


@pytest.mark.parametrize("headers", [[], [("traceparent", b"garbage")], [("traceparent", b"\xff\xfe")]])
def test_a_consumer_span_without_a_valid_traceparent_starts_a_new_trace(
    spans: InMemorySpanExporter, headers: list[tuple[str, bytes]]
) -> None:
    with tracer.start_as_current_span("consumer loop"), start_consumer_span("routing.submission", headers, {}):
        pass

    assert only(spans, "process routing.submission").parent is None


async def test_a_request_continues_the_callers_trace(spans: InMemorySpanExporter) -> None:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str | None]:
        return {"id": thing_id, "traceparent": current_traceparent()}

    instrument_app(app)
    instrument_app(app)
    with tracer.start_as_current_span("caller") as caller:
        headers = {"traceparent": traceparent_of(caller)}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
        response = await client.get("/things/1", headers=headers)

    seen = response.json()["traceparent"]
    assert seen.split("-")[1] == f"{caller.get_span_context().trace_id:032x}"
    [server] = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert server.parent is not None
    assert server.parent.span_id == caller.get_span_context().span_id


async def test_statements_of_every_instrumented_engine_are_traced(spans: InMemorySpanExporter) -> None:
    engines = [create_async_engine("sqlite+aiosqlite:///:memory:") for _ in range(2)]
    for engine in engines:
        instrument_sqlalchemy(engine)
        instrument_sqlalchemy(engine)

    for engine in engines:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        await engine.dispose()

    statements = [span for span in spans.get_finished_spans() if span.kind is SpanKind.CLIENT]
    assert len(statements) == 2
