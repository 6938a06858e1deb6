"""Request bodies of the OAuth endpoints: ``application/x-www-form-urlencoded`` in UTF-8 (RFC 6749 Appendix B).

Parsed here rather than by FastAPI, because a malformed request must get an OAuth ``invalid_request``
and not a problem document, and because the rules are OAuth's own: a parameter without a value counts
as absent (§3.1) and a parameter may appear only once (§3.1, §3.2) — except those that are lists by
definition, like RFC 8707 ``resource``. Unknown parameters are ignored (§3.1, §3.2).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import parse_qsl

from starlette.requests import Request

from services.identity.oauth.errors import OAuthError

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
#: Token requests are a few hundred bytes; this bounds the work a request can cause.
MAX_FORM_BYTES = 16 * 1024
MAX_PARAMETERS = 64
MAX_VALUE_LENGTH = 8 * 1024
#: Names safe to repeat in an error description (which must not echo arbitrary input).
_PARAMETER_NAME = re.compile(r"[a-z_]{1,40}")


def form_request_body(schema: dict[str, object]) -> dict[str, object]:
    """``openapi_extra`` documenting a form-encoded request body."""
    return {"requestBody": {"required": True, "content": {FORM_MEDIA_TYPE: {"schema": schema}}}}


class Form:
    """The parameters of one form body."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    def get(self, name: str) -> str | None:
        """The parameter's one value, or None when it is absent."""
        values = self._values.get(name)
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        """Every value of a repeatable parameter."""
        return list(self._values.get(name, ()))

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def single_values(self) -> dict[str, str]:
        """Each parameter's first value (for forms whose parameters may not repeat anyway)."""
        return {name: values[0] for name, values in self._values.items()}


async def read_form(request: Request, repeatable: Collection[str] = ()) -> Form:
    """The form body of `request`; :class:`OAuthError` ``invalid_request`` when it is not one."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise OAuthError("invalid_request", f"the request body must be {FORM_MEDIA_TYPE}")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise OAuthError("invalid_request", "the request body is too large")
    return parse_form(body, repeatable)


def parse_form(body: bytes, repeatable: Collection[str] = ()) -> Form:
    """The parameters of a form-encoded body (see the module documentation for the rules)."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=False, strict_parsing=False, errors="strict", max_num_fields=MAX_PARAMETERS
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise OAuthError("invalid_request", "the request body is not valid form encoding in UTF-8") from error
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        if len(value) > MAX_VALUE_LENGTH:
            raise OAuthError("invalid_request", "a parameter value is too long")
        if name in values and name not in repeatable:
            shown = name if _PARAMETER_NAME.fullmatch(name) else "a parameter"
            raise OAuthError("invalid_request", f"{shown} appears more than once")
        values.setdefault(name, []).append(value)
    return Form(values)
