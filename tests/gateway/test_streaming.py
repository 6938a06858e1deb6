"""500 MB through ``python -m gateway`` in each direction, generated and consumed on the fly, while the
gateway's resident memory stays bounded; and a client that leaves mid-download stops the transfer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.gateway.conftest import ISSUER, Issuer, route_table
from tests.gateway.servers import GatewayProcess
from tests.gateway.upstream import Upstream

SIZE = 500 * 1024 * 1024
CHUNK = bytes(1024 * 1024)
#: What the gateway may grow by while streaming: a few chunks in flight, allocator slack.
MAX_GROWTH = 150 * 1024 * 1024


@pytest.fixture(scope="module")
async def gateway(
    issuer: Issuer, upstream: tuple[Upstream, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[GatewayProcess]:
    directory = tmp_path_factory.mktemp("streaming")
    routes_file = directory / "routes.yaml"
    routes_file.write_text(
        route_table(
            {"echo": upstream[1]},
            [
                {
                    "prefix": "/big",
                    "upstream": "echo",
                    "strip_prefix": True,
                    "auth": "public",
                    "max_body_bytes": 2 * SIZE,
                    "body_timeout": 300,
                    "timeout": 60,
                },
                {"prefix": "/stall", "upstream": "echo", "strip_prefix": True, "auth": "public", "timeout": 1},
            ],
        )
    )
    process = GatewayProcess(
        {"GATEWAY_ROUTES_FILE": str(routes_file), "GATEWAY_JWKS_URL": issuer.jwks_url, "GATEWAY_ISSUER": ISSUER},
        directory / "gateway.log",
    )
    try:
        await process.wait_until_serving()
        async with httpx.AsyncClient(base_url=process.url) as client:  # warm up the pool and the code paths
            for _ in range(20):
                await client.post("/big/sink", content=b"x" * 100_000)
                await client.get("/big/source", params={"bytes": "100000"})
        yield process
    finally:
        process.stop()


def _chunks(size: int) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        chunk = CHUNK[: min(len(CHUNK), size - sent)]
        sent += len(chunk)
        yield chunk


async def _upload(size: int) -> AsyncIterator[bytes]:
    for chunk in _chunks(size):
        yield chunk


async def test_a_500_mb_upload_streams_through_with_bounded_memory(gateway: GatewayProcess) -> None:
    baseline = gateway.rss_bytes()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=120) as client:
        response = await client.post(
            "/big/sink", content=_upload(SIZE), headers={"Content-Length": str(SIZE), "Content-Type": "video/mp4"}
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"received": SIZE}
    assert gateway.peak_rss_bytes() - baseline < MAX_GROWTH, (baseline, gateway.peak_rss_bytes())


async def test_a_500_mb_chunked_upload_streams_through_with_bounded_memory(gateway: GatewayProcess) -> None:
    baseline = gateway.rss_bytes()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=120) as client:
        response = await client.put("/big/sink", content=_upload(SIZE))
    assert response.status_code == 200, response.text
    assert response.json() == {"received": SIZE}
    assert gateway.peak_rss_bytes() - baseline < MAX_GROWTH, (baseline, gateway.peak_rss_bytes())


@pytest.mark.parametrize("declared", ["0", "1"], ids=["chunked", "content-length"])
async def test_a_500_mb_download_streams_through_with_bounded_memory(gateway: GatewayProcess, declared: str) -> None:
    baseline = gateway.rss_bytes()
    received = 0
    async with (
        httpx.AsyncClient(base_url=gateway.url, timeout=120) as client,
        client.stream("GET", "/big/source", params={"bytes": str(SIZE), "length": declared}) as response,
    ):
        assert response.status_code == 200
        if declared == "1":
            assert response.headers["content-length"] == str(SIZE)
        async for chunk in response.aiter_raw():
            received += len(chunk)
    assert received == SIZE
    assert gateway.peak_rss_bytes() - baseline < MAX_GROWTH, (baseline, gateway.peak_rss_bytes())


async def test_a_client_leaving_mid_download_stops_the_transfer(gateway: GatewayProcess, upstream) -> None:
    async with (
        httpx.AsyncClient(base_url=gateway.url, timeout=60) as client,
        client.stream("GET", "/big/source", params={"bytes": str(SIZE)}) as response,
    ):
        received = 0
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > 10 * 1024 * 1024:
                break
    entries: list[dict] = []
    for _ in range(50):
        await asyncio.sleep(0.1)
        entries = [json.loads(line) for line in gateway.log().splitlines() if '"gateway.access"' in line]
        if entries and entries[-1]["status"] == 499:
            break
    last = entries[-1]
    assert last["status"] == 499
    assert last["bytes_sent"] < SIZE / 2  # it stopped reading the upstream, not just writing to the client


async def test_a_client_that_stops_reading_is_dropped_after_the_route_timeout(gateway: GatewayProcess) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"GET /stall/source?bytes={SIZE} HTTP/1.1\r\nHost: gw\r\n\r\n".encode())
        await writer.drain()
        entries: list[dict] = []
        for _ in range(100):  # reads nothing meanwhile
            await asyncio.sleep(0.1)
            entries = [json.loads(line) for line in gateway.log().splitlines() if '"gateway.access"' in line]
            if entries and entries[-1]["route"] == "/stall":
                break
    finally:
        writer.close()
    last = entries[-1]
    assert last["route"] == "/stall"
    assert last["status"] == 499
    assert last["bytes_sent"] < SIZE / 2
