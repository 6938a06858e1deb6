"""Internal paths of the upstreams (``/metrics``, ``/health/…`` and what the route table adds) through the
real gateway: a 404 problem document, whatever the spelling, and the upstream never sees the request."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.gateway.conftest import GatewayStarter, RunningGateway, route_table
from tests.gateway.servers import raw_request
from tests.gateway.upstream import Upstream


@pytest.fixture(scope="module")
async def gateway(start_gateway: GatewayStarter, upstream: tuple[Upstream, str]) -> AsyncIterator[RunningGateway]:
    url = upstream[1]
    table = route_table(
        {
            "echo": url,
            "own": {"url": url, "internal_paths": ["/admin/debug"]},
            "open": {"url": url, "internal_paths": []},
        },
        [
            {"prefix": "/echo", "upstream": "echo", "strip_prefix": True},
            {"prefix": "/fixed", "upstream": "echo"},
            {"prefix": "/own", "upstream": "own", "strip_prefix": True},
            {"prefix": "/open", "upstream": "open", "strip_prefix": True},
        ],
        defaults={"auth": "public"},
    )
    async with start_gateway(table) as running:
        yield running


async def _status(gateway: RunningGateway, path: str) -> tuple[int, bytes]:
    answer = await raw_request(gateway.url, f"GET {path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n".encode())
    return int(answer.split(b" ", 2)[1]), answer


@pytest.mark.parametrize(
    "path",
    [
        "/echo/metrics",
        "/echo/metrics/",
        "/echo/metrics?format=text",
        "/echo/health",
        "/echo/health/live",
        "/echo/health/ready",
        "/echo/%68ealth/ready",  # percent-encoded letters mean the same to the upstream
        "/echo/metrics;jsessionid=1",  # path parameters, which servlet containers drop
        "/own/admin/debug",
        "/own/admin/debug/vars",
    ],
)
async def test_an_internal_path_is_not_found_and_never_reaches_the_upstream(gateway, upstream, path: str) -> None:
    before = len(upstream[0].seen)
    status, answer = await _status(gateway, path)
    assert status == 404, answer[:300]
    assert b"application/problem+json" in answer
    assert b"urn:basisdienste:problem:not-found" in answer
    assert len(upstream[0].seen) == before


@pytest.mark.parametrize(
    ("path", "forwarded"),
    [
        ("/echo/healthy", "/healthy"),
        ("/echo/x/metrics", "/x/metrics"),
        ("/fixed/metrics", "/fixed/metrics"),  # an unstripped route: the upstream's path starts with /fixed
        ("/own/metrics", "/metrics"),  # the upstream's own list replaces the table's
        ("/own/admin", "/admin"),
        ("/open/health/live", "/health/live"),
    ],
)
async def test_other_paths_pass(gateway, upstream, path: str, forwarded: str) -> None:
    status, answer = await _status(gateway, path)
    assert status == 200, answer[:300]
    assert upstream[0].seen[-1].raw_path == forwarded
