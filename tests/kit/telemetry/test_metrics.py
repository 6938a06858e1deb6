"""Prometheus metrics: HTTP series by route template, the event metrics, the /metrics endpoint."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from kit.telemetry import metrics
from kit.telemetry.metrics import mount_metrics


def build_app(service: str) -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    mount_metrics(app, service)
    return app


@pytest.fixture
def service() -> str:
    return f"metrics-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def client(service: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(build_app(service), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def scrape(client: httpx.AsyncClient, service: str) -> list[Sample]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return [
        sample
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.labels.get("service") == service
    ]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    found = [sample.value for sample in samples if sample.name == name and labels.items() <= sample.labels.items()]
    return sum(found) if found else None


async def test_requests_are_counted_by_route_template_never_by_raw_path(
    client: httpx.AsyncClient, service: str
) -> None:
    for thing_id in ("1", "2", "3"):
        assert (await client.get(f"/things/{thing_id}")).status_code == 200

    samples = await scrape(client, service)

    requests = "http_server_requests_total"
    assert value(samples, requests, method="GET", route="/things/{thing_id}", status="200") == 3
    assert value(samples, "http_server_request_duration_seconds_count", route="/things/{thing_id}") == 3
    assert not [sample for sample in samples if "/things/1" in sample.labels.get("route", "")]


async def test_unmatched_paths_share_one_label(client: httpx.AsyncClient, service: str) -> None:
    for path in ("/nope", "/admin/.env", "/things"):
        assert (await client.get(path)).status_code == 404

    samples = await scrape(client, service)

    assert value(samples, "http_server_requests_total", route="<unmatched>", status="404") == 3


async def test_errors_and_unknown_methods_are_counted(client: httpx.AsyncClient, service: str) -> None:
    assert (await client.get("/broken")).status_code == 500
    assert (await client.request("BREW", "/things/1")).status_code == 405

    samples = await scrape(client, service)

    assert value(samples, "http_server_requests_total", route="/broken", status="500") == 1
    assert value(samples, "http_server_requests_total", method="OTHER", route="/things/{thing_id}") == 1


async def test_the_event_metrics_are_exposed(client: httpx.AsyncClient, service: str) -> None:
    metrics.outbox_relayed_total.labels(service=service, topic="payment.transaction").inc(2)
    metrics.outbox_relay_errors_total.labels(service=service).inc()
    metrics.outbox_pending.labels(service=service).set(7)
    metrics.events_consumed_total.labels(service=service, topic="payment.transaction", outcome="handled").inc()
    metrics.event_handling_seconds.labels(service=service, topic="payment.transaction").observe(0.01)

    samples = await scrape(client, service)

    assert value(samples, "outbox_relayed_total", topic="payment.transaction") == 2
    assert value(samples, "outbox_relay_errors_total") == 1
    assert value(samples, "outbox_pending") == 7
    assert value(samples, "events_consumed_total", outcome="handled") == 1
    assert value(samples, "event_handling_seconds_count", topic="payment.transaction") == 1


def test_several_apps_in_one_process_share_the_metrics_and_hide_the_endpoint_from_openapi() -> None:
    first, second = build_app("metrics-test-first"), build_app("metrics-test-second")

    for app in (first, second):
        assert "/metrics" not in app.openapi()["paths"]
