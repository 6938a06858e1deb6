"""Forwarding one request to its upstream and streaming the answer back, within the route's rules.

Bodies stream in both directions with bounded memory: the request body is passed on chunk by chunk
as the client sends it (see :mod:`gateway.request_body`), the response body chunk by chunk as the
upstream sends it, and each side waits for the other (the server's flow control downstream, the
connection's upstream, see :mod:`gateway.upstream_client`), so a 500 MB transfer holds a few
chunks in memory at a time.

Retries happen only for idempotent methods, only when the upstream could not be reached or
answered 502/503/504, and only when the body can be sent again: none, a small one read whole
beforehand, or a streamed one not yet started. A timeout is not retried: the upstream may be
working on the request, and the route's timeout bounds what the client waits.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field

from opentelemetry.trace import Span
from starlette.types import Message, Receive, Send

from gateway import problems
from gateway.circuit_breaker import CircuitBreaker
from gateway.forwarding import response_headers
from gateway.metrics import upstream_attempt, upstream_retries_total
from gateway.request_body import REPLAYABLE_BODY_BYTES, BodyAbortedError, RequestBody
from gateway.route_table import RETRYABLE_STATUSES, CompiledRoute
from gateway.tracing import ProxyTracing, end_client_span
from gateway.upstream_client import UpstreamError, UpstreamTimeoutError
from gateway.upstream_pool import UpstreamPool, UpstreamResponse
from kit.http.problems import ProblemError

__all__ = ["Outcome", "Proxy", "UpstreamAbortedError", "UpstreamRequest"]

logger = logging.getLogger(__name__)

#: Responses that may run long are streamed with an eye on the client, to stop early if it leaves.
_LONG_RESPONSE_BYTES = 1024 * 1024


class UpstreamAbortedError(Exception):
    """The upstream broke off a response already under way; the client's connection is dropped."""


@dataclass(slots=True)
class UpstreamRequest:
    """What goes to the upstream."""

    method: str
    #: Path and query as sent to the upstream.
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: RequestBody | None
    declared_length: int | None
    #: Added to the response, e.g. the rate-limit headers.
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)


@dataclass(slots=True)
class Outcome:
    """What became of a request, for the access log and the metrics."""

    status: int = 0
    #: The client's address: the peer's, or what a trusted proxy in front says it is.
    client_ip: str = ""
    bytes_received: int = 0
    bytes_sent: int = 0
    attempts: int = 0
    #: The client left before its answer was complete.
    client_gone: bool = False
    #: The upstream broke off the answer after it had begun.
    aborted: bool = False
    #: The request's server span, while the gateway traces.
    span: Span | None = None


class Proxy:
    """Sends requests upstream over the pool, with retries and the upstream's circuit breaker."""

    def __init__(self, pool: UpstreamPool, tracing: ProxyTracing) -> None:
        self.pool = pool
        self.tracing = tracing

    async def forward(
        self, request: UpstreamRequest, route: CompiledRoute, receive: Receive, send: Send, outcome: Outcome
    ) -> None:
        """Forward `request` and stream the answer to `send`.

        Raises :class:`~kit.http.problems.ProblemError` before anything was sent to the client
        (502, 503, 504, or the body's 408/413), :class:`UpstreamAbortedError` after.
        """
        attempts = route.retries(request.method)
        body = request.body
        replay: bytes | None = None
        if body is not None and attempts > 1 and _is_small(request.declared_length):
            replay = await _read_whole(body)
        breaker = self.pool.breaker(route.upstream)
        # The gateway frames the body itself: its declared length, or chunked as it came (None).
        content_length = request.declared_length if body is not None else request.declared_length or 0
        attempt = 0
        while True:
            attempt += 1
            if not breaker.admit():
                raise problems.circuit_open(route.upstream, breaker.retry_after())
            outcome.attempts = attempt
            span = self._client_span(request, route, outcome, attempt)
            try:
                response = await self._send(request, route, replay, content_length, span)
            except (UpstreamError, BodyAbortedError) as error:
                problem = self._unanswered(error, route, body, breaker, span)
                if problem.status == 502 and _may_retry(attempt, attempts, body, replay):
                    await _back_off(route, attempt)
                    continue
                raise problem from None
            except asyncio.CancelledError:
                breaker.record_unknown()  # an admitted half-open probe must not stay pending
                _end(span, error="cancelled")
                raise
            status = response.status
            upstream_attempt(route.upstream, _status_class(status)).inc()
            if status in RETRYABLE_STATUSES:
                breaker.record_failure()
                if _may_retry(attempt, attempts, body, replay):
                    response.close()
                    _end(span, status=status)
                    await _back_off(route, attempt)
                    continue
            else:
                breaker.record_success()
            outcome.status = status
            try:
                await _stream_response(response, request, route, receive, send, outcome)
            except BaseException as error:
                _end(
                    span,
                    status=status,
                    error="response_aborted" if isinstance(error, UpstreamAbortedError) else "cancelled",
                )
                raise
            _end(span, status=status)
            return

    def _client_span(
        self, request: UpstreamRequest, route: CompiledRoute, outcome: Outcome, attempt: int
    ) -> Span | None:
        if outcome.span is None:
            return None
        origin = route.origin
        return self.tracing.start_client_span(
            outcome.span, request.method, route.upstream, origin.host, origin.port, attempt
        )

    async def _send(
        self,
        request: UpstreamRequest,
        route: CompiledRoute,
        replay: bytes | None,
        content_length: int | None,
        span: Span | None,
    ) -> UpstreamResponse:
        body = request.body
        data = replay if replay is not None else body.chunks() if body is not None else None
        headers = request.headers if span is None else [*request.headers, *ProxyTracing.trace_headers(span)]
        return await self.pool.request(
            route.origin,
            request.method,
            request.target,
            headers,
            data,
            content_length=content_length,
            read_timeout=route.read_timeout,
        )

    @staticmethod
    def _unanswered(
        error: Exception, route: CompiledRoute, body: RequestBody | None, breaker: CircuitBreaker, span: Span | None
    ) -> ProblemError:
        """What the client is told when an attempt got no answer; records the attempt's outcome."""
        if body is not None and body.failure is not None:
            breaker.record_unknown()  # the client's body failed: nothing learnt about the upstream
            _end(span, error="client_body")
            return body.failure
        breaker.record_failure()
        if isinstance(error, UpstreamTimeoutError):
            upstream_attempt(route.upstream, "timeout").inc()
            _end(span, error="timeout")
            return problems.upstream_timeout(route.upstream)
        upstream_attempt(route.upstream, "connect_error").inc()
        _end(span, error="connect_error")
        logger.warning("upstream %s failed: %s", route.upstream, error)
        return problems.upstream_unavailable(route.upstream)


def _end(span: Span | None, *, status: int | None = None, error: str | None = None) -> None:
    if span is not None:
        end_client_span(span, status=status, error=error)


def _is_small(declared_length: int | None) -> bool:
    return declared_length is not None and declared_length <= REPLAYABLE_BODY_BYTES


async def _read_whole(body: RequestBody) -> bytes:
    try:
        return await body.read_all()
    except BodyAbortedError:
        assert body.failure is not None
        raise body.failure from None


def _may_retry(attempt: int, attempts: int, body: RequestBody | None, replay: bytes | None) -> bool:
    return attempt < attempts and (body is None or replay is not None or not body.started)


async def _back_off(route: CompiledRoute, attempt: int) -> None:
    upstream_retries_total.labels(route.upstream).inc()
    delay = route.route.retry.backoff * 2 ** (attempt - 1)
    # Jitter, so that the gateway's retries after an upstream hiccup do not arrive in lockstep.
    await asyncio.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 - not cryptography


def _status_class(status: int) -> str:
    return f"{status // 100}xx"


async def _stream_response(
    response: UpstreamResponse,
    request: UpstreamRequest,
    route: CompiledRoute,
    receive: Receive,
    send: Send,
    outcome: Outcome,
) -> None:
    headers = response_headers(response.headers)
    if request.response_headers:
        headers.extend(request.response_headers)
    watcher: asyncio.Task[None] | None = None
    complete = False
    try:
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if _may_run_long(response) and (request.body is None or request.body.finished):
            # The server does not tell a streaming app that its client left (sending to it just
            # does nothing), so a long download would be read to its end for nobody: watch for it.
            watcher = asyncio.create_task(_until_disconnect(receive))
        while True:
            if watcher is not None and watcher.done():
                outcome.client_gone = True
                return
            chunk = await response.read_chunk()
            last = response.at_eof
            outcome.bytes_sent += len(chunk)
            message = {"type": "http.response.body", "body": chunk, "more_body": not last}
            if watcher is None:
                await send(message)
            elif not await _sent_in_time(send, message, route.read_timeout):
                # A client that stops reading would hold the upstream connection (and one of the pool's
                # slots) for as long as it likes: after the route's timeout it counts as gone.
                outcome.client_gone = True
                return
            if last:
                complete = True
                return
    except UpstreamError as error:
        logger.warning("upstream %s broke off its response: %s", route.upstream, error)
        raise UpstreamAbortedError(route.upstream) from error
    finally:
        if watcher is not None:
            watcher.cancel()
        if complete:
            response.release()
        else:
            response.close()


def _may_run_long(response: UpstreamResponse) -> bool:
    length = response.content_length
    return length is None or length > _LONG_RESPONSE_BYTES


async def _sent_in_time(send: Send, message: Message, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await send(message)
    except TimeoutError:
        return False
    return True


async def _until_disconnect(receive: Receive) -> None:
    message: Message = await receive()
    while message["type"] != "http.disconnect":
        message = await receive()
