"""HTTP/1.1 to an upstream over one keep-alive connection: a request out, its response streamed back.

The gateway's hot path, kept lean on purpose. aiohttp's client, which served here first, spent more
CPU per proxied request than the rest of the gateway together (header multidicts, cookie handling,
URL objects, timer contexts; about 165 µs against 35 µs for this on our 2-core machines), for
features a proxy does not use. What remains is llhttp (through httptools, as uvicorn parses the
client's side) and asyncio's protocol callbacks:

- the request head is written in one piece, the body after it chunk by chunk with the transport's
  flow control (``Content-Length`` as the client declared it, else chunked);
- the response is parsed as it arrives: interim 1xx answers are skipped, a body is framed by its
  length, by chunks or by the end of the connection, and held at most ``_HIGH_WATER`` bytes ahead of
  the reader before the socket is paused;
- ``read_timeout`` bounds the upstream's silence once the request is sent — before its head and
  between chunks of its body — never the time the client takes to send its body;
- a connection goes back to the pool only when its response was read to the end, the request was
  sent whole, and neither side asked to close.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

__all__ = [
    "Origin",
    "UpstreamClosedError",
    "UpstreamConnectError",
    "UpstreamConnection",
    "UpstreamError",
    "UpstreamTimeoutError",
    "request_head",
]

#: Response bytes buffered ahead of the reader before the socket stops being read.
_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024
#: Methods whose requests say nothing of a body when they have none (RFC 9110 §8.6).
_BODILESS_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS", b"DELETE"})
#: Statuses whose responses never have a body (RFC 9110 §6.4.1).
_NO_BODY_STATUSES = frozenset({204, 304})


class UpstreamError(Exception):
    """The upstream could not be asked or did not answer properly; the message names no address."""


class UpstreamConnectError(UpstreamError):
    """No connection could be opened (refused, unresolvable, TLS failure, connect timeout): nothing was sent."""


class UpstreamTimeoutError(UpstreamError):
    """The upstream stayed silent longer than the request's read timeout."""


class UpstreamClosedError(UpstreamError):
    """The connection broke, or what came back was not an HTTP/1.1 response."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an upstream is: what to connect to, the ``Host`` to send, and the base path of its URL."""

    scheme: str
    host: str
    port: int
    host_header: bytes
    base_path: str

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of an absolute http(s) URL (checked by the route table already)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an absolute http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.netloc.encode("ascii"), parts.path.rstrip("/"))

    @property
    def key(self) -> tuple[str, str, int]:
        """What connections are pooled by."""
        return (self.scheme, self.host, self.port)


def request_head(
    method: bytes, target: bytes, host: bytes, headers: list[tuple[bytes, bytes]], *, content_length: int | None
) -> bytes:
    """The request line and header section, ready to write (names and values checked by the caller).

    The body is framed here and nowhere else: by `content_length`, or chunked when it is None.
    """
    parts = [method, b" ", target, b" HTTP/1.1\r\nhost: ", host, b"\r\n"]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    if content_length is None:
        parts.append(b"transfer-encoding: chunked\r\n")
    elif content_length or method not in _BODILESS_METHODS:
        parts.append(b"content-length: %d\r\n" % content_length)
    parts.append(b"\r\n")
    return b"".join(parts)


class UpstreamConnection(asyncio.Protocol):
    """One connection to an upstream, carrying one exchange (request and response) at a time."""

    def __init__(self, key: tuple[str, str, int]) -> None:
        self.key = key
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self.closed = False
        #: Whether it waits in the pool, and since when (time.monotonic()).
        self.idle = False
        self.idle_since = 0.0
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._begin(head_request=False, read_timeout=math.inf)

    # --- one exchange -----------------------------------------------------------------------------

    def _begin(self, *, head_request: bool, read_timeout: float) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.content_length: int | None = None
        self._head_request = head_request
        self._read_timeout = read_timeout
        self._interim = False
        self._headers_done = False
        self._complete = False
        self._until_close = False
        self._keep_alive = False
        #: Whether the request went out whole, and whether the gateway is done sending (whole or not).
        self._body_sent = False
        self._listening = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        #: Loop time since which the upstream has been silent (infinite while the request is still sent).
        self._quiet_since = math.inf

    async def send(
        self,
        head: bytes,
        body: bytes | AsyncIterable[bytes] | None,
        *,
        chunked: bool,
        head_request: bool,
        read_timeout: float,
    ) -> None:
        """Write the request; stops early (without error) when the upstream answers before the body is all sent."""
        self._begin(head_request=head_request, read_timeout=read_timeout)
        if isinstance(body, bytes):
            self._write(head + body if body else head)
            self._body_sent = True
        else:
            self._write(head)
            # Answered early (e.g. 413 after a look at the headers): the rest of the body is not wanted.
            self._body_sent = body is None or await self._send_stream(body, chunked=chunked)
        self._listening = True
        self._quiet_since = self._loop.time()

    async def _send_stream(self, body: AsyncIterable[bytes], *, chunked: bool) -> bool:
        """Send `body`; False if it was cut short because the upstream has answered already."""
        async for chunk in body:
            if self._headers_done or self._error is not None:
                break
            if not chunk:
                continue  # an empty chunk would end a chunked body
            self._write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
            if self._write_paused:
                await self._drain()
            if self._headers_done or self._error is not None:
                break
        else:
            if chunked:
                self._write(b"0\r\n\r\n")
            return True
        if self._error is not None and not self._headers_done:
            raise self._error
        return False

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if self._error is not None and not self._headers_done:
            raise self._error
        if transport is None or self.closed or transport.is_closing():
            raise UpstreamClosedError("the connection to the upstream is closed")
        transport.write(data)

    async def _drain(self) -> None:
        waiter = self._loop.create_future()
        self._drain_waiter = waiter
        try:
            await waiter
        finally:
            self._drain_waiter = None

    async def read_head(self) -> None:
        """Wait for the response's status and headers (:attr:`status`, :attr:`headers`)."""
        while not self._headers_done:
            await self._wait()

    async def read_chunk(self) -> bytes:
        """The next piece of the response body; ``b""`` once it is complete."""
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._reading_paused and self._buffered <= _LOW_WATER and self._transport is not None:
                    self._reading_paused = False
                    self._transport.resume_reading()
                return chunk
            if self._complete:
                return b""
            await self._wait()

    @property
    def at_eof(self) -> bool:
        """Whether the whole response body has been read."""
        return self._complete and not self._chunks

    @property
    def reusable(self) -> bool:
        """Whether another exchange may follow on this connection."""
        return (
            self._complete
            and not self._chunks
            and self._body_sent
            and self._keep_alive
            and not self._head_request
            and not self.closed
        )

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        waiter = self._loop.create_future()
        self._waiter = waiter
        self._timer = self._loop.call_at(self._silence_deadline(), self._check_silence)
        try:
            await waiter
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._waiter = None
        if self._error is not None and not self._chunks:
            raise self._error

    def _silence_deadline(self) -> float:
        now = self._loop.time()
        return min(self._quiet_since, now) + self._read_timeout

    def _check_silence(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._loop.time() - self._quiet_since >= self._read_timeout:
            self._fail(UpstreamTimeoutError("the upstream did not answer in time"))
            self.abort()
            return
        self._timer = self._loop.call_at(self._silence_deadline(), self._check_silence)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        if self._error is None and not self._complete:
            self._error = error
        self._wake()
        self._wake_drain()

    def _wake_drain(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def abort(self) -> None:
        """Drop the connection at once (nothing buffered is sent)."""
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        """Close the connection after sending what is buffered."""
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    # --- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.idle:
            # Nobody asked: an answer out of turn would be taken for the next request's.
            self.abort()
            return
        if self._listening:
            self._quiet_since = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamClosedError("the upstream switched protocols"))
            self.abort()
        except httptools.HttpParserError:
            self._fail(UpstreamClosedError("the upstream's answer is not valid HTTP/1.1"))
            self.abort()

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._until_close and self._headers_done and not self._complete and exc is None:
            self._complete = True  # a body delimited by the end of the connection: this is its end
            self._wake()
        elif not self._complete:
            self._fail(UpstreamClosedError("the upstream closed the connection"))
        self._wake_drain()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drain()

    # --- httptools callbacks ----------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            # 100 Continue, 103 Early Hints: interim answers, the final one follows on the same connection.
            self._interim = True
            self.headers = []
            return
        self.status = status
        chunked = False
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"content-length" and value.strip().isdigit():
                self.content_length = int(value)
            elif lowered == b"transfer-encoding":
                chunked = True
        self._headers_done = True
        if self._head_request or status in _NO_BODY_STATUSES:
            self.content_length = 0 if self._head_request else self.content_length
            self._complete = True  # llhttp still expects a HEAD response's body: the connection is not reused
        elif self.content_length is None and not chunked:
            self._until_close = True
        self._wake()
        self._wake_drain()

    def on_body(self, body: bytes) -> None:
        if self._complete:
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._reading_paused and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self._keep_alive = self._parser.should_keep_alive()
        self._complete = True
        self._wake()
