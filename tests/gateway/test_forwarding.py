"""What crosses the real gateway on its way to a real upstream and back: the raw path, method, query,
end-to-end headers and body; never hop-by-hop headers, a client's Host or made-up X-Forwarded-*;
request ids and trace context; and paths that try to reach another route's upstream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.gateway.conftest import GatewayStarter, RunningGateway, route_table
from tests.gateway.servers import raw_request, serve
from tests.gateway.upstream import Upstream

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
async def other() -> AsyncIterator[tuple[Upstream, str]]:
    app = Upstream("other")
    async with serve(app) as url:
        yield app, url


@pytest.fixture(scope="module")
async def gateway(
    start_gateway: GatewayStarter, upstream: tuple[Upstream, str], other: tuple[Upstream, str]
) -> AsyncIterator[RunningGateway]:
    table = route_table(
        {"echo": upstream[1], "other": other[1]},
        [
            {"prefix": "/echo", "upstream": "echo", "strip_prefix": True, "auth": "public", "max_body_bytes": 1000},
            {"prefix": "/identity", "upstream": "other", "strip_prefix": True, "auth": "public"},
            {"prefix": "/fixed/path", "upstream": "echo", "auth": "public"},
            {"prefix": "/slowbody", "upstream": "echo", "strip_prefix": True, "auth": "public", "body_timeout": 1},
        ],
    )
    async with start_gateway(table) as running:
        yield running


async def test_method_raw_path_query_headers_and_body_reach_the_upstream_unchanged(gateway, upstream) -> None:
    response = await gateway.client.put(
        "/echo/things/M%C3%BCnchen%20Nord;v=1",
        params={"q": "a b", "cursor": "x/y"},
        content=b"payload",
        headers={"Content-Type": "application/json", "Idempotency-Key": "k-1", "Accept-Language": "de"},
    )
    assert response.status_code == 200
    seen = response.json()
    assert seen["method"] == "PUT"
    assert seen["raw_path"] == "/things/M%C3%BCnchen%20Nord;v=1"
    assert seen["query"] == "q=a+b&cursor=x%2Fy"
    headers = dict(seen["headers"])
    assert headers["content-type"] == "application/json"
    assert headers["idempotency-key"] == "k-1"
    assert headers["accept-language"] == "de"
    assert headers["content-length"] == "7"
    assert "transfer-encoding" not in headers
    assert "user-agent" in headers  # the client's own, not aiohttp's
    assert "aiohttp" not in headers["user-agent"].lower()
    assert seen["body_bytes"] == 7


async def test_unstripped_routes_forward_the_whole_path(gateway) -> None:
    response = await gateway.client.get("/fixed/path/sub")
    assert response.json()["raw_path"] == "/fixed/path/sub"


async def test_hop_by_hop_and_connection_listed_headers_never_reach_the_upstream(gateway) -> None:
    response = await gateway.client.get(
        "/echo/x",
        headers={
            "Connection": "keep-alive, X-Internal-Secret, x-other",
            "X-Internal-Secret": "s3cr3t",
            "X-Other": "1",
            "Keep-Alive": "timeout=100",
            "Proxy-Authorization": "Basic Zm9vOmJhcg==",
            "Proxy-Connection": "keep-alive",
            "TE": "trailers",
            "Trailer": "X-Foo",
            "Upgrade": "h2c",
            "X-Kept": "yes",
        },
    )
    names = {name for name, _ in response.json()["headers"]}
    dropped = {"x-internal-secret", "x-other", "keep-alive", "proxy-authorization", "proxy-connection", "te"}
    dropped |= {"trailer", "upgrade"}
    assert not names & dropped, names & dropped
    assert "x-kept" in names
    assert dict(response.json()["headers"]).get("connection", "keep-alive") == "keep-alive"  # aiohttp's own


async def test_hop_by_hop_response_headers_never_reach_the_client(gateway) -> None:
    response = await gateway.client.get("/echo/hop")
    assert response.headers["x-kept"] == "yes"
    for name in ("x-secret", "keep-alive", "proxy-authenticate"):
        assert name not in response.headers


async def test_the_client_host_never_reaches_the_upstream_and_forwarded_headers_are_the_gateways(
    gateway, upstream
) -> None:
    upstream_host = upstream[1].removeprefix("http://")
    response = await gateway.client.get(
        "/echo/x",
        headers={
            "Host": "evil.example",
            "X-Forwarded-For": "6.6.6.6",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https",
            "X-Real-IP": "6.6.6.6",
            "Forwarded": "for=6.6.6.6;proto=https",
        },
    )
    headers = response.json()["headers"]
    values = {name: [v for n, v in headers if n == name] for name, _ in headers}
    assert values["host"] == [upstream_host]
    assert values["x-forwarded-for"] == ["127.0.0.1"]
    assert values["x-forwarded-proto"] == ["http"]
    assert values["x-forwarded-host"] == ["evil.example"]  # what the client asked for, stated by the gateway
    assert values["x-forwarded-prefix"] == ["/echo"]
    assert "x-real-ip" not in values
    assert "forwarded" not in values


@pytest.mark.parametrize(
    "host",
    [b"evil.example:80x", b"a b", b"evil.example/path", b"user@evil.example", b"[::1"],
)
async def test_a_host_header_that_is_not_a_host_is_refused(gateway, upstream, host: bytes) -> None:
    before = len(upstream[0].seen)
    answer = await raw_request(gateway.url, b"GET /echo/x HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert len(upstream[0].seen) == before


async def test_two_host_headers_are_refused(gateway, upstream) -> None:
    before = len(upstream[0].seen)
    answer = await raw_request(
        gateway.url, b"GET /echo/x HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert len(upstream[0].seen) == before


async def test_request_ids_are_passed_or_made_and_traceparent_travels(gateway) -> None:
    # Sent raw: httpx in this process is instrumented and would put a traceparent of its own.
    answer = await raw_request(
        gateway.url,
        b"GET /echo/x HTTP/1.1\r\nHost: gw\r\nX-Request-ID: req-42\r\ntraceparent: "
        + TRACEPARENT.encode()
        + b"\r\nConnection: close\r\n\r\n",
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"\r\nx-request-id: req-42" in head
    headers = dict(json.loads(body)["headers"])
    assert headers["x-request-id"] == "req-42"
    assert headers["traceparent"] == TRACEPARENT
    made = await gateway.client.get("/echo/x", headers={"X-Request-ID": "bad id with <junk>"})
    assert made.headers["x-request-id"] == dict(made.json()["headers"])["x-request-id"]
    assert len(made.headers["x-request-id"]) == 32


async def test_a_set_cookie_of_one_client_is_never_sent_along_with_anothers_request(gateway) -> None:
    first = await gateway.client.get("/echo/cookie")
    assert "secret-of-one-client" in first.headers["set-cookie"]
    async with httpx.AsyncClient(base_url=gateway.url) as another:
        second = await another.get("/echo/x")
    assert "cookie" not in dict(second.json()["headers"])


TRAVERSALS = [
    "/echo/../identity/x",
    "/echo/%2e%2e/identity/x",
    "/echo/%2E%2E/identity",
    "/echo%2f..%2fidentity/x",
    "/echo%2F..%2Fidentity",
    "/echo/..%2fidentity",
    "/echo/%252e%252e/identity",
    "/echo%252f..%252fidentity",
    "/echo/..%5cidentity",
    "/echo/..;/identity/x",
    "//identity/x",
    "/echo//identity",
    "/echo/./x",
    "/echo/%00/x",
    "/echo/%zz",
]


@pytest.mark.parametrize("path", TRAVERSALS)
async def test_traversal_and_encoded_slash_tricks_are_refused_before_any_upstream(gateway, upstream, other, path):
    before = (len(upstream[0].seen), len(other[0].seen))
    answer = await raw_request(gateway.url, f"GET {path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"application/problem+json" in answer
    assert b"urn:basisdienste:problem:invalid-path" in answer
    assert (len(upstream[0].seen), len(other[0].seen)) == before


async def test_a_prefix_only_matches_whole_segments(gateway) -> None:
    response = await gateway.client.get("/echoes/x")
    assert response.status_code == 404
    assert response.json()["type"] == "urn:basisdienste:problem:not-found"
    assert response.headers["content-type"] == "application/problem+json"


async def test_methods_the_gateway_does_not_forward_are_refused(gateway) -> None:
    response = await gateway.client.request("TRACE", "/echo/x")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


async def test_a_declared_body_over_the_limit_gets_413_and_the_upstream_sees_nothing(gateway, upstream) -> None:
    before = len(upstream[0].seen)
    answer = await raw_request(
        gateway.url,
        b"POST /echo/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"100 Continue" not in answer
    assert b"urn:basisdienste:problem:payload-too-large" in answer
    assert len(upstream[0].seen) == before


async def test_a_chunked_body_over_the_limit_gets_413_and_never_completes_upstream(gateway, upstream) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 100

    response = await gateway.client.post("/echo/upload-chunked", content=chunks())
    assert response.status_code == 413
    assert response.json()["type"] == "urn:basisdienste:problem:payload-too-large"
    arrived = [seen for seen in upstream[0].seen if seen.raw_path == "/upload-chunked"]
    assert all(not seen.complete and seen.body_bytes <= 1000 for seen in arrived)


async def test_contradictory_body_framing_is_refused(gateway, upstream) -> None:
    before = len(upstream[0].seen)
    answer = await raw_request(
        gateway.url,
        b"POST /echo/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd",
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert len(upstream[0].seen) == before


async def test_a_slow_client_is_cut_off_by_the_body_timeout_while_others_are_served(gateway) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST /slowbody/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\n")
    await writer.drain()

    async def dribble() -> None:
        for _ in range(100):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.05)

    dribbling = asyncio.create_task(dribble())
    try:
        started = asyncio.get_running_loop().time()
        # Meanwhile the gateway answers everyone else at once.
        for _ in range(20):
            asked = asyncio.get_running_loop().time()
            fast = await gateway.client.get("/echo/x")
            assert fast.status_code == 200
            assert asyncio.get_running_loop().time() - asked < 0.5
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        dribbling.cancel()
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"urn:basisdienste:problem:request-timeout" in answer
    assert asyncio.get_running_loop().time() - started < 2.5


async def test_a_connection_header_cannot_strip_the_bodys_framing(gateway, upstream) -> None:
    # Were Content-Length dropped as a header the Connection header names, the upstream would read the
    # body as the next request on its keep-alive connection: a smuggled request.
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: upstream\r\n\r\n"
    answer = await raw_request(
        gateway.url,
        b"POST /echo/x HTTP/1.1\r\nHost: gw\r\nConnection: content-length, close\r\nContent-Length: "
        + str(len(smuggled)).encode()
        + b"\r\n\r\n"
        + smuggled,
    )
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    seen = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert seen["body_bytes"] == len(smuggled)
    assert dict(seen["headers"])["content-length"] == str(len(smuggled))
    assert (await gateway.client.get("/echo/after")).status_code == 200
    assert "/smuggled" not in upstream[0].paths()


async def test_a_body_of_unknown_length_goes_upstream_chunked_and_whole(gateway) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * 100

    response = await gateway.client.post("/echo/x", content=chunks())
    seen = response.json()
    assert seen["body_bytes"] == 500
    headers = dict(seen["headers"])
    assert headers["transfer-encoding"] == "chunked"
    assert "content-length" not in headers
