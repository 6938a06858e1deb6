"""The route table: the shipped file is valid and routes what the suite needs, a bad file is refused
with a reason, and a running gateway picks up a changed file (polled, and on SIGHUP) while keeping
the table in force when the new one is broken."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.config import DEFAULT_ROUTES_FILE
from gateway.path import parse_path
from gateway.route_table import RouteTableError, load_route_table
from tests.gateway.conftest import ISSUER, GatewayStarter, route_table
from tests.gateway.servers import GatewayProcess, unused_port
from tests.gateway.upstream import Upstream


def _route(table, path: str):
    route = table.match(parse_path(path.encode()))
    return None if route is None else (route.upstream, route.route.auth, route.upstream_path(parse_path(path.encode())))


def test_the_shipped_table_routes_the_services_and_the_standard_paths() -> None:
    table = load_route_table(DEFAULT_ROUTES_FILE, default_timeout=30, environ={})
    assert _route(table, "/payment/payments/1") == ("payment", "required", "/payments/1")
    assert table.routes[("payment",)].reaches_internal(parse_path(b"/payment/health/live"))
    assert table.routes[("payment",)].reaches_internal(parse_path(b"/payment/metrics"))
    assert _route(table, "/payments") is None
    assert _route(table, "/catalogue/leistungen") == ("catalogue", "public", "/leistungen")
    assert _route(table, "/mailbox/messages") == ("mailbox", "required", "/messages")
    assert _route(table, "/.well-known/openid-configuration") == (
        "identity",
        "public",
        "/.well-known/openid-configuration",
    )
    assert _route(table, "/jwks") == ("identity", "public", "/jwks")
    assert _route(table, "/v1/routes") == ("routing", "public", "/v1/routes")
    assert _route(table, "/v1/areas") == ("routing", "public", "/v1/areas")
    assert _route(table, "/v1/submissions/42/attachments/7") == (
        "routing",
        "required",
        "/v1/submissions/42/attachments/7",
    )
    assert _route(table, "/v1/destinations/9") == ("routing", "required", "/v1/destinations/9")
    assert _route(table, "/v1/cases/1/events") == ("routing", "required", "/v1/cases/1/events")
    assert table.upstream_urls["payment"] == "http://127.0.0.1:8004"
    assert table.public_prefix("payment") == "/payment"


def test_urls_come_from_overrides_then_the_environment_then_the_file() -> None:
    table = load_route_table(
        DEFAULT_ROUTES_FILE,
        default_timeout=30,
        url_overrides={"payment": "http://payment:8004/"},
        environ={"GATEWAY_ROUTING_URL": "https://routing.internal/base"},
    )
    assert table.upstream_urls["payment"] == "http://payment:8004"
    assert table.upstream_urls["routing"] == "https://routing.internal/base"
    assert table.upstream_urls["identity"] == "http://127.0.0.1:8001"


BASE = {"upstreams": {"a": {"url": "http://a"}}, "routes": [{"prefix": "/a", "upstream": "a"}]}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"routes": [{"prefix": "/a", "upstream": "b"}]}, "no upstream named 'b'"),
        ({"routes": [{"prefix": "/a", "upstream": "a", "rate_limit": "x"}]}, "no rate-limit class named 'x'"),
        ({"routes": [{"prefix": "/a", "upstream": "a"}, {"prefix": "/a", "upstream": "a"}]}, "routed twice"),
        ({"routes": [{"prefix": "/a/../b", "upstream": "a"}]}, "normal form"),
        ({"routes": [{"prefix": "/a/", "upstream": "a"}]}, "trailing slash"),
        ({"routes": [{"prefix": "a", "upstream": "a"}]}, "normal form"),
        ({"routes": [{"prefix": "/a", "upstream": "a", "auth": "maybe"}]}, "auth"),
        ({"routes": [{"prefix": "/a", "upstream": "a", "auth": "public", "scopes": ["x"]}]}, "cannot require scopes"),
        ({"routes": [{"prefix": "/a", "upstream": "a", "scopes": ["bad scope"]}]}, "not a valid OAuth scope"),
        ({"routes": [{"prefix": "/a", "upstream": "a", "strip_prefix": "/b"}]}, "not a leading part"),
        ({"routes": [{"prefix": "/a", "upstream": "a", "retry": {"attempts": 9}}]}, "retry.attempts"),
        ({"routes": [{"prefix": "/a", "upstream": "a", "timeout": 0}]}, "timeout"),
        ({"routes": [{"prefix": "/a", "upstream": "a", "tiemout": 3}]}, "tiemout"),
        ({"upstreams": {"a": {"url": "ftp://a"}}}, "not an absolute http(s) URL"),
        ({"upstreams": {"a": {"url": "http://a?x=1"}}}, "no query"),
        ({"upstreams": {"jwks": {"url": "http://a"}}}, "reserved"),
        ({"defaults": {"prefix": "/x"}}, "defaults may only set"),
        ({"upstreams": {"a": {"url": "http://a/base path"}}}, "percent-encoded ASCII"),
        ({"upstreams": {"a": {"url": "http://a:99999"}}}, "not a valid port"),
        ({"internal_paths": ["/"]}, "whole upstream internal"),
        ({"internal_paths": ["/a/../b"]}, "normal form"),
        ({"upstreams": {"a": {"url": "http://a", "internal_paths": ["metrics"]}}}, "normal form"),
        (
            {"routes": [{"prefix": "/a/metrics", "upstream": "a", "strip_prefix": "/a"}]},
            "only leads to /metrics, an internal path of a",
        ),
        ({"routes": [{"prefix": "/health/live", "upstream": "a"}]}, "only leads to /health"),
    ],
)
def test_a_bad_table_is_refused_with_its_reason(tmp_path: Path, change: dict, reason: str) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump(BASE | change))
    with pytest.raises(RouteTableError, match=None) as caught:
        load_route_table(path, default_timeout=1, environ={})
    assert reason in str(caught.value)


def test_unreadable_and_non_yaml_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RouteTableError):
        load_route_table(tmp_path / "missing.yaml", default_timeout=1, environ={})
    broken = tmp_path / "broken.yaml"
    broken.write_text("routes: [unclosed")
    with pytest.raises(RouteTableError):
        load_route_table(broken, default_timeout=1, environ={})


async def _eventually_status(client: httpx.AsyncClient, path: str, status: int, within: float = 5) -> None:
    deadline = time.monotonic() + within
    while True:
        code = (await client.get(path)).status_code
        if code == status:
            return
        assert time.monotonic() < deadline, f"{path} still answers {code}, not {status}"
        await asyncio.sleep(0.1)


async def test_a_changed_file_is_picked_up_and_a_broken_one_ignored(
    start_gateway: GatewayStarter, upstream: tuple[Upstream, str], caplog: pytest.LogCaptureFixture
) -> None:
    one = route_table({"echo": upstream[1]}, [{"prefix": "/one", "upstream": "echo", "auth": "public"}])
    two = route_table(
        {"echo": upstream[1]},
        [
            {"prefix": "/one", "upstream": "echo", "auth": "public"},
            {"prefix": "/two", "upstream": "echo", "auth": "public"},
        ],
    )
    async with start_gateway(one) as gw:
        assert (await gw.client.get("/two/x")).status_code == 404
        gw.routes_file.write_text(two)
        await _eventually_status(gw.client, "/two/x", 200, within=3)
        gw.routes_file.write_text(two.replace("prefix: /two", "prefix: /two/../three"))
        await asyncio.sleep(1.5)
        assert (await gw.client.get("/two/x")).status_code == 200
        assert any("route table not reloaded" in record.getMessage() for record in caplog.records)
        # An atomic replacement (the way editors and ConfigMaps write) is a new file.
        replacement = gw.routes_file.with_suffix(".new")
        replacement.write_text(one)
        replacement.replace(gw.routes_file)
        await _eventually_status(gw.client, "/two/x", 404, within=3)


async def test_an_upstream_dropped_by_a_reload_no_longer_counts_for_readiness(
    start_gateway: GatewayStarter, upstream: tuple[Upstream, str]
) -> None:
    routes = [{"prefix": "/one", "upstream": "echo", "auth": "public"}]
    down = {"prefix": "/gone", "upstream": "gone", "auth": "public"}
    both = route_table({"echo": upstream[1], "gone": f"http://127.0.0.1:{unused_port()}"}, [*routes, down])
    async with start_gateway(both) as gw:
        assert (await gw.client.get("/health/ready")).status_code == 503
        gw.routes_file.write_text(route_table({"echo": upstream[1]}, routes))
        await _eventually_status(gw.client, "/gone/x", 404, within=3)
        ready = await gw.client.get("/health/ready")
        assert ready.status_code == 200, ready.text


async def test_python_m_gateway_reloads_on_sighup(issuer, upstream: tuple[Upstream, str], tmp_path: Path) -> None:
    routes_file = tmp_path / "routes.yaml"
    # The URL comes from GATEWAY_ECHO_URL: overrides work for any upstream name.
    first = route_table({"echo": "http://127.0.0.1:9"}, [{"prefix": "/aaaa", "upstream": "echo", "auth": "public"}])
    routes_file.write_text(first)
    gateway = GatewayProcess(
        {
            "GATEWAY_ROUTES_FILE": str(routes_file),
            "GATEWAY_JWKS_URL": issuer.jwks_url,
            "GATEWAY_ISSUER": ISSUER,
            "GATEWAY_ECHO_URL": upstream[1],
        },
        tmp_path / "gateway.log",
    )
    try:
        await gateway.wait_until_serving()
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            assert (await client.get("/aaaa/x")).status_code == 200
            # Same size, same inode, same modification time: invisible to polling, not to SIGHUP.
            stat = routes_file.stat()
            routes_file.write_text(first.replace("/aaaa", "/bbbb"))
            os.utime(routes_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            await asyncio.sleep(1.5)
            assert (await client.get("/bbbb/x")).status_code == 404
            gateway.reload()
            await _eventually_status(client, "/bbbb/x", 200, within=3)
            assert (await client.get("/aaaa/x")).status_code == 404
    finally:
        gateway.stop()
    assert "route table reloaded (SIGHUP)" in gateway.log()
