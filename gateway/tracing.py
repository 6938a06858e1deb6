"""Spans of proxied requests: a server span per request, a client span per attempt upstream.

The server span continues the client's trace when the request carries a W3C ``traceparent``, and
starts one otherwise; each attempt upstream (retries included) is a client span below it, and the
upstream receives that span's ``traceparent`` in place of the client's, so its own spans hang below
the gateway's. Spans carry the method, the route's prefix, the upstream and the status — never the
path, the query or any header, which may carry tokens or personal data.

Spans cost CPU on every request, and nobody sees them unless the tracer provider passes them to a
span processor (an exporter: ``OTEL_EXPORTER_OTLP_ENDPOINT``, or a test's in-memory one). Without
one, no span is made at all and the client's ``traceparent`` and ``tracestate`` pass unchanged.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

__all__ = ["TRACE_HEADERS", "ProxyTracing", "end_client_span", "end_server_span", "trace_context_of"]

#: The W3C Trace Context fields, replaced by the gateway's own while it traces.
TRACE_HEADERS = frozenset({b"traceparent", b"tracestate"})
_propagator = TraceContextTextMapPropagator()


def trace_context_of(headers: list[tuple[bytes, bytes]]) -> tuple[bytes | None, bytes | None]:
    """The request's ``traceparent`` and ``tracestate`` from its ASGI headers; no ``traceparent`` if it
    has several (W3C Trace Context: the request then starts a new trace)."""
    traceparents = [value for name, value in headers if name == b"traceparent"]
    states = [value for name, value in headers if name == b"tracestate"]
    if len(traceparents) != 1:
        return None, None
    return traceparents[0], b",".join(states) if states else None


class ProxyTracing:
    """Makes the spans of proxied requests with `provider`'s tracer, while it has somewhere to send them."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("gateway")

    @property
    def active(self) -> bool:
        """Whether spans are worth making: the provider has a span processor."""
        # The SDK has no public accessor; should its internals change, trace rather than lose spans.
        processors = getattr(getattr(self._provider, "_active_span_processor", None), "_span_processors", None)
        return processors is None or bool(processors)

    def start_server_span(
        self, method: str, scheme: str, http_version: str, traceparent: bytes | None, tracestate: bytes | None
    ) -> Span:
        """The span of one request, a child of the client's span when it sent a valid ``traceparent``."""
        carrier: dict[str, str] = {}
        if traceparent is not None:
            carrier["traceparent"] = traceparent.decode("latin-1")
            if tracestate is not None:
                carrier["tracestate"] = tracestate.decode("latin-1")
        # An explicit empty context: without a traceparent the request starts a trace of its own.
        parent = _propagator.extract(carrier, context=Context())
        attributes: dict[str, AttributeValue] = {
            "http.request.method": method,
            "url.scheme": scheme,
            "network.protocol.version": http_version,
        }
        return self._tracer.start_span(method, context=parent, kind=SpanKind.SERVER, attributes=attributes)

    def start_client_span(
        self, server_span: Span, method: str, upstream: str, host: str, port: int, attempt: int
    ) -> Span:
        """The span of one attempt to send the request to `upstream`."""
        attributes: dict[str, AttributeValue] = {
            "http.request.method": method,
            "server.address": host,
            "server.port": port,
            "gateway.upstream": upstream,
        }
        if attempt > 1:
            attributes["http.request.resend_count"] = attempt - 1
        parent = trace.set_span_in_context(server_span, Context())
        return self._tracer.start_span(method, context=parent, kind=SpanKind.CLIENT, attributes=attributes)

    @staticmethod
    def trace_headers(span: Span) -> list[tuple[bytes, bytes]]:
        """``traceparent`` (and ``tracestate``) naming `span` as the parent, for the upstream request."""
        carrier: dict[str, str] = {}
        _propagator.inject(carrier, context=trace.set_span_in_context(span, Context()))
        return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in carrier.items()]


def end_server_span(span: Span, method: str, route: str | None, upstream: str | None, status: int) -> None:
    """Record the outcome of a request on its span and end it (5xx is an error of the server).

    `route` is the prefix of the route that matched, None when none did.
    """
    if route is not None:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
    if upstream is not None:
        span.set_attribute("gateway.upstream", upstream)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(StatusCode.ERROR)
        span.set_attribute("error.type", str(status))
    span.end()


def end_client_span(span: Span, *, status: int | None = None, error: str | None = None) -> None:
    """Record the upstream's answer (or why there was none) on an attempt's span and end it."""
    if status is not None:
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            span.set_status(StatusCode.ERROR)
            span.set_attribute("error.type", str(status))
    if error is not None:
        span.set_status(StatusCode.ERROR)
        span.set_attribute("error.type", error)
    span.end()
