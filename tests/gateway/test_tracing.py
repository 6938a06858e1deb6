"""Spans of proxied requests through the real gateway: a server span continuing the client's trace, a
client span per attempt whose traceparent the upstream receives, nothing secret in them, and no spans
at all (the client's trace context passing unchanged) while nothing would receive them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from gateway.tracing import ProxyTracing
from tests.gateway.conftest import GatewayStarter, RunningGateway, route_table
from tests.gateway.servers import raw_request, unused_port
from tests.gateway.upstream import Upstream

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CLIENT_SPAN_ID}-01"
SECRET = "s3cr3t-t0ken"


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
async def gateway(
    start_gateway: GatewayStarter, upstream: tuple[Upstream, str], exporter: InMemorySpanExporter
) -> AsyncIterator[RunningGateway]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    table = route_table(
        {"echo": upstream[1], "down": f"http://127.0.0.1:{unused_port()}"},
        [
            {"prefix": "/echo", "upstream": "echo", "strip_prefix": True},
            {"prefix": "/down", "upstream": "down", "strip_prefix": True, "retry": {"attempts": 1}},
        ],
        defaults={"auth": "public", "retry": {"attempts": 2, "backoff": 0.01}},
    )
    async with start_gateway(table, tracer_provider=provider) as running:
        yield running


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    exporter.clear()
    return exporter


def _names(span: ReadableSpan) -> str:
    """The traceparent naming `span` as the parent, without its flags."""
    return f"00-{format(span.context.trace_id, '032x')}-{format(span.context.span_id, '016x')}"


def _without_flags(traceparent: str) -> str:
    return traceparent.rsplit("-", 1)[0]


def _of_kind(spans: InMemorySpanExporter, kind: SpanKind) -> list[ReadableSpan]:
    return [span for span in spans.get_finished_spans() if span.kind is kind]


async def _get(gateway: RunningGateway, target: str, *headers: str) -> tuple[int, dict[str, object]]:
    # Raw, so that no instrumented client in this process adds a traceparent of its own.
    head = "".join(f"{header}\r\n" for header in headers)
    answer = await raw_request(
        gateway.url, f"GET {target} HTTP/1.1\r\nHost: gw\r\n{head}Connection: close\r\n\r\n".encode()
    )
    status_line, _, rest = answer.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(body) if body.startswith(b"{") else {}


async def test_the_server_span_continues_the_clients_trace_and_the_upstream_continues_the_client_span(
    gateway, spans
) -> None:
    status, seen = await _get(gateway, f"/echo/things/42?access_token={SECRET}", f"traceparent: {TRACEPARENT}")
    assert status == 200
    [server] = _of_kind(spans, SpanKind.SERVER)
    [client] = _of_kind(spans, SpanKind.CLIENT)
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None and format(server.parent.span_id, "016x") == CLIENT_SPAN_ID
    assert server.name == "GET /echo"
    assert server.attributes["http.route"] == "/echo"
    assert server.attributes["http.request.method"] == "GET"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["gateway.upstream"] == "echo"
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    assert client.context.trace_id == server.context.trace_id
    assert client.attributes["http.response.status_code"] == 200
    assert client.attributes["gateway.upstream"] == "echo"
    forwarded = dict(seen["headers"])
    assert _without_flags(forwarded["traceparent"]) == _names(client)
    assert _names(client).startswith(f"00-{TRACE_ID}-")
    for span in (server, client):
        text = json.dumps(dict(span.attributes or {})) + span.name
        assert SECRET not in text and "things" not in text  # neither query nor path


async def test_without_a_traceparent_the_request_starts_a_trace(gateway, spans) -> None:
    status, seen = await _get(gateway, "/echo/x")
    assert status == 200
    [server] = _of_kind(spans, SpanKind.SERVER)
    [client] = _of_kind(spans, SpanKind.CLIENT)
    assert server.parent is None
    assert _without_flags(dict(seen["headers"])["traceparent"]) == _names(client)


async def test_an_invalid_or_repeated_traceparent_starts_a_new_trace(gateway, spans) -> None:
    for headers in (["traceparent: 00-zz-yy-01"], [f"traceparent: {TRACEPARENT}", f"traceparent: {TRACEPARENT}"]):
        spans.clear()
        status, _ = await _get(gateway, "/echo/x", *headers)
        assert status == 200
        [server] = _of_kind(spans, SpanKind.SERVER)
        assert server.parent is None
        assert format(server.context.trace_id, "032x") != TRACE_ID


async def test_each_attempt_is_a_client_span_of_its_own(gateway, upstream, spans) -> None:
    status, _ = await _get(gateway, "/echo/flaky/traced?fail=1&code=503")
    assert status == 200
    [server] = _of_kind(spans, SpanKind.SERVER)
    first, second = sorted(_of_kind(spans, SpanKind.CLIENT), key=lambda span: span.start_time or 0)
    assert first.attributes["http.response.status_code"] == 503
    assert first.status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in first.attributes
    assert second.attributes["http.response.status_code"] == 200
    assert second.attributes["http.request.resend_count"] == 1
    assert {first.parent.span_id, second.parent.span_id} == {server.context.span_id}
    traceparents = [
        [_without_flags(value) for value in seen.header("traceparent")]
        for seen in upstream[0].seen
        if seen.raw_path.startswith("/flaky/traced")
    ]
    assert traceparents == [[_names(first)], [_names(second)]]


async def test_an_unreachable_upstream_is_an_error_on_both_spans(gateway, spans) -> None:
    status, _ = await _get(gateway, "/down/x")
    assert status == 502
    [server] = _of_kind(spans, SpanKind.SERVER)
    [client] = _of_kind(spans, SpanKind.CLIENT)
    assert server.status.status_code is StatusCode.ERROR
    assert server.attributes["http.response.status_code"] == 502
    assert client.attributes["error.type"] == "connect_error"
    assert client.status.status_code is StatusCode.ERROR


async def test_a_refused_request_has_a_server_span_only(gateway, spans) -> None:
    status, _ = await _get(gateway, "/nowhere")
    assert status == 404
    [server] = spans.get_finished_spans()
    assert server.kind is SpanKind.SERVER
    assert server.name == "GET"
    assert server.attributes["http.response.status_code"] == 404
    assert server.status.status_code is not StatusCode.ERROR


async def test_without_a_span_processor_no_span_is_made_and_the_trace_context_passes_unchanged(
    start_gateway: GatewayStarter, upstream: tuple[Upstream, str]
) -> None:
    silent = TracerProvider()
    assert not ProxyTracing(silent).active
    table = route_table(
        {"echo": upstream[1]}, [{"prefix": "/echo", "upstream": "echo", "strip_prefix": True, "auth": "public"}]
    )
    async with start_gateway(table, tracer_provider=silent) as gateway:
        status, seen = await _get(gateway, "/echo/x", f"traceparent: {TRACEPARENT}", "tracestate: vendor=1")
    assert status == 200
    headers = dict(seen["headers"])
    assert headers["traceparent"] == TRACEPARENT
    assert headers["tracestate"] == "vendor=1"
