"""A bound on request bodies, enforced before the app reads more than the limit.

A declared ``Content-Length`` above the limit is answered at once, without calling the app. A body
without one (chunked) is counted as the app reads it: the moment it passes the limit the client
gets the 413 and the app is told the client has gone, so it never sees the rest. Nothing is
buffered here; the app streams the body as before.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.http.problems import ProblemError, problem_response

# The client may still be sending a huge body; closing the connection spares reading it.
_CLOSE = {"Connection": "close"}


def payload_too_large(max_bytes: int) -> ProblemError:
    """The 413 problem of a body larger than `max_bytes`."""
    return ProblemError(
        413,
        "payload-too-large",
        "Content Too Large",
        f"The request body is larger than {max_bytes} bytes.",
        headers=dict(_CLOSE),
    )


def invalid_content_length() -> ProblemError:
    """The 400 problem of a Content-Length header that is not one non-negative integer."""
    return ProblemError(
        400,
        "invalid-content-length",
        "Invalid Content-Length",
        "The Content-Length header must be a single non-negative integer.",
        headers=dict(_CLOSE),
    )


class InvalidContentLengthError(ValueError):
    """A Content-Length header that cannot be trusted."""


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The body length the request declares (ASGI raw headers), None when it declares none.

    Repeated or comma-separated values are accepted only when identical (RFC 9110, 8.6); anything
    but ASCII digits is refused rather than parsed leniently (``int()`` would accept "+5" or "5_0"),
    because a proxy in front may have read the header differently.
    """
    values = [
        part.strip() for name, value in headers if name.lower() == b"content-length" for part in value.split(b",")
    ]
    if not values:
        return None
    if any(not value.isdigit() for value in values) or len(set(values)) != 1:
        raise InvalidContentLengthError
    return int(values[0])


class BodySizeLimitMiddleware:
    """Pure ASGI middleware answering 413 to request bodies larger than `max_bytes`.

    `path_limits` raises or lowers the bound below some path prefixes (an upload or bulk route); the
    longest matching prefix wins.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, path_limits: Mapping[str, int] | None = None) -> None:
        limits = dict(path_limits or {})
        if max_bytes < 0 or any(limit < 0 for limit in limits.values()):
            raise ValueError("body limits must not be negative")
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = sorted(limits.items(), key=lambda item: len(item[0]), reverse=True)

    def limit_for(self, path: str) -> int:
        """The bound on bodies sent to `path`."""
        for prefix, limit in self.path_limits:
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            length = declared_length(scope.get("headers", []))
        except InvalidContentLengthError:
            await problem_response(invalid_content_length(), scope.get("path"))(scope, receive, send)
            return
        max_bytes = self.limit_for(scope.get("path", ""))
        if length is not None and length > max_bytes:
            await problem_response(payload_too_large(max_bytes), scope.get("path"))(scope, receive, send)
            return
        await _CountingExchange(self.app, max_bytes, scope, receive, send).run()


class _CountingExchange:
    """One request whose body is counted while the app reads it."""

    def __init__(self, app: ASGIApp, max_bytes: int, scope: Scope, receive: Receive, send: Send) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.scope = scope
        self.receive = receive
        self.send = send
        self.received = 0
        self.exceeded = False
        self.response_started = False
        self.answered = False

    async def run(self) -> None:
        await self.app(self.scope, self.counting_receive, self.guarded_send)

    async def counting_receive(self) -> Message:
        if self.exceeded:
            return {"type": "http.disconnect"}
        message = await self.receive()
        if message["type"] != "http.request":
            return message
        self.received += len(message.get("body", b""))
        if self.received <= self.max_bytes:
            return message
        self.exceeded = True
        if not self.response_started:
            self.answered = True
            response = problem_response(payload_too_large(self.max_bytes), self.scope.get("path"))
            await response(self.scope, self.receive, self.send)
        # The app stops reading as if the client had gone; what it answers then is dropped below.
        return {"type": "http.disconnect"}

    async def guarded_send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.response_started = True
        await self.send(message)
