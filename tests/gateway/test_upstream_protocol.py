"""The gateway's HTTP/1.1 client against upstreams that answer in unusual but valid ways, and against
some that misbehave: whatever they send, each client gets its own request's answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.gateway.conftest import GatewayStarter, route_table

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_upstream(handler: Handler) -> AsyncIterator[str]:
    """A TCP server answering with whatever bytes `handler` writes."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def _table(url: str, **route: object) -> str:
    return route_table(
        {"raw": url}, [{"prefix": "/raw", "upstream": "raw", "strip_prefix": True, "auth": "public", **route}]
    )


async def test_an_answer_out_of_turn_is_never_taken_for_the_next_requests(start_gateway: GatewayStarter) -> None:
    requests = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        while True:
            try:
                await _read_head(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            requests += 1
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"
                if requests == 1
                else b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"
            )
            await writer.drain()
            if requests == 1:
                await asyncio.sleep(0.05)
                # Unasked, and cut short: were it parsed, the next answer would complete it.
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nevil")
                await writer.drain()

    async with raw_upstream(handler) as url, start_gateway(_table(url)) as gateway:
        assert (await gateway.client.get("/raw/1")).content == b"first"
        await asyncio.sleep(0.2)
        response = await gateway.client.get("/raw/2")
    assert response.status_code == 200
    assert response.content == b"second"


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        (b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", b"abcde"),
        (b"HTTP/1.0 200 OK\r\n\r\nuntil the end", b"until the end"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
    ],
)
async def test_framings_of_an_answer(start_gateway: GatewayStarter, answer: bytes, body: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_head(reader)
        writer.write(answer)
        await writer.drain()
        writer.close()

    async with raw_upstream(handler) as url, start_gateway(_table(url)) as gateway:
        response = await gateway.client.get("/raw/x")
    assert response.status_code in (200, 204)
    assert response.content == body
    assert "link" not in response.headers  # the interim answer's fields are not the final one's


async def test_an_answer_that_is_not_http_is_a_502(start_gateway: GatewayStarter) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_head(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()
        writer.close()

    async with raw_upstream(handler) as url, start_gateway(_table(url, retry={"attempts": 1})) as gateway:
        response = await gateway.client.get("/raw/x")
    assert response.status_code == 502
    assert response.json()["type"] == "urn:basisdienste:problem:upstream-unavailable"


async def test_a_head_request_gets_the_head_only_and_the_next_request_its_own_answer(
    start_gateway: GatewayStarter,
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await _read_head(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            if head.startswith(b"HEAD "):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody")
            await writer.drain()

    async with raw_upstream(handler) as url, start_gateway(_table(url)) as gateway:
        head = await gateway.client.head("/raw/x")
        get = await gateway.client.get("/raw/x")
    assert head.status_code == 200
    assert head.headers["content-length"] == "4"
    assert head.content == b""
    assert get.content == b"body"
