"""The gateway's HTTP server protocol: uvicorn's httptools protocol, sending what one turn of the event
loop writes to a connection in one system call.

uvicorn writes a response's head when the app sends ``http.response.start`` and its body with each
``http.response.body``: for a small proxied answer, two sends and two wake-ups of the client where
one would do. On our 2-core virtual machines a send to a local peer cost about as much CPU as all
the gateway's own work on a request, so the writes of one turn are gathered and leave together at
its end. Flow control is unchanged: the transport's buffer limits apply to what is sent, and what is
gathered is bounded by what the app can write without waiting (the upstream client's buffer).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["GatewayHttpProtocol"]


class _GatheringTransport:
    """A connection's transport whose writes of one event-loop turn leave in one send, at its end."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self._flush)
        else:
            self._pending.append(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if not pending or self._transport.is_closing():
            return
        if len(pending) == 1:
            self._transport.write(pending[0])
        else:
            self._transport.writelines(pending)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:  # asked on every request: spared the detour through __getattr__
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GatewayHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a :class:`_GatheringTransport` (``uvicorn.run(..., http=…)``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        gathering = _GatheringTransport(transport, asyncio.get_running_loop())
        super().connection_made(gathering)  # type: ignore[arg-type]
