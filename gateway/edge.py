"""The gateway's front door: a lean ASGI app that proxies routed requests and hands the rest to FastAPI.

Proxied requests — nearly all of them — never touch FastAPI's routing, dependency injection or
middleware stack: measured on our machines that stack costs more per request than the proxying
itself. The gateway's own endpoints (health, metrics, OpenAPI, docs) stay a FastAPI app.

For a proxied request, in order (each step refuses with a problem document before the upstream sees
a byte): the path in normal form (400/414) → a route by longest prefix (404) → method (405) → headers
(400) → declared body size (413) → the token, on ``required`` routes (401/403) → the rate limit (429)
→ the upstream's circuit breaker (503) → the upstream, with the route's timeouts and retries
(502/504, or 408/413 while the body streams).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from contextvars import Token

from opentelemetry import context, trace
from opentelemetry.context import Context
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import problems
from gateway.edge_auth import EdgeAuth
from gateway.forwarding import InvalidHeaderError, TrustedProxies, forwarding_for, read_client_headers
from gateway.metrics import INVALID_PATH_ROUTE, UNMATCHED_ROUTE, observe_request
from gateway.path import InvalidPathError, RequestPath, check_query, parse_path
from gateway.proxy import Outcome, Proxy, UpstreamAbortedError, UpstreamRequest
from gateway.rate_limit import RateLimiter, rate_limit_fields, rate_limit_headers
from gateway.request_body import RequestBody
from gateway.route_reload import RouteTableSource
from gateway.route_table import CompiledRoute
from gateway.tracing import TRACE_HEADERS, ProxyTracing, end_server_span, trace_context_of
from kit.http.body_limit import InvalidContentLengthError, declared_length
from kit.http.problems import ProblemError, internal_error, problem_response
from kit.http.request_id import new_request_id

__all__ = ["PROXIED_METHODS", "Edge", "OwnPaths"]

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("gateway.access")

PROXIED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_ALLOW = ", ".join(sorted(PROXIED_METHODS))


class OwnPaths:
    """The paths the gateway answers itself, which no route of the table can take over."""

    def __init__(self, *, exact: Iterable[str], prefixes: Iterable[str]) -> None:
        self.exact = frozenset(exact)
        self.prefixes = tuple(prefixes)

    def label(self, path: str) -> str | None:
        """The path or prefix of the own endpoint `path` belongs to, or None if it is not one."""
        if path in self.exact:
            return path
        return next((prefix for prefix in self.prefixes if path.startswith(prefix)), None)


class Edge:
    """The ASGI app in front: routes, checks and proxies, or passes to `api` (the own endpoints)."""

    def __init__(
        self,
        *,
        api: ASGIApp,
        own_paths: OwnPaths,
        routes: RouteTableSource,
        auth: EdgeAuth,
        limiter: RateLimiter,
        proxy: Proxy,
        tracing: ProxyTracing,
        trusted_proxies: TrustedProxies,
        access_log: bool,
    ) -> None:
        self.api = api
        self.own_paths = own_paths
        self.routes = routes
        self.auth = auth
        self.limiter = limiter
        self.proxy = proxy
        self.tracing = tracing
        self.trusted_proxies = trusted_proxies
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.api(scope, receive, send)  # lifespan; websockets are refused there
            return
        started = time.perf_counter()
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        own = self.own_paths.label(raw_path.decode("latin-1"))
        if own is not None:
            await self._own_endpoint(own, scope, receive, send, started)
            return
        label = INVALID_PATH_ROUTE
        outcome = Outcome(client_ip=_peer(scope))
        route: CompiledRoute | None = None
        trace_token = self._start_span(scope, outcome) if self.tracing.active else None
        try:
            try:
                path = parse_path(raw_path)
                check_query(scope.get("query_string", b""))
            except InvalidPathError as error:
                raise _path_problem(error) from None
            route = self.routes.current.match(path)
            label = route.prefix if route is not None else UNMATCHED_ROUTE
            if route is None or route.reaches_internal(path):
                # An upstream's internal path answers as if there were no route: nothing to learn there.
                raise problems.no_route()
            await self._forward(scope, receive, send, route, path, outcome)
        except ProblemError as problem:
            outcome.status = problem.status
            if problem.status != problems.CLIENT_CLOSED_STATUS:
                await problem_response(problem, None if label == INVALID_PATH_ROUTE else scope["path"])(
                    scope, receive, send
                )
        except UpstreamAbortedError:
            outcome.aborted = True
            raise  # the server drops the connection: the client must not take a cut-off body for a whole one
        except Exception:
            if outcome.status:  # the answer had begun: all the server can do is drop the connection
                raise
            logger.exception("unexpected error proxying %s %s", scope["method"], label)
            outcome.status = 500
            await problem_response(internal_error(), scope["path"])(scope, receive, send)
        finally:
            if outcome.client_gone:
                outcome.status = problems.CLIENT_CLOSED_STATUS
            elapsed = time.perf_counter() - started
            observe_request(scope["method"], label, outcome.status, elapsed)
            if self.access_log:
                _log_access(scope, label, route, outcome, elapsed)
            if outcome.span is not None and trace_token is not None:
                prefix, upstream = (route.prefix, route.upstream) if route is not None else (None, None)
                end_server_span(outcome.span, scope["method"], prefix, upstream, outcome.status)
                context.detach(trace_token)

    def _start_span(self, scope: Scope, outcome: Outcome) -> Token[Context]:
        """Start the request's server span and make it the current one; returns the token to detach."""
        traceparent, tracestate = trace_context_of(scope["headers"])
        outcome.span = self.tracing.start_server_span(
            scope["method"], scope.get("scheme", "http"), scope.get("http_version", "1.1"), traceparent, tracestate
        )
        return context.attach(trace.set_span_in_context(outcome.span))

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, route: CompiledRoute, path: RequestPath, outcome: Outcome
    ) -> None:
        """Check the request against `route` and proxy it."""
        method: str = scope["method"]
        if method not in PROXIED_METHODS:
            raise problems.method_not_allowed(_ALLOW)
        try:
            headers = read_client_headers(scope["headers"])
        except InvalidHeaderError as error:
            raise problems.bad_request("invalid-header", str(error)) from None
        length = _declared_length(headers.content_length)
        limits = route.route
        if length is not None and length > limits.max_body_bytes:
            raise problems.payload_too_large(limits.max_body_bytes)
        forwarding = forwarding_for(
            headers,
            peer=outcome.client_ip,
            scheme=scope.get("scheme", "http"),
            trusted=self.trusted_proxies,
            prefix=limits.stripped or None,
        )
        outcome.client_ip = forwarding.client_ip  # from here on, refusals too are logged with the real client
        principal = None
        if limits.auth == "required":
            principal = await self.auth.authenticate(headers.authorization, route.audience, limits.scopes)
        response_headers: list[tuple[bytes, bytes]] = []
        policy = route.rate_policy
        if policy is not None:
            key = f"client:{principal.client_id}" if principal is not None else f"ip:{forwarding.client_ip}"
            decision = await self.limiter.acquire(key, policy)
            if not decision.allowed:
                raise problems.too_many_requests(rate_limit_headers(decision, policy))
            response_headers = rate_limit_fields(decision, policy)
        forward = headers.forward
        if outcome.span is not None:
            # The upstream gets the traceparent of the gateway's client span instead (see gateway.tracing).
            forward = [(name, value) for name, value in forward if name not in TRACE_HEADERS]
        request_id = scope.get("state", {}).get("request_id") or new_request_id()
        has_body = headers.chunked or bool(length)
        query: bytes = scope.get("query_string", b"")
        target = route.upstream_path(path).encode("ascii")
        if query:
            target += b"?" + query
        request = UpstreamRequest(
            method=method,
            target=target,
            headers=[*forward, *forwarding.headers, (b"x-request-id", request_id.encode("ascii"))],
            body=RequestBody(receive, limit=limits.max_body_bytes, timeout=limits.body_timeout) if has_body else None,
            declared_length=length,
            response_headers=response_headers,
        )
        try:
            await self.proxy.forward(request, route, receive, send, outcome)
        except ProblemError as problem:
            # Answers of the gateway on this route carry its rate-limit state as well.
            for name, value in response_headers:
                problem.headers.setdefault(name.decode(), value.decode())
            if problem.status == 413 and request.body is not None:
                await request.body.drain()
            raise
        finally:
            if request.body is not None:
                outcome.bytes_received = request.body.received

    async def _own_endpoint(self, label: str, scope: Scope, receive: Receive, send: Send, started: float) -> None:
        status = 500
        sent = 0

        async def noting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.api(scope, receive, noting_send)
        finally:
            # kit's middleware counts these in the metrics; only the access log is left to do.
            if self.access_log:
                outcome = Outcome(status=status, bytes_sent=sent, client_ip=_peer(scope))
                _log_access(scope, label, None, outcome, time.perf_counter() - started)


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def _declared_length(values: list[bytes]) -> int | None:
    try:
        return declared_length([(b"content-length", value) for value in values])
    except InvalidContentLengthError:
        raise problems.invalid_content_length() from None


def _path_problem(error: InvalidPathError) -> ProblemError:
    if error.too_long:
        return problems.uri_too_long(error.reason)
    return problems.bad_request("invalid-path", error.reason)


def _log_access(scope: Scope, route: str, upstream: CompiledRoute | None, outcome: Outcome, seconds: float) -> None:
    # Never the path, query or headers: they may carry tokens or personal data. The route says enough.
    if not access_logger.isEnabledFor(logging.INFO):
        return
    access_logger.info(
        "%s %s %d",
        scope["method"],
        route,
        outcome.status,
        extra={
            "method": scope["method"],
            "route": route,
            "upstream": upstream.upstream if upstream is not None else None,
            "status": outcome.status,
            "duration_ms": round(seconds * 1000, 3),
            "bytes_received": outcome.bytes_received,
            "bytes_sent": outcome.bytes_sent,
            "attempts": outcome.attempts,
            "aborted": outcome.aborted,
            "client_ip": outcome.client_ip,
        },
    )
