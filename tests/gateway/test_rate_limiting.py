"""The rate limiter wired into the real gateway: buckets per client id on authenticated routes and per
IP address on public ones, RateLimit headers on every answer, 429 with Retry-After that the upstream
never sees. (The limiter itself is tested in test_rate_limit.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.gateway.conftest import GatewayStarter, RunningGateway, route_table
from tests.gateway.upstream import Upstream


@pytest.fixture(scope="module")
async def gateway(start_gateway: GatewayStarter, upstream: tuple[Upstream, str]) -> AsyncIterator[RunningGateway]:
    table = route_table(
        {"echo": upstream[1]},
        [
            {"prefix": "/private", "upstream": "echo", "strip_prefix": True, "rate_limit": "tight"},
            {"prefix": "/public", "upstream": "echo", "strip_prefix": True, "auth": "public", "rate_limit": "tight"},
            {"prefix": "/unlimited", "upstream": "echo", "strip_prefix": True, "auth": "public"},
        ],
        rate_limits={"tight": {"rate": 0.1, "burst": 2}},
        defaults={"audience": "echo"},
    )
    async with start_gateway(table) as running:
        yield running


async def test_each_client_has_its_own_bucket_and_a_denial_never_reaches_the_upstream(
    gateway, issuer, upstream
) -> None:
    alice = issuer.tokens.auth_header(client_id="alice-portal")
    bob = issuer.tokens.auth_header(client_id="bob-portal")
    first = await gateway.client.get("/private/x", headers=alice)
    assert first.status_code == 200
    assert first.headers["ratelimit-limit"] == "2"
    assert first.headers["ratelimit-remaining"] == "1"
    assert first.headers["ratelimit-policy"] == '"tight";q=2;w=20'
    assert (await gateway.client.get("/private/x", headers=alice)).status_code == 200
    before = len(upstream[0].seen)
    denied = await gateway.client.get("/private/x", headers=alice)
    assert denied.status_code == 429
    assert denied.headers["content-type"] == "application/problem+json"
    assert denied.json()["type"] == "urn:basisdienste:problem:too-many-requests"
    assert int(denied.headers["retry-after"]) >= 1
    assert denied.headers["ratelimit-remaining"] == "0"
    assert len(upstream[0].seen) == before
    # A fresh token of the same client shares its bucket; another client has its own.
    assert (
        await gateway.client.get("/private/x", headers=issuer.tokens.auth_header(client_id="alice-portal"))
    ).status_code == 429
    assert (await gateway.client.get("/private/x", headers=bob)).status_code == 200


async def test_public_routes_are_limited_per_address(gateway) -> None:
    statuses = [(await gateway.client.get("/public/x")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_a_route_without_a_class_is_not_limited(gateway) -> None:
    responses = [await gateway.client.get("/unlimited/x") for _ in range(5)]
    assert {response.status_code for response in responses} == {200}
    assert "ratelimit-limit" not in responses[0].headers
