"""Request ids: one id per HTTP request, taken from the caller when it is sane, echoed in the response
and available to logging through :func:`current_request_id`.

The id a caller (or the gateway) sends is kept so that one id follows a request across services; it
is only accepted when it is a short token, because it ends up in log lines and response headers.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
MAX_REQUEST_ID_LENGTH = 128

_SANE_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_REQUEST_ID_LENGTH}}}")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled in this context, or None outside a request."""
    return _request_id.get()


def new_request_id() -> str:
    """A fresh random request id (32 hex digits)."""
    return uuid.uuid4().hex


def accept_request_id(candidate: str | None) -> str:
    """`candidate` if it is a sane request id (≤128 of ``[A-Za-z0-9._:-]``), else a fresh one.

    An insane id is replaced rather than rejected: the request itself is fine, only its id is not
    usable, and log injection (newlines, control characters) must not get through.
    """
    if candidate is not None and _SANE_REQUEST_ID.fullmatch(candidate):
        return candidate
    return new_request_id()


class RequestIdMiddleware:
    """Pure ASGI middleware giving each request an id (add it outermost, so every response has it).

    The id is set in a context variable for the request's duration, stored as
    ``request.state.request_id`` and sent back in the ``X-Request-ID`` response header.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        token = _request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            _request_id.reset(token)
