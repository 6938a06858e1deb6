"""``GATEWAY_TRUSTED_PROXIES`` through the real gateway: from a trusted peer the X-Forwarded-* chain is
kept and extended and its client is the right-most untrusted address — in what the upstream is told,
in the rate limit's key and in the access log, also of refused requests; from any other peer the
gateway states only what it saw itself."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from tests.gateway.conftest import GatewayStarter, RunningGateway, route_table
from tests.gateway.upstream import Upstream

CHAIN = {"X-Forwarded-For": "6.6.6.6, 10.1.1.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "portal.example"}


def _table(upstream_url: str) -> str:
    return route_table(
        {"echo": upstream_url},
        [
            {"prefix": "/echo", "upstream": "echo", "strip_prefix": True, "auth": "public", "rate_limit": "one"},
            {"prefix": "/private", "upstream": "echo", "strip_prefix": True},
        ],
        rate_limits={"one": {"rate": 0.001, "burst": 1}},
    )


@pytest.fixture(scope="module")
async def behind_a_proxy(
    start_gateway: GatewayStarter, upstream: tuple[Upstream, str]
) -> AsyncIterator[RunningGateway]:
    # The test client connects from 127.0.0.1: it plays the trusted proxy.
    async with start_gateway(_table(upstream[1]), trusted_proxies="127.0.0.1, 192.168.0.0/16") as running:
        yield running


def _values(seen: dict, name: str) -> list[str]:
    return [value for key, value in seen["headers"] if key == name]


async def test_a_trusted_proxys_chain_is_extended_and_its_client_believed(behind_a_proxy) -> None:
    seen = (await behind_a_proxy.client.get("/echo/x", headers=CHAIN)).json()
    assert _values(seen, "x-forwarded-for") == ["6.6.6.6, 10.1.1.1, 127.0.0.1"]
    assert _values(seen, "x-forwarded-proto") == ["https"]
    assert _values(seen, "x-forwarded-host") == ["portal.example"]


async def test_the_client_is_the_right_most_untrusted_address(behind_a_proxy, caplog) -> None:
    headers = {"X-Forwarded-For": "7.7.7.7, 192.168.3.4", "X-Request-ID": "right-most"}
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        first = await behind_a_proxy.client.get("/echo/x", headers=headers)
        second = await behind_a_proxy.client.get("/echo/x", headers=headers)
        other = await behind_a_proxy.client.get("/echo/x", headers={"X-Forwarded-For": "8.8.8.8"})
    assert first.status_code == 200
    assert second.status_code == 429  # the same client (7.7.7.7) behind the trusted hops: one bucket
    assert other.status_code == 200  # another client behind the same proxy: a bucket of its own
    entries = [record.__dict__ for record in caplog.records if record.name == "gateway.access"]
    assert [entry["client_ip"] for entry in entries] == ["7.7.7.7", "7.7.7.7", "8.8.8.8"]


async def test_a_refused_request_is_logged_with_the_client_a_trusted_proxy_names(behind_a_proxy, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        response = await behind_a_proxy.client.get("/private/x", headers={"X-Forwarded-For": "9.9.9.9"})
    assert response.status_code == 401
    [entry] = [record.__dict__ for record in caplog.records if record.name == "gateway.access"]
    assert entry["client_ip"] == "9.9.9.9"


async def test_a_forwarded_host_or_proto_that_is_not_one_is_ignored(behind_a_proxy) -> None:
    headers = {"X-Forwarded-For": "5.5.5.5", "X-Forwarded-Proto": "gopher", "X-Forwarded-Host": "a b"}
    seen = (await behind_a_proxy.client.get("/echo/y", headers=headers)).json()
    assert _values(seen, "x-forwarded-proto") == ["http"]
    assert _values(seen, "x-forwarded-host") == [behind_a_proxy.url.removeprefix("http://")]


async def test_an_untrusted_peers_statements_are_replaced(start_gateway: GatewayStarter, upstream) -> None:
    async with start_gateway(_table(upstream[1]), trusted_proxies="10.0.0.0/8") as gateway:
        seen = (await gateway.client.get("/echo/x", headers=CHAIN)).json()
    assert _values(seen, "x-forwarded-for") == ["127.0.0.1"]
    assert _values(seen, "x-forwarded-proto") == ["http"]
    assert _values(seen, "x-forwarded-host") == [gateway.url.removeprefix("http://")]
