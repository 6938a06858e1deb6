"""Rendering of the HTML pages: one Jinja environment with autoescaping, and the headers every page gets."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, Response

from services.identity.runtime import get_identity
from services.identity.web.csrf import csrf_token

STYLESHEET_PATH = "/static/identity.css"
_HERE = Path(__file__).parent
_STYLESHEET = (_HERE / "static" / "identity.css").read_bytes()

#: No scripts, no frames, no foreign sources. ``form-action`` is left out on purpose: browsers apply it to
#: the redirect after a form post too, and the consent form ends in a redirect to the client.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_environment = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

router = APIRouter(include_in_schema=False)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page `template` (a file in ``web/templates``) filled with `context`.

    Every template gets ``base`` (the issuer URL, for links and form actions), ``stylesheet`` and
    ``csrf_token`` (for the hidden field of each form; it also sets the CSRF cookie if the browser has none).
    """
    identity = get_identity(request)
    token, new_cookie = csrf_token(identity, request)
    values = {
        "base": identity.issuer,
        "stylesheet": identity.url(STYLESHEET_PATH),
        "csrf_token": token,
        **(context or {}),
    }
    body = _environment.get_template(template).render(values)
    response = HTMLResponse(body, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})
    if new_cookie is not None:
        new_cookie(response)
    return response


def message_page(request: Request, title: str, text: str, *, status_code: int = 200) -> HTMLResponse:
    """A page that only says something (a confirmation, or an error a person can read)."""
    return render(request, "message.html", {"title": title, "text": text}, status_code=status_code)


@router.get(STYLESHEET_PATH)
async def stylesheet() -> Response:
    """The pages' only stylesheet."""
    return Response(_STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=86400"})
