"""The client's request body on its way upstream: streamed chunk by chunk, counted and timed.

Nothing is buffered beyond one chunk (the server hands the body over in pieces of at most 64 KiB
and stops reading the socket until they are taken), except the small bodies of idempotent requests
that may be retried, which are read whole so that a retry can send them again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.types import Receive

from gateway import problems
from kit.http.problems import ProblemError

__all__ = ["REPLAYABLE_BODY_BYTES", "BodyAbortedError", "RequestBody"]

#: Idempotent requests with a declared body up to this size are buffered so that a retry can resend them.
REPLAYABLE_BODY_BYTES = 64 * 1024
#: What is read and thrown away of a refused body before answering, so that closing the connection
#: with unread data (a TCP reset) does not destroy the answer before the client reads it.
DRAIN_BYTES = 1024 * 1024
DRAIN_SECONDS = 1.0


class BodyAbortedError(Exception):
    """The body could not be passed on; :attr:`RequestBody.failure` says why."""


class RequestBody:
    """One request's body, read from the ASGI `receive` at most once."""

    def __init__(self, receive: Receive, *, limit: int, timeout: float) -> None:
        self._receive = receive
        self.limit = limit
        self.deadline = asyncio.get_running_loop().time() + timeout
        self.timeout = timeout
        self.received = 0
        #: Whether anything was read from the client yet (a retry cannot resend a streamed body).
        self.started = False
        self.finished = False
        #: Why the body was not passed on completely; None while all is well.
        self.failure: ProblemError | None = None
        self.client_gone = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's chunks as the client sends them; raises :class:`BodyAbortedError` on failure."""
        self.started = True
        while not self.finished:
            chunk = await self._next_chunk()
            if chunk:
                yield chunk

    async def read_all(self) -> bytes:
        """The whole body at once (for small bodies only: the caller checks the declared length)."""
        return b"".join([chunk async for chunk in self.chunks()])

    async def drain(self) -> None:
        """Read and drop what the client still sends, within :data:`DRAIN_BYTES` and :data:`DRAIN_SECONDS`."""
        if self.finished or self.client_gone:
            return
        drained = 0
        loop = asyncio.get_running_loop()
        deadline = min(self.deadline, loop.time() + DRAIN_SECONDS)
        try:
            async with asyncio.timeout_at(deadline):
                while drained <= DRAIN_BYTES:
                    message = await self._receive()
                    if message["type"] == "http.disconnect" or not message.get("more_body", False):
                        return
                    drained += len(message.get("body", b""))
        except TimeoutError:
            return

    async def _next_chunk(self) -> bytes:
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self._receive()
        except TimeoutError:
            self.failure = problems.body_timeout(self.timeout)
            raise BodyAbortedError from None
        if message["type"] == "http.disconnect":
            self.client_gone = True
            self.failure = problems.client_closed()
            raise BodyAbortedError
        chunk: bytes = message.get("body", b"")
        self.received += len(chunk)
        if self.received > self.limit:
            self.failure = problems.payload_too_large(self.limit)
            raise BodyAbortedError
        if not message.get("more_body", False):
            self.finished = True
        return chunk
