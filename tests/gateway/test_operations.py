"""The real gateway in front of real services (payment and routing on PostgreSQL and Kafka): tokens
checked at the edge and again by the service, standard paths at fixed places, readiness of every
upstream, the merged OpenAPI document and its docs page, per-route metrics, the JSON access log
without secrets, and CORS."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from kit.db import migrate
from kit.service import Role, ServiceSpec, create_service_app
from kit.telemetry.logging import JsonFormatter
from kit.testing import LocalInfrastructure
from services.payment.app import SPEC as PAYMENT
from services.routing.app import SPEC as ROUTING
from tests.gateway.conftest import ISSUER, GatewayStarter, Issuer, RunningGateway, route_table
from tests.gateway.servers import raw_request, serve, unused_port
from tests.gateway.upstream import Upstream


@pytest.fixture(scope="module")
async def services(
    infrastructure: LocalInfrastructure, kafka_bootstrap: str, issuer: Issuer
) -> AsyncIterator[dict[str, str]]:
    """payment and routing, each on its own fresh PostgreSQL database, trusting the stand-in issuer."""
    urls: dict[str, str] = {}
    databases: list[str] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            for spec in (PAYMENT, ROUTING):
                database = await infrastructure.create_database(f"gw_{spec.name}")
                databases.append(database)
                await migrate(database, spec.migrations_dir)
                urls[spec.name] = await stack.enter_async_context(
                    serve(_service_app(spec, database, kafka_bootstrap, issuer))
                )
            yield urls
    finally:
        for database in databases:
            await infrastructure.drop_database(database)


def _service_app(spec: ServiceSpec, database: str, kafka: str, issuer: Issuer) -> Any:
    settings = spec.settings_type(
        database_url=database, kafka_bootstrap_servers=kafka, auth_jwks_url=issuer.jwks_url, auth_issuer=ISSUER
    )
    return create_service_app(spec, settings, Role.API)


@pytest.fixture(scope="module")
async def gateway(
    start_gateway: GatewayStarter, services: dict[str, str], upstream: tuple[Upstream, str]
) -> AsyncIterator[RunningGateway]:
    down = f"http://127.0.0.1:{unused_port()}"
    table = route_table(
        {"identity": down, "payment": services["payment"], "routing": services["routing"], "echo": upstream[1]},
        [
            {"prefix": "/payment", "upstream": "payment", "strip_prefix": True},
            {"prefix": "/routing", "upstream": "routing", "strip_prefix": True},
            {"prefix": "/v1/routes", "upstream": "routing", "auth": "public"},
            {"prefix": "/v1/submissions", "upstream": "routing"},
            {"prefix": "/.well-known/openid-configuration", "upstream": "identity", "auth": "public"},
            {"prefix": "/echo", "upstream": "echo", "strip_prefix": True, "auth": "public"},
        ],
    )
    async with start_gateway(table, openapi_cache_seconds=0) as running:
        yield running


async def test_a_token_for_the_service_passes_the_edge_and_the_services_own_check(gateway, issuer) -> None:
    anonymous = await gateway.client.get("/payment/payments")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    for_payment = issuer.tokens.auth_header(audience="payment")
    through = await gateway.client.get("/payment/payments", headers={**for_payment, "X-Request-ID": "op-1"})
    # Past the edge, the service answers itself: it has no such endpoint yet.
    assert through.status_code == 404
    assert through.json()["type"] == "urn:basisdienste:problem:not-found"
    assert through.json()["instance"] == "/payments"  # the service saw the stripped path
    assert through.headers["x-request-id"] == "op-1"
    wrong_audience = await gateway.client.get(
        "/payment/payments", headers=issuer.tokens.auth_header(audience="routing")
    )
    assert wrong_audience.status_code == 401


async def test_internal_paths_of_a_service_are_not_found_and_fit_connect_paths_reach_routing_unchanged(
    gateway, issuer
) -> None:
    token = issuer.tokens.auth_header(audience="payment")
    for path in ("/payment/health/live", "/payment/health/ready", "/payment/metrics"):
        internal = await gateway.client.get(path, headers=token)
        assert internal.status_code == 404, path
        assert internal.json()["type"] == "urn:basisdienste:problem:not-found"
    routes = await gateway.client.get("/v1/routes", params={"leikaKey": "99123456760610", "ars": "064350014014"})
    assert routes.status_code == 404  # routing does not implement the Routing API yet: its own 404
    assert routes.json()["instance"] == "/v1/routes"
    assert (await gateway.client.post("/v1/submissions", json={})).status_code == 401
    submissions = await gateway.client.post(
        "/v1/submissions", json={}, headers=issuer.tokens.auth_header(audience="routing")
    )
    assert submissions.json()["instance"] == "/v1/submissions"


async def test_an_unreachable_service_gets_502(gateway) -> None:
    response = await gateway.client.get("/.well-known/openid-configuration")
    assert response.status_code == 502
    assert response.json()["type"] == "urn:basisdienste:problem:upstream-unavailable"


async def test_readiness_reports_every_upstream(gateway) -> None:
    assert (await gateway.client.get("/health/live")).status_code == 200
    ready = await gateway.client.get("/health/ready")
    assert ready.status_code == 503  # identity is down
    checks = ready.json()["checks"]
    assert set(checks) == {"identity", "payment", "routing", "echo"}
    assert checks["payment"] == "ok"
    assert checks["routing"] == "ok"
    assert checks["identity"].startswith("unavailable")
    assert checks["echo"] == "ok"


async def test_the_merged_openapi_document_covers_the_reachable_services_and_names_the_others(gateway) -> None:
    response = await gateway.client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    # The services' health endpoints are internal: not reachable through the gateway, so not in its document.
    assert not [path for path in document["paths"] if "/health/" in path or path.endswith("/metrics")]
    assert document["info"]["x-unavailable"] == ["echo", "identity"]


async def test_the_docs_page_and_its_assets_are_served_by_the_gateway(gateway) -> None:
    page = await gateway.client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', page.text)
    assert assets
    for asset in assets:
        assert (await gateway.client.get(asset)).status_code == 200, asset


async def test_metrics_are_per_route_never_per_raw_path(gateway) -> None:
    await gateway.client.get("/echo/orders/unique-id-4711")
    await gateway.client.get("/nowhere/unique-id-4712")
    await raw_request(gateway.url, b"GET /echo/../unique-id-4713 HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
    text = (await gateway.client.get("/metrics")).text
    assert 'http_server_requests_total{method="GET",route="/echo",service="gateway",status="200"}' in text
    assert (
        'http_server_request_duration_seconds_bucket{le="0.005",method="GET",route="/echo",service="gateway"}' in text
    )
    assert 'route="<unmatched>",service="gateway",status="404"' in text
    assert 'route="<invalid>",service="gateway",status="400"' in text
    assert "unique-id" not in text
    assert "gateway_upstream_attempts_total" in text
    assert "gateway_circuit_state" in text


async def test_one_json_access_line_per_request_without_tokens_or_queries(
    gateway, issuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.tokens.issue(audience="payment")
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        await gateway.client.get(
            "/payment/payments",
            params={"access_token": "QUERY-SECRET"},
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "log-1"},
        )
    records = [record for record in caplog.records if record.name == "gateway.access"]
    assert len(records) == 1
    line = JsonFormatter("gateway", request_id=lambda: "log-1").format(records[0])
    entry = json.loads(line)
    assert entry["method"] == "GET"
    assert entry["route"] == "/payment"
    assert entry["upstream"] == "payment"
    assert entry["status"] == 404
    assert entry["duration_ms"] > 0
    assert entry["bytes_sent"] > 0
    assert entry["client_ip"] == "127.0.0.1"
    assert records[0].__dict__.get("request_id", "log-1") == "log-1"
    assert token not in line
    assert "QUERY-SECRET" not in line


async def test_cors_is_answered_at_the_edge_for_configured_origins_only(
    start_gateway: GatewayStarter, upstream: tuple[Upstream, str]
) -> None:
    table = route_table({"echo": upstream[1]}, [{"prefix": "/echo", "upstream": "echo", "strip_prefix": True}])
    async with start_gateway(table, cors_origins="https://portal.example") as gw:
        before = len(upstream[0].seen)
        preflight = await gw.client.options(
            "/echo/x",
            headers={
                "Origin": "https://portal.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200  # no token needed, never forwarded
        assert preflight.headers["access-control-allow-origin"] == "https://portal.example"
        assert "access-control-allow-credentials" not in preflight.headers
        assert len(upstream[0].seen) == before
        simple = await gw.client.get("/echo/x", headers={"Origin": "https://portal.example"})
        assert simple.status_code == 401
        assert simple.headers["access-control-allow-origin"] == "https://portal.example"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
        foreign = await gw.client.get("/echo/x", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers
        refused = await gw.client.options(
            "/echo/x", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert refused.status_code == 400
