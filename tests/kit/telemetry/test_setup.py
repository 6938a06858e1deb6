"""setup_telemetry: one call gives a service logs, traces, metrics and probes."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from kit.config import ServiceSettings
from kit.http.request_id import REQUEST_ID_HEADER, RequestIdMiddleware
from kit.telemetry import setup_telemetry


async def database_ping() -> None:
    return None


def build_app(service_name: str) -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        logging.getLogger("things").info("looked up", extra={"thing_id": thing_id})
        return {"id": thing_id}

    setup_telemetry(app, ServiceSettings(service_name=service_name), {"database": database_ping})
    app.add_middleware(RequestIdMiddleware)
    return app


@pytest.mark.usefixtures("restore_logging")
async def test_one_call_wires_logs_traces_metrics_and_probes(
    spans: InMemorySpanExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    build_app("setup-test-first")
    app = build_app("setup-test")  # a second app in the same process must not break anything

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
        response = await client.get("/things/7")
        assert response.status_code == 200
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/health/ready")).json()["status"] == "ready"
        scraped = (await client.get("/metrics")).text

    assert 'route="/things/{thing_id}",service="setup-test",status="200"' in scraped
    [server] = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert server.attributes is not None
    assert server.attributes.get("http.route") == "/things/{thing_id}"
    [entry] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert entry["message"] == "looked up"
    assert entry["service"] == "setup-test"
    assert entry["thing_id"] == "7"
    assert entry["trace_id"] == f"{server.context.trace_id:032x}"
    assert entry["request_id"] == response.headers[REQUEST_ID_HEADER]
