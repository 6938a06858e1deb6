"""The gateway's Prometheus metrics.

Proxied requests are counted in the suite's own HTTP series (``http_server_requests_total`` and
``http_server_request_duration_seconds`` with ``service="gateway"``), labelled by the route's prefix —
never by the raw path, which a client chooses and which would make the number of series unbounded.
The gateway's own endpoints are counted there too, by kit's middleware, under their route templates.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from kit.telemetry.metrics import http_server_request_duration_seconds, http_server_requests_total

__all__ = [
    "INVALID_PATH_ROUTE",
    "UNMATCHED_ROUTE",
    "circuit_state",
    "observe_request",
    "route_table_reloads_total",
    "upstream_attempt",
    "upstream_attempts_total",
    "upstream_retries_total",
]

SERVICE: Final = "gateway"
#: Route label of a request no route matched, and of one whose path was refused.
UNMATCHED_ROUTE: Final = "<unmatched>"
INVALID_PATH_ROUTE: Final = "<invalid>"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

upstream_attempts_total = Counter(
    "gateway_upstream_attempts_total",
    "Requests sent to an upstream (retries included), by outcome: the status class, connect_error or timeout.",
    ["upstream", "outcome"],
)
upstream_retries_total = Counter("gateway_upstream_retries_total", "Retries of idempotent requests.", ["upstream"])
circuit_state = Gauge(
    "gateway_circuit_state", "State of an upstream's circuit breaker: 0 closed, 1 open, 2 half-open.", ["upstream"]
)
route_table_reloads_total = Counter(
    "gateway_route_table_reloads_total", "Attempts to reload the route table, by outcome (ok, error).", ["outcome"]
)


def upstream_attempt(upstream: str, outcome: str) -> Counter:
    """The counter of `upstream`'s attempts with `outcome` (looked up once per label set)."""
    key = (upstream, outcome)
    counter = _attempts.get(key)
    if counter is None:
        counter = _attempts[key] = upstream_attempts_total.labels(upstream, outcome)
    return counter


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one request the gateway answered without FastAPI (proxied or refused at the edge)."""
    key = (method if method in _KNOWN_METHODS else "OTHER", route, status)
    series = _series.get(key)
    if series is None:
        # Looked up once per label set: labels() costs more than the counting itself on the hot path.
        # The label sets are bounded (methods x route prefixes x statuses), and so is this cache.
        series = (
            http_server_requests_total.labels(SERVICE, key[0], route, str(status)),
            http_server_request_duration_seconds.labels(SERVICE, key[0], route),
        )
        _series[key] = series
    series[0].inc()
    series[1].observe(seconds)


_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
_attempts: dict[tuple[str, str], Counter] = {}
