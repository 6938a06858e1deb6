"""Prometheus metrics: the HTTP server metrics, the event metrics, and the `/metrics` endpoint.

The metric objects live on the default registry, once per process; every series carries the
``service`` label, so several apps in one process (the test suite) share them without clashing.
HTTP series are labelled by route template (``/things/{id}``), never by the raw path, so that the
number of series stays bounded whatever clients send.
"""

from __future__ import annotations

import time
from typing import Final

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED_ROUTE: Final = "<unmatched>"
#: Methods outside this set are counted as OTHER: a client can send any token as a method.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})

http_server_requests_total = Counter(
    "http_server_requests_total",
    "HTTP requests answered, by route template and status code.",
    ["service", "method", "route", "status"],
)
http_server_request_duration_seconds = Histogram(
    "http_server_request_duration_seconds",
    "Time from receiving an HTTP request to sending the last byte of its response.",
    ["service", "method", "route"],
)

outbox_relayed_total = Counter(
    "outbox_relayed_total", "Outbox rows published to Kafka by the relay.", ["service", "topic"]
)
outbox_relay_errors_total = Counter(
    "outbox_relay_errors_total", "Relay rounds that failed (broker or database unavailable).", ["service"]
)
outbox_pending = Gauge("outbox_pending", "Outbox rows not yet published.", ["service"])
events_consumed_total = Counter(
    "events_consumed_total",
    "Kafka records a consumer finished with, by outcome (handled, duplicate, ignored, retried, dead_lettered).",
    ["service", "topic", "outcome"],
)
event_handling_seconds = Histogram(
    "event_handling_seconds", "Time a consumer spent handling one event.", ["service", "topic"]
)


class MetricsMiddleware:
    """Pure ASGI middleware counting and timing every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp, service_name: str) -> None:
        self.app = app
        self.service_name = service_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets when the app raises before responding
        started = time.perf_counter()

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
        route = route_template(scope)
        http_server_requests_total.labels(self.service_name, method, route, str(status)).inc()
        http_server_request_duration_seconds.labels(self.service_name, method, route).observe(seconds)


def route_template(scope: Scope) -> str:
    """The template of the route that matched the request (the router notes it in the scope)."""
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) else UNMATCHED_ROUTE


def metrics_router() -> APIRouter:
    """``GET /metrics`` in the Prometheus text format, left out of the OpenAPI document."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router


def mount_metrics(app: FastAPI, service_name: str) -> None:
    """Measure every request to `app` and serve the metrics at ``/metrics``."""
    app.add_middleware(MetricsMiddleware, service_name=service_name)
    app.include_router(metrics_router())
