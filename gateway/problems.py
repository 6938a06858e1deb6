"""The problem documents the gateway answers with itself, each with a stable ``type``.

Details name the route's rule that was broken, never an upstream's address or an exception's text.
"""

from __future__ import annotations

import math

from kit.http.body_limit import invalid_content_length, payload_too_large
from kit.http.problems import ProblemError

# invalid_content_length and payload_too_large are kit's, re-exported so that all the gateway's are here.
__all__ = [
    "bad_request",
    "body_timeout",
    "circuit_open",
    "client_closed",
    "invalid_content_length",
    "method_not_allowed",
    "no_route",
    "payload_too_large",
    "too_many_requests",
    "upstream_timeout",
    "upstream_unavailable",
    "uri_too_long",
]

#: Status logged (never sent) when the client went away before its answer: nginx's convention.
CLIENT_CLOSED_STATUS = 499
#: The client may still be sending; closing the connection spares reading the rest.
_CLOSE = {"Connection": "close"}


def bad_request(slug: str, detail: str) -> ProblemError:
    """400 for a request the gateway will not pass on (path, headers)."""
    return ProblemError(400, slug, "Bad Request", detail)


def uri_too_long(detail: str) -> ProblemError:
    """414 for a path longer than the gateway accepts."""
    return ProblemError(414, "uri-too-long", "URI Too Long", detail)


def no_route() -> ProblemError:
    """404 for a path no route matches."""
    return ProblemError(404, "not-found", "Not Found", "No route matches this path.")


def method_not_allowed(allowed: str) -> ProblemError:
    """405 for a method the gateway does not forward."""
    return ProblemError(
        405,
        "method-not-allowed",
        "Method Not Allowed",
        "The gateway does not forward this method.",
        headers={"Allow": allowed},
    )


def body_timeout(seconds: float) -> ProblemError:
    """408 for a body the client did not finish sending in time."""
    return ProblemError(
        408,
        "request-timeout",
        "Request Timeout",
        f"The request body was not received within {seconds:g} s.",
        headers=dict(_CLOSE),
    )


def client_closed() -> ProblemError:
    """The client went away; logged with status 499, never sent."""
    return ProblemError(CLIENT_CLOSED_STATUS, "client-closed-request", "Client Closed Request")


def too_many_requests(headers: dict[str, str]) -> ProblemError:
    """429 with the rate-limit headers of the denial (``Retry-After`` among them)."""
    return ProblemError(
        429,
        "too-many-requests",
        "Too Many Requests",
        "The rate limit of this route is exhausted; retry later.",
        headers=headers,
    )


def upstream_unavailable(upstream: str) -> ProblemError:
    """502 for an upstream that cannot be reached or broke off its answer."""
    return ProblemError(502, "upstream-unavailable", "Bad Gateway", f"The {upstream} service is not reachable.")


def circuit_open(upstream: str, retry_after: float) -> ProblemError:
    """503 while the upstream's circuit breaker is open."""
    return ProblemError(
        503,
        "upstream-circuit-open",
        "Service Unavailable",
        f"The {upstream} service is failing; requests to it are paused.",
        headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
    )


def upstream_timeout(upstream: str) -> ProblemError:
    """504 for an upstream that did not answer within the route's timeout."""
    return ProblemError(504, "upstream-timeout", "Gateway Timeout", f"The {upstream} service did not answer in time.")
