"""The gateway's side of its upstreams: pooled keep-alive connections, and a circuit breaker each.

Connections are kept per origin (scheme, host, port), newest first, for ``keepalive_timeout`` seconds
of idleness — shorter than the upstreams' own (uvicorn: 5 s), so the gateway never sends a request on
a connection the upstream is just closing. At most ``max_connections`` requests are in flight to all
upstreams together; more wait for one to finish. The wire protocol is :mod:`gateway.upstream_client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from collections.abc import AsyncIterable, Callable
from urllib.parse import urlsplit

from gateway.circuit_breaker import BreakerState, CircuitBreaker
from gateway.metrics import circuit_state
from gateway.route_table import RouteTable
from gateway.upstream_client import Origin, UpstreamConnectError, UpstreamConnection, request_head

__all__ = ["CONNECT_TIMEOUT", "UpstreamNotReadyError", "UpstreamPool", "UpstreamResponse"]

#: Seconds to open a connection to an upstream; an upstream that takes longer counts as unreachable.
CONNECT_TIMEOUT = 5.0
_READY_TIMEOUT = 2.0
#: How much of a readiness answer is read; it is only its status that counts.
_READY_BODY_BYTES = 64 * 1024
_ACCEPT_JSON = [(b"accept", b"application/json")]


class UpstreamResponse:
    """An upstream's response whose body is still to be read; give the connection back with :meth:`release`."""

    __slots__ = ("_connection", "_pool")

    def __init__(self, pool: UpstreamPool, connection: UpstreamConnection) -> None:
        self._pool = pool
        self._connection = connection

    @property
    def status(self) -> int:
        return self._connection.status

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The header fields as received (names in the upstream's case)."""
        return self._connection.headers

    @property
    def content_length(self) -> int | None:
        return self._connection.content_length

    @property
    def at_eof(self) -> bool:
        """Whether the whole body has been read."""
        return self._connection.at_eof

    async def read_chunk(self) -> bytes:
        """The next piece of the body, ``b""`` at its end; raises :class:`UpstreamError` if it breaks off."""
        return await self._connection.read_chunk()

    def release(self) -> None:
        """Done with the response: its connection goes back to the pool if it can carry another request."""
        self._pool.release(self._connection)

    def close(self) -> None:
        """Done with the response before its end: its connection is dropped."""
        self._pool.discard(self._connection)


class UpstreamPool:
    """Connections to every upstream, and what the gateway knows about their health."""

    def __init__(self, *, max_connections: int, keepalive_timeout: float) -> None:
        self.max_connections = max_connections
        self.keepalive_timeout = keepalive_timeout
        self._breakers: dict[str, CircuitBreaker] = {}
        self._idle: dict[tuple[str, str, int], list[UpstreamConnection]] = {}
        self._in_use = 0
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._tls: ssl.SSLContext | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._open = False

    async def start(self) -> None:
        """Start keeping connections (and closing those idle for too long)."""
        self._open = True
        self._sweeper = asyncio.create_task(self._sweep_idle())

    async def close(self) -> None:
        """Close every idle connection; those in use close when their response is done."""
        self._open = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    # --- circuit breakers -------------------------------------------------------------------------

    def breaker(self, upstream: str) -> CircuitBreaker:
        """The circuit breaker of `upstream` (see :meth:`configure` for its thresholds)."""
        breaker = self._breakers.get(upstream)
        if breaker is None:
            breaker = CircuitBreaker(failures=5, cool_down=10.0, on_change=_reporter(upstream))
            self._breakers[upstream] = breaker
            circuit_state.labels(upstream).set(BreakerState.CLOSED)
        return breaker

    def configure(self, table: RouteTable) -> None:
        """Give every upstream's breaker the thresholds of `table` (at start and on each reload)."""
        for name, upstream in table.spec.upstreams.items():
            policy = upstream.circuit_breaker
            self.breaker(name).configure(failures=policy.failures, cool_down=policy.cool_down)

    # --- requests ---------------------------------------------------------------------------------

    async def request(
        self,
        origin: Origin,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes | AsyncIterable[bytes] | None,
        *,
        content_length: int | None,
        read_timeout: float,
    ) -> UpstreamResponse:
        """Send a request and wait for the response's head.

        `target` is the path and query as sent; `headers` are sent as they are, after ``Host``, and
        must not frame the body: `content_length` does (None: the body goes out chunked). Raises
        :class:`~gateway.upstream_client.UpstreamError`, or whatever the body's iterator raises.
        """
        connection = await self._acquire(origin)
        try:
            head = request_head(
                method.encode("ascii"), target, origin.host_header, headers, content_length=content_length
            )
            await connection.send(
                head, body, chunked=content_length is None, head_request=method == "HEAD", read_timeout=read_timeout
            )
            await connection.read_head()
        except BaseException:
            self.discard(connection)
            raise
        return UpstreamResponse(self, connection)

    async def get(self, url: str, *, timeout: float, max_bytes: int) -> tuple[int, bytes | None]:
        """GET `url` within `timeout` seconds in all: the status, and the body unless it is over `max_bytes`."""
        origin = Origin.of(url)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        async with asyncio.timeout(timeout):
            response = await self.request(
                origin, "GET", target.encode("ascii"), _ACCEPT_JSON, None, content_length=0, read_timeout=timeout
            )
            chunks: list[bytes] = []
            size = 0
            try:
                while chunk := await response.read_chunk():
                    size += len(chunk)
                    if size > max_bytes:
                        return response.status, None
                    chunks.append(chunk)
            finally:
                response.release()
        return response.status, b"".join(chunks)

    async def check_ready(self, base_url: str) -> None:
        """Raise unless the upstream at `base_url` answers its readiness probe with 200."""
        status, _ = await self.get(base_url + "/health/ready", timeout=_READY_TIMEOUT, max_bytes=_READY_BODY_BYTES)
        if status != 200:
            raise UpstreamNotReadyError(status)

    # --- connections ------------------------------------------------------------------------------

    async def _acquire(self, origin: Origin) -> UpstreamConnection:
        while self._in_use >= self.max_connections:
            await self._wait_for_slot()
        self._in_use += 1
        try:
            idle = self._idle.get(origin.key)
            if idle:
                now = time.monotonic()
                while idle:
                    connection = idle.pop()
                    if not connection.closed and now - connection.idle_since < self.keepalive_timeout:
                        connection.idle = False
                        return connection
                    connection.close()
            return await self._connect(origin)
        except BaseException:
            self._free_slot()
            raise

    async def _connect(self, origin: Origin) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                _, connection = await loop.create_connection(
                    lambda: UpstreamConnection(origin.key),
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls is not None else None,
                )
        except (OSError, TimeoutError) as error:
            raise UpstreamConnectError(f"cannot connect: {type(error).__name__}") from error
        return connection

    def release(self, connection: UpstreamConnection) -> None:
        """Take `connection` back: kept for the next request if it can carry one, else closed."""
        self._free_slot()
        if self._open and connection.reusable:
            connection.idle = True
            connection.idle_since = time.monotonic()
            self._idle.setdefault(connection.key, []).append(connection)
        else:
            connection.close()

    def discard(self, connection: UpstreamConnection) -> None:
        """Take `connection` back after a failed or abandoned exchange: it is dropped."""
        self._free_slot()
        connection.abort()

    def _free_slot(self) -> None:
        self._in_use -= 1
        self._wake_slot_waiter()

    async def _wait_for_slot(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._wake_slot_waiter()  # woken for a free slot but cancelled before taking it: pass it on
            raise

    def _wake_slot_waiter(self) -> None:
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    async def _sweep_idle(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.keepalive_timeout / 2))
            now = time.monotonic()
            for key, connections in list(self._idle.items()):
                kept = []
                for connection in connections:
                    if not connection.closed and now - connection.idle_since < self.keepalive_timeout:
                        kept.append(connection)
                    else:
                        connection.close()
                if kept:
                    self._idle[key] = kept
                else:
                    del self._idle[key]


class UpstreamNotReadyError(Exception):
    """An upstream's readiness probe answered, but not with 200."""

    def __init__(self, status: int) -> None:
        super().__init__(f"readiness probe answered {status}")


def _reporter(upstream: str) -> Callable[[BreakerState], None]:
    gauge = circuit_state.labels(upstream)

    def report(state: BreakerState) -> None:
        gauge.set(state)

    return report
