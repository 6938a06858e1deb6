"""OpenTelemetry traces: the process's tracer provider, instrumentation, and trace context for events.

A trace crosses the event machinery in three hops, each a function here:

1. at publish time the outbox stores :func:`current_traceparent` in the row;
2. the relay sends the row inside :func:`start_producer_span`, a child of that stored traceparent
   (not of the relay's own loop), and puts :func:`traceparent_of` the producer span in the Kafka
   headers;
3. the consumer handles the record inside :func:`start_consumer_span`, a child of that header.

The aiokafka instrumentation is deliberately not used: it would add a second ``traceparent``
header of its own span beside the one the relay sets.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from fastapi import FastAPI
from opentelemetry import metrics as otel_metrics
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.sqlalchemy.version import __version__ as sqlalchemy_instrumentation_version
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

# OpenTelemetry semantic conventions for messaging (Kafka): the attribute names the spans carry.
MESSAGING_SYSTEM = "messaging.system"
MESSAGING_DESTINATION_NAME = "messaging.destination.name"
MESSAGING_DESTINATION_PARTITION_ID = "messaging.destination.partition.id"
MESSAGING_OPERATION_NAME = "messaging.operation.name"
MESSAGING_OPERATION_TYPE = "messaging.operation.type"
MESSAGING_MESSAGE_ID = "messaging.message.id"
MESSAGING_KAFKA_MESSAGE_KEY = "messaging.kafka.message.key"
MESSAGING_KAFKA_OFFSET = "messaging.kafka.offset"
MESSAGING_CONSUMER_GROUP_NAME = "messaging.consumer.group.name"

#: Requests not worth a span: probes and scrapes arrive every few seconds and say nothing.
UNTRACED_URLS = r"/health/(live|ready)$,/metrics$"

_TRACEPARENT = "traceparent"
_TRACESTATE = "tracestate"
#: CloudEvents binary mode carries the distributed-tracing extension as `ce_` headers.
_CLOUDEVENTS_PREFIX = "ce_"
_OTLP_TRACES_PATH = "/v1/traces"

_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("kit.telemetry")
_provider: TracerProvider | None = None
_exporting_to: set[str] = set()
_traced_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def configure_tracing(service_name: str, otlp_endpoint: str = "") -> TracerProvider:
    """The process's SDK tracer provider, installed as the global one on the first call.

    OpenTelemetry lets a process set its global provider once, so later calls (several apps built
    in one test process) return the same provider, keeping the first `service_name`; they only add
    an exporter for an endpoint not seen yet. `otlp_endpoint` is the OTLP/HTTP base URL (as in
    ``OTEL_EXPORTER_OTLP_ENDPOINT``); empty means spans are recorded but not exported.
    """
    global _provider
    if _provider is None:
        _provider = _install_provider(service_name)
    propagate.set_global_textmap(_propagator)
    if otlp_endpoint:
        _export_to(_provider, _traces_url(otlp_endpoint))
    return _provider


def _install_provider(service_name: str) -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current  # someone (a test harness) installed an SDK provider first: use it
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:
        logger.warning("another tracer provider is installed globally; spans go there, not to OTLP")
    return provider


def _export_to(provider: TracerProvider, url: str) -> None:
    if url in _exporting_to:
        return
    # Imported here: the exporter pulls in `requests`, which a process without an endpoint never needs.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    _exporting_to.add(url)


def _traces_url(endpoint: str) -> str:
    base = endpoint.rstrip("/")
    return base if base.endswith(_OTLP_TRACES_PATH) else base + _OTLP_TRACES_PATH


# --- instrumentation ------------------------------------------------------------------------------


def instrument_app(app: FastAPI) -> None:
    """Give every request to `app` a server span continuing the caller's trace; safe to repeat."""
    if not getattr(app, "_is_instrumented_by_opentelemetry", False):  # it would only log a warning
        # No child spans per body chunk received or sent: they cost about a fifth of a small request's
        # CPU and say nothing the server span does not.
        FastAPIInstrumentor.instrument_app(app, excluded_urls=UNTRACED_URLS, exclude_spans=["receive", "send"])


def instrument_httpx() -> None:
    """Give every outgoing httpx request a client span and a ``traceparent`` header; safe to repeat."""
    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def instrument_sqlalchemy(engine: AsyncEngine) -> None:
    """Give every statement `engine` runs a span; safe to repeat, and for several engines."""
    sync_engine = engine.sync_engine
    if sync_engine in _traced_engines:
        return
    # Not SQLAlchemyInstrumentor().instrument(engine=...): it instruments once per process, so a second
    # engine (another app in the same test process) would stay untraced, and it patches
    # create_engine globally. An EngineTracer per engine is what it builds underneath.
    scope, version = "opentelemetry.instrumentation.sqlalchemy", sqlalchemy_instrumentation_version
    tracer = trace.get_tracer(scope, version)
    connections = otel_metrics.get_meter(scope, version).create_up_down_counter(
        name="db.client.connections.usage", unit="connections"
    )
    EngineTracer(tracer, sync_engine, connections)  # type: ignore[no-untyped-call]
    _traced_engines.add(sync_engine)


# --- trace context through the outbox and Kafka ---------------------------------------------------


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or None when there is no span."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(_TRACEPARENT)


def traceparent_of(span: Span) -> str | None:
    """The W3C ``traceparent`` naming `span` as the parent, for a message's headers; None when the
    span is not recorded (no tracer provider configured), so there is no trace to continue."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=trace.set_span_in_context(span, Context()))
    return carrier.get(_TRACEPARENT)


def start_producer_span(
    topic: str, traceparent: str | None, attributes: Mapping[str, AttributeValue] | None = None
) -> AbstractContextManager[Span]:
    """A PRODUCER span ``send <topic>``, child of `traceparent` (a new trace when it is None or invalid).

    The relay's ambient context is ignored on purpose: the event belongs to the trace of the request
    that wrote it, not to the relay's polling loop.
    """
    parent = _context_from_carrier({_TRACEPARENT: traceparent} if traceparent else {})
    return _messaging_span(SpanKind.PRODUCER, "send", topic, parent, attributes)


def start_consumer_span(
    topic: str,
    headers: Mapping[str, bytes] | Sequence[tuple[str, bytes]],
    attributes: Mapping[str, AttributeValue] | None = None,
) -> AbstractContextManager[Span]:
    """A CONSUMER span ``process <topic>`` continuing the trace of the record's ``traceparent`` header.

    `headers` are a Kafka record's (aiokafka gives a sequence of pairs); ``ce_traceparent`` is
    accepted when the plain header is missing. Without either the span starts a new trace.
    """
    carrier = _trace_headers(headers)
    return _messaging_span(SpanKind.CONSUMER, "process", topic, _context_from_carrier(carrier), attributes)


@contextmanager
def _messaging_span(
    kind: SpanKind,
    operation: str,
    topic: str,
    parent: Context,
    attributes: Mapping[str, AttributeValue] | None,
) -> Iterator[Span]:
    span_attributes: dict[str, AttributeValue] = {
        MESSAGING_SYSTEM: "kafka",
        MESSAGING_DESTINATION_NAME: topic,
        MESSAGING_OPERATION_TYPE: operation,
        MESSAGING_OPERATION_NAME: operation,
        **(attributes or {}),
    }
    with _tracer.start_as_current_span(
        f"{operation} {topic}", context=parent, kind=kind, attributes=span_attributes
    ) as span:
        yield span


def _context_from_carrier(carrier: Mapping[str, str]) -> Context:
    # An explicit empty context: a missing or broken traceparent must start a new trace, never
    # fall back to whatever span happens to be current.
    return _propagator.extract(carrier, context=Context())


def _trace_headers(headers: Mapping[str, bytes] | Sequence[tuple[str, bytes]]) -> dict[str, str]:
    pairs: Any = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, str] = {}
    for key, value in pairs:
        name = key.removeprefix(_CLOUDEVENTS_PREFIX)
        if name not in (_TRACEPARENT, _TRACESTATE) or value is None:
            continue
        if key == name or name not in found:  # the plain header wins over the CloudEvents one
            found[name] = value.decode("ascii", errors="replace")
    return found
