"""The gateway's server protocol: what one turn of the event loop writes leaves in one send, in order,
and nothing written is lost when the connection closes."""

from __future__ import annotations

import asyncio

from gateway.server import _GatheringTransport
from tests.gateway.conftest import GatewayStarter, route_table
from tests.gateway.servers import raw_request
from tests.gateway.upstream import Upstream


class RecordingTransport:
    def __init__(self) -> None:
        self.sends: list[list[bytes]] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sends.append([data])

    def writelines(self, data: list[bytes]) -> None:
        self.sends.append(list(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_the_writes_of_one_turn_leave_together_and_in_order() -> None:
    recording = RecordingTransport()
    transport = _GatheringTransport(recording, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"head")
    transport.write(b"body")
    assert recording.sends == []
    await asyncio.sleep(0)
    assert recording.sends == [[b"head", b"body"]]
    transport.write(b"more")
    await asyncio.sleep(0)
    assert recording.sends[-1] == [b"more"]
    assert transport.get_extra_info("peername") == "info:peername"


async def test_closing_sends_what_is_gathered_first() -> None:
    recording = RecordingTransport()
    transport = _GatheringTransport(recording, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"last words")
    transport.close()
    assert recording.sends == [[b"last words"]]
    assert recording.closed
    await asyncio.sleep(0)
    assert recording.sends == [[b"last words"]]  # not twice


async def test_pipelined_requests_on_one_connection_get_their_answers_in_order(
    start_gateway: GatewayStarter, upstream: tuple[Upstream, str]
) -> None:
    table = route_table(
        {"echo": upstream[1]}, [{"prefix": "/echo", "upstream": "echo", "strip_prefix": True, "auth": "public"}]
    )
    async with start_gateway(table) as gateway:
        answer = await raw_request(
            gateway.url,
            b"GET /echo/first HTTP/1.1\r\nHost: gw\r\n\r\n"
            b"GET /echo/second HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
        )
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert answer.index(b'"raw_path": "/first"') < answer.index(b'"raw_path": "/second"')
