"""CSRF protection of the HTML forms: a signed double-submit token.

The browser holds a random value in an HttpOnly cookie; each form carries ``csrf_token``, an HMAC of that
value under the server's page secret. A cross-site page can neither read the cookie nor compute the HMAC,
and ``SameSite=Lax`` keeps the cookie off cross-site posts anyway. ``Sec-Fetch-Site: cross-site`` is refused
outright where browsers send it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from fastapi import Request

from kit.http.problems import ProblemError
from services.identity.runtime import Identity
from services.identity.web.cookies import SetCookie, cookie_name, set_cookie

CSRF_COOKIE = "bd_csrf"
CSRF_FIELD = "csrf_token"


def csrf_token(identity: Identity, request: Request) -> tuple[str, SetCookie | None]:
    """The token for this browser's forms, and a setter for the cookie if the browser has none yet."""
    value = request.cookies.get(cookie_name(identity, CSRF_COOKIE))
    if value is not None and 16 <= len(value) <= 64:
        return _sign(identity, value), None
    value = secrets.token_urlsafe(24)
    return _sign(identity, value), lambda response: set_cookie(response, identity, CSRF_COOKIE, value)


def check_csrf(identity: Identity, request: Request, submitted: str | None) -> None:
    """Refuse (403) a form post whose token does not belong to this browser's cookie."""
    value = request.cookies.get(cookie_name(identity, CSRF_COOKIE))
    cross_site = request.headers.get("sec-fetch-site") == "cross-site"
    if cross_site or value is None or submitted is None or not hmac.compare_digest(_sign(identity, value), submitted):
        raise ProblemError(
            403,
            "csrf",
            "Formular abgelaufen",
            "Das Formular ist abgelaufen oder stammt nicht von dieser Seite. Bitte laden Sie die Seite neu.",
        )


def _sign(identity: Identity, value: str) -> str:
    digest = hmac.new(identity.page_secret, value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
